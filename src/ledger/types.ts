/**
 * The window ledger: ox-batch's own record of what ran, kept in Redis under the configured prefix.
 * BullMQ schedulers only trigger; the ledger is the source of truth for which windows are done,
 * what each produced (the artifact manifest, the verified archive object) and who was mailed.
 * Implemented by `RedisLedger` (redis-ledger.ts); code outside src/ledger/ sees only `Ledger`
 * (built by `createLedger`, create-ledger.ts).
 */

export type WindowState = 'queued' | 'running' | 'done' | 'failed';

export interface WindowKey {
  /** Schedule id, or the job name for an unscheduled run. */
  scheduleId: string;
  /** Half-open [start, end) in UTC epoch ms. */
  start: number;
  end: number;
}

export interface WindowRecord extends WindowKey {
  job: string;
  state: WindowState;
  attempts: number;
  queuedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  lastError?: string;
  /** What the job returned when it finished (JSON). For feedback.export: an `ExportResult`. */
  result?: unknown;
  jobId?: string;
  /** Who runs the window now (`run:<host>:<pid>`, `worker:<host>:<pid>:<id>`) and until when it holds it. */
  owner?: string;
  leaseUntil?: number;
  /** The purge found OX holding rows this window's archive lacks: it is re-exported (flagReexport). */
  reexport?: ReexportFlag;
  /** A failed window whose error no retry can fix (bad input, OX 4xx): left to an operator. */
  permanent?: boolean;
  /** How often the retry clock queued this window again after it failed (rounds of attempts). */
  retryRounds?: number;
  /** The record was removed by `ledger.keepDone`: the window was done (result and deliveries gone). */
  trimmed?: true;
}

/** Old done windows removed by `ledger.keepDone`: every window in [from, through) was done. */
export interface TrimmedRange {
  from: number;
  through: number;
  /** Windows trimmed so far. */
  windows: number;
}

/** One exactly-once side effect of a window (an archive object, a mail to one recipient set). */
export interface DeliveryRecord {
  at: number;
  [detail: string]: unknown;
}

/** A run of a non-windowed job (ads sync, purge), newest first in `lastAttempts`. */
export interface AttemptRecord {
  job: string;
  scheduleId: string;
  state: 'done' | 'failed';
  startedAt: number;
  finishedAt: number;
  result?: unknown;
  error?: string;
}

/** Why a done window must be exported again (the purge's count before its DELETE). */
export interface ReexportFlag {
  /** Epoch ms; also the re-export job's id, so it is queued once. */
  flaggedAt: number;
  /** Rows OX holds in the window now, and rows its archive holds. */
  oxRows: number;
  archivedRows: number;
  /** The purge schedule that found it. */
  by: string;
}

export type BeginResult =
  | { started: true; attempt?: number; replacesDone?: { result: unknown } }
  | { started: false; result: unknown }
  | { started: false; conflictEnd: number }
  | { started: false; busy: { owner: string; leaseUntil?: number; startedAt?: number } };

/**
 * What the rest of ox-batch asks of the ledger: the queue (ticks, enqueue, workers, manual
 * attempts, status and the window grid), the jobs (through `JobContext.ledger`), the purge and the
 * CLI. Exactly these and nothing more; each state change is one command of
 * `src/ledger/commands/` (see "The window ledger's states" in docs/architecture.md).
 */
export interface Ledger {
  getWindow(key: WindowKey): Promise<WindowRecord | null>;
  /** Windows of a schedule sorted by start, optionally those overlapping [from, to). */
  listWindows(scheduleId: string, range?: { from?: number; to?: number }): Promise<WindowRecord[]>;
  /** Windows whose last attempt failed, oldest first. */
  failedWindows(scheduleId: string): Promise<WindowRecord[]>;
  failedCount(scheduleId: string): Promise<number>;

  /**
   * Marks a window queued; returns whether it changed. Without `force` a window that is done or
   * running keeps its state (a late tick must not undo a finished attempt).
   */
  markQueuedIfOpen(key: WindowKey, job: string, jobId: string, options?: { force?: boolean }): Promise<boolean>;
  /** The retry clock queues a failed window again: its round (1, 2, …), or 0 when it is no longer failed. */
  markRetryRound(key: WindowKey, job: string, jobId: string): Promise<number>;
  /** A worker starts a window (attempt counted by BullMQ), holding it by a lease when `owner` is given. */
  beginWindow(
    key: WindowKey,
    job: string,
    attempt: number,
    options?: { force?: boolean; owner?: string; leaseUntil?: number },
  ): Promise<BeginResult>;
  /** `ox-batch run` starts a window and holds it by a lease. */
  beginManual(key: WindowKey, job: string, options: { owner: string; leaseUntil: number; force?: boolean }): Promise<BeginResult>;
  renewLease(key: WindowKey, owner: string, leaseUntil: number): Promise<boolean>;
  markDone(key: WindowKey, job: string, result: unknown): Promise<void>;
  /**
   * markDone without waiting for the reply: `sent` resolves once the write is on the ledger's
   * connection (a command sent on it afterwards runs after it in Redis); `applied` settles with
   * Redis' answer.
   */
  markDoneInOrder(key: WindowKey, job: string, result: unknown): { sent: Promise<void>; applied: Promise<void> };
  /** `permanent`: no retry can fix it; the retry clock leaves it to an operator. */
  markFailed(key: WindowKey, job: string, error: string, options?: { permanent?: boolean }): Promise<void>;
  /** A try failed and another follows: queued again, with the error. */
  markRetrying(key: WindowKey, job: string, error: string): Promise<void>;
  /** BullMQ failed the window's job without the processor recording it (stalled too often). */
  markAbandoned(key: WindowKey, job: string, error: string): Promise<boolean>;

  /** End of the contiguous run of done windows starting at `startAt`; `startAt` when none is done. */
  watermark(scheduleId: string, startAt: number): Promise<number>;
  /** The old done windows `ledger.keepDone` removed; undefined when none were. */
  trimmedRange(scheduleId: string): Promise<TrimmedRange | undefined>;
  /** `ledger.keepDone`: removes done windows ending at or before `olderThan`; returns how many. */
  trimDone(scheduleId: string, origin: number, olderThan: number, options?: { maxWindows?: number }): Promise<number>;

  getDelivery(key: WindowKey, deliveryId: string): Promise<DeliveryRecord | null>;
  listDeliveries(key: WindowKey): Promise<Record<string, DeliveryRecord>>;
  recordDelivery(key: WindowKey, deliveryId: string, record: DeliveryRecord): Promise<void>;
  claimMail(key: WindowKey, owner: string, request: MailClaimRequest): Promise<MailClaim[]>;
  settleMail(
    key: WindowKey,
    owner: string,
    outcome: 'sent' | 'release' | 'unknown',
    entries: ReadonlyArray<{ address: string; record?: DeliveryRecord }>,
  ): Promise<void>;
  openMailClaims(now: number): Promise<OpenMailClaim[]>;

  flagReexport(key: WindowKey, flag: ReexportFlag): Promise<boolean>;
  clearReexport(key: WindowKey, flaggedAt: number): Promise<boolean>;
  reexportFlags(scheduleId: string): Promise<Array<WindowKey & { flag: ReexportFlag }>>;

  recordAttempt(run: AttemptRecord): Promise<void>;
  lastAttempts(scheduleId: string, count?: number): Promise<AttemptRecord[]>;
}

/** What a mail claim found for one address (ledger/commands/claimMail-2.lua). */
export interface MailClaim {
  address: string;
  /** claimed / reclaimed: send it (reclaimed: again, after its sender died); the others: do not. */
  status: 'claimed' | 'reclaimed' | 'sent' | 'busy' | 'unknown';
  /** The Message-ID to send with (a reclaimed one keeps the first send's). */
  messageId: string;
  /** busy: until when the other run holds it. */
  leaseUntil?: number;
}

export interface MailClaimRequest {
  addresses: readonly string[];
  via: 'smtp' | 'ox';
  /** For new claims; reclaimed ones keep theirs. */
  messageId: string;
  leaseUntil: number;
  /** Send `unknown` ones again (an operator's --force). */
  force?: boolean;
  /** Only extend this owner's own claims (while it sends); create or take over nothing. */
  renewOnly?: boolean;
}

/** A mail claim not settled yet, for `ox-batch status`. */
export interface OpenMailClaim {
  scheduleId: string;
  start: number;
  address: string;
  /** in-flight: its sender's lease runs; unknown: the sender died or was cut off mid-send. */
  state: 'in-flight' | 'unknown';
  owner?: string;
  via?: string;
  messageId?: string;
  leaseUntil?: number;
}

/** The exactly-once log of the window a job is running, handed to the job. */
export interface DeliveryLog {
  get(deliveryId: string): Promise<DeliveryRecord | null>;
  record(deliveryId: string, record: Omit<DeliveryRecord, 'at'> & { at?: number }): Promise<void>;
  /** Claims each address for this run before mailing it (atomic across runs of the window). */
  claimMail(request: MailClaimRequest): Promise<MailClaim[]>;
  /**
   * After the send: `sent` records each address (with its delivery record); `release` gives the
   * claims back (the mail provably did not go out); `unknown` marks them interrupted.
   */
  settleMail(
    outcome: 'sent' | 'release' | 'unknown',
    entries: ReadonlyArray<{ address: string; record?: Omit<DeliveryRecord, 'at'> }>,
  ): Promise<void>;
}
