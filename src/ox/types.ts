/**
 * The OX REST API as ox-batch sees it: one typed method per operation of the 7.8.4 reference.
 * Windows are half-open [start, end) here; the client translates to OX's exclusive bounds.
 * Implemented by `OxClient` (ox-client.ts) over undici.
 */
import type { Readable } from 'node:stream';

/** Epoch milliseconds or a Date. */
export type Instant = Date | number;

export interface CallOptions {
  signal?: AbortSignal;
}

export interface FeedbackTarget {
  /** Context group, default `default`. */
  contextGroup?: string;
  /** Feedback type, default `star-rating-v1`. */
  type?: string;
}

/** Half-open window [start, end). `start` absent or 0: from the beginning; `end` absent: open. */
export interface FeedbackWindow {
  start?: Instant;
  end?: Instant;
}

export type FeedbackQuery = FeedbackTarget & FeedbackWindow & CallOptions;

/** One raw-export record: every value is a string, a missing field is "". */
export type RawFeedbackRecord = Record<string, string>;

export interface SendRecipient {
  address: string;
  displayName?: string;
  /** ASCII-armoured public key: OX encrypts for this recipient. */
  pgp_key?: string;
}

export interface SendRequest extends FeedbackQuery {
  recipients: SendRecipient[];
  subject?: string;
  body?: string;
  compress?: boolean;
}

/** Send's answer, by mode. A 200 can still hold `fail` / `pgpFail` entries. */
export interface SendResult {
  normal: string[];
  sign: string[];
  encrypt: string[];
  pgp: string[];
  fail: string[];
  pgpFail: string[];
  /** Older servers answer prose instead of JSON; kept verbatim. */
  message?: string;
}

export interface DeleteResult {
  successful: boolean;
  contextGroup?: string;
  type?: string;
  start?: number;
  end?: number;
  /** An early OX answered text/plain prose; kept verbatim. */
  message?: string;
}

/** Outcome of a single-entry advertisement PUT/DELETE, from the HTTP status. */
export type AdWriteOutcome = 'created' | 'updated' | 'deleted' | 'nothing-to-delete';

export interface ResellerPackageConfig {
  package: string;
  /** `null` deletes that package's config. */
  config: unknown;
}

export interface ResellerEntryResult {
  status: 'CREATED' | 'UPDATED' | 'DELETED' | 'IGNORED' | 'ERROR';
  error?: string;
}

export interface PasswordChange {
  /** Epoch ms. */
  date: number;
  client_id: string;
  client_name?: string;
  client_address: string;
}

export interface OxApi {
  /** OX's CSV bytes, untouched (BOM, quoting, lone-CR rows). */
  exportCsv(query: FeedbackQuery & { delimiter?: string }): Promise<Readable>;
  /** The raw JSON export, parsed incrementally: constant memory for any array length. */
  exportRaw(query: FeedbackQuery): AsyncIterable<RawFeedbackRecord>;
  /**
   * The CSV export read to its end by `consume`. A body that breaks off (connection reset, body
   * timeout) is requested again from the beginning under the client's retry policy (attempts,
   * backoff with jitter, Retry-After), so `consume` must start over each time it is called: a
   * fresh spool, hash and row count. The answer says how many retries it took.
   */
  readExportCsv<T>(query: FeedbackQuery & { delimiter?: string }, consume: (body: Readable) => Promise<T>): Promise<Retried<T>>;
  /** The raw export's bytes, unparsed (for transcoders that read them directly), read like `readExportCsv`. */
  readExportRawBody<T>(query: FeedbackQuery, consume: (body: Readable) => Promise<T>): Promise<Retried<T>>;
  /** The raw export, read like `readExportCsv`: started again from the beginning when it breaks off. */
  readExportRaw<T>(query: FeedbackQuery, consume: (records: AsyncIterable<RawFeedbackRecord>) => Promise<T>): Promise<Retried<T>>;
  sendFeedback(request: SendRequest): Promise<SendResult>;
  deleteFeedback(query: FeedbackQuery): Promise<DeleteResult>;

  setUserConfig(args: { contextId: number; userId: number; config: unknown } & CallOptions): Promise<AdWriteOutcome>;
  deleteUserConfig(args: { contextId: number; userId: number } & CallOptions): Promise<AdWriteOutcome>;
  setNameConfig(args: { contextId: number; name: string; config: unknown } & CallOptions): Promise<AdWriteOutcome>;
  deleteNameConfig(args: { contextId: number; name: string } & CallOptions): Promise<AdWriteOutcome>;
  setPackageConfig(args: { reseller: string; package: string; config: unknown } & CallOptions): Promise<AdWriteOutcome>;
  deletePackageConfig(args: { reseller: string; package: string } & CallOptions): Promise<AdWriteOutcome>;
  /** Per-entry results in input order; a 200 can hold ERROR entries. */
  setResellerConfigs(args: { reseller: string; entries: ResellerPackageConfig[] } & CallOptions): Promise<ResellerEntryResult[]>;

  passwordChanges(args: { contextId: number; userId: number; limit?: number; sort?: string } & CallOptions): Promise<PasswordChange[]>;

  /** Base URL without credentials, for manifests and logs. */
  readonly baseUrl: string;
  close(): Promise<void>;
}

/** What a read that may be started again produced, and how many retries (tries after the first) it took. */
export interface Retried<T> {
  value: T;
  retries: number;
}

/** Called once per HTTP request (each retry counts), for metrics. */
export type OxRequestObserver = (event: { operation: string; status: number | 'network'; durationMs: number }) => void;
