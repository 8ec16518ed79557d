/**
 * Public option and data types of the OX simulator (agreed in the cross-helper contract).
 * ox-simulator.ts re-exports everything here.
 */

export interface BasicCredential {
  user: string;
  password: string;
}

export interface SimCredentials {
  /** null: the server has no REST credentials → 403 on every /userfeedback and /advertisement request. */
  rest?: BasicCredential | null;
  /** Context administrators, per context id. */
  contextAdmins?: Record<string, BasicCredential>;
  /** Master admin (MASTER_ACCOUNT_OVERRIDE) for passwd-changes; null disables the override. */
  master?: BasicCredential | null;
}

/**
 * One scripted answer: a status, 'drop-mid-body' (an export cut after `dropExportAfterBytes`, default
 * 1024), `{ dropAfterBytes }` (this export cut after that many body bytes, the next ones whole),
 * 'login-page' (200 `text/html` with a sign-in form, as an SSO proxy or load balancer in front of
 * OX answers once its session ran out; the request never reaches OX: nothing is deleted or sent),
 * or 'ok'.
 */
export type FaultScriptEntry =
  number | { status: number; retryAfterSeconds?: number } | { dropAfterBytes: number } | 'drop-mid-body' | 'login-page' | 'ok';

export interface FaultOptions {
  /** Added before every answer. */
  latencyMs?: number;
  /** 0..1 share of requests answered with `errorStatus`. */
  errorRate?: number;
  errorStatus?: 500 | 502 | 503 | 504 | 429;
  /** Sent as `Retry-After` with 429/503 errors. */
  retryAfterSeconds?: number;
  /** The next matching requests, in order; consumed one entry per request. */
  script?: FaultScriptEntry[];
  /** Exports: destroy the socket after this many body bytes. */
  dropExportAfterBytes?: number;
  /** Exports: throttle the body to this rate. */
  slowBodyBytesPerSecond?: number;
  /** Every matching request gets the `login-page` answer (see FaultScriptEntry). */
  loginPage?: boolean;
  /** Faults apply only to request paths starting with this. */
  pathPrefix?: string;
  /** Faults apply only to requests of this HTTP method (e.g. DELETE). */
  method?: string;
  /** Seed of the PRNG behind `errorRate` (default 1), so a failing run can be replayed. */
  seed?: number;
}

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Default rest oxadmin/secret, no context admins, master oxadminmaster/master. */
  credentials?: SimCredentials;
  /** Where `send` mails through (nodemailer URL); absent → send answers 500 FEEDBACK-0007. */
  smtpUrl?: string;
  /** Sender of `send` mails. Default `OX App Suite <userfeedback@ox-sim.invalid>`. */
  mailFrom?: string;
  /**
   * Server-side PGP signing for `send`: true → recipients without key are `sign`, with key `pgp`;
   * 'invalid' → send answers 500 FEEDBACK-0010. Default off (`normal` / `encrypt`).
   */
  pgpSigning?: boolean | 'invalid';
  /** Password changes kept per user (default 10). */
  historySize?: number;
  /** Older OX answer variants. */
  legacy?: { deleteProse?: boolean; sendProse?: boolean };
  faults?: FaultOptions;
  /** File path or object, format in issue 2 §4. */
  fixture?: string | SimFixture;
  /** Context groups that have a global database besides `default` and groups holding feedback. */
  contextGroups?: string[];
  /** No global database at all: every feedback call answers 500 FEEDBACK-0005. */
  noGlobalDatabase?: boolean;
  /** passwd-changes feature disabled: 404 with empty body. */
  passwdChangesDisabled?: boolean;
  /** Request-log entries kept (oldest dropped first); default 100000, so a long benchmark stays small. */
  requestLogLimit?: number;
}

/** One star-rating-v1 or nps-v1 row as stored. */
export interface FeedbackInput {
  contextGroup?: string;
  /** Default star-rating-v1. */
  type?: string;
  date: number;
  contextId: number;
  userId: number;
  /** star-rating-v1: an integer >= 1 (1..5 stars); nps-v1: 0..10, 0 included. */
  score: number | string;
  /** nps-v1 only: the question id 0..3 (raw key `questionid`, CSV column `Question`); absent → "". */
  questionid?: number | string;
  comment?: string;
  app?: string;
  entry_point?: string;
  operating_system?: string;
  browser?: string;
  browser_version?: string;
  user_agent?: string;
  screen_resolution?: string;
  language?: string;
  server_version?: string;
  client_version?: string;
  /**
   * Raw-export keys a newer OX would add (key → value): the raw export carries them after the
   * known keys of this row; the CSV export keeps the type's columns (tests of clients that must
   * not drop what they do not know).
   */
  extraKeys?: Record<string, string>;
}

export interface SimUser {
  contextId: number;
  userId: number;
  login: string;
  /** Guests have no password history: passwd-changes answers 404. */
  guest?: boolean;
}

export interface SimPasswordChange {
  contextId: number;
  userId: number;
  date: number;
  client_id: string;
  client_address: string;
}

export interface SimFixture {
  feedback?: FeedbackInput[];
  users?: SimUser[];
  passwordChanges?: SimPasswordChange[];
  credentials?: SimCredentials;
  /** Advertisement configs already stored, same shape as `adConfigs()` ("ctx/user", "reseller/package"). */
  adConfigs?: { users?: Record<string, unknown>; packages?: Record<string, unknown> };
}

export interface SimRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  /** 0 until answered; stays 0 when the connection was dropped before any answer. */
  status: number;
  /** Basic-auth user name the request carried (never the password). */
  authUser?: string;
}
