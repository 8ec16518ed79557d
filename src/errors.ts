/**
 * The one error family of ox-batch, modelled on undici's `lib/core/errors.js`: every error class
 * of the code base extends `OxBatchError` and says itself
 *  - `code`: a stable `OXB_*` name (README "Exit codes and error codes"), for logs and callers
 *    that must not depend on a message's wording;
 *  - `retryable`: whether the same work, tried again, can succeed;
 *  - `permanent`: whether no later attempt of a job can fix it (the ledger marks the window
 *    permanent, BullMQ fails the job for good); `!retryable` unless the class says otherwise;
 *  - `exitCode`: what a command exits with when it fails with it (2 input or refused, 1 the rest).
 * Callers classify by class (`instanceof`) or these members, never by `name` or a duck-typed field.
 * Classes without dependencies live here; those whose message needs a module's helpers (OX
 * details, window arithmetic) stay in their module and extend a class from here, so this file
 * imports nothing and every layer may use it.
 */

/**
 * Exit codes every command shares: 0 success, 1 the server or network failed (after retries),
 * 2 usage or input error (nothing was changed).
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export type ExitCode = typeof EXIT_OK | typeof EXIT_FAILURE | typeof EXIT_USAGE;

/** Every code of the family, each with the class that carries it (README "Exit codes and error codes" lists them). */
export const ERROR_CODES = [
  // exit 2: bad input, nothing was changed
  'OXB_INPUT', // InputError: config, catalog, CLI arguments, job params, files
  'OXB_CATALOG_INVALID', // CatalogError (ads/parse-catalog.ts): an advertisement catalog with problems
  'OXB_WINDOW_CONFLICT', // WindowConflictError (queue/attempt.ts): a window starting where another is recorded
  // exit 2: refused, nothing was changed
  'OXB_REFUSED', // RefusedError: a guard tripped (a refused purge, an archive that differs)
  'OXB_LOCKED_PARAM', // LockedParamError: params that differ from the schedule's configuration
  'OXB_WINDOW_OPEN', // OpenWindowError (queue/closed-window.ts): a window that has not closed yet
  'OXB_WINDOW_BUSY', // WindowBusyError (queue/attempt.ts): the window runs elsewhere
  // exit 1: OX failed (OxError, ox/ox-error.ts; the code follows from its kind)
  'OXB_OX_HTTP', // OX answered with an HTTP error status
  'OXB_OX_NETWORK', // the request did not get an answer (refused, reset, the client closed)
  'OXB_OX_TIMEOUT', // the answer did not come in time
  'OXB_OX_ABORTED', // the request was aborted (shutdown, cancel): the job goes back to the queue
  'OXB_OX_PROTOCOL', // an answer that is not what OX documents (malformed, not an array)
  'OXB_UNEXPECTED_ANSWER', // a 200 whose body is not OX's answer (a proxy's login page, an empty body)
  'OXB_ANSWER_TOO_LARGE', // an answer over ox.maxAnswerBytes
  'OXB_MALFORMED_JSON', // JsonArrayFormatError (ox/json-array-stream.ts): a JSON array stream that breaks the syntax
  // exit 1: the rest
  'OXB_DELIVERY', // DeliveryError: archive (file system, S3) or mail (SMTP) delivery failed
  'OXB_MAIL_BUSY', // MailBusyError: another live run is sending this window's mail
  'OXB_CATALOG_UNAVAILABLE', // a catalog read that failed transiently, after its retries (ads/catalog-source.ts)
  'OXB_ADS_INCOMPLETE', // AdsSyncIncompleteError (ads/sync-ads.ts): OX failed some entries of a sync
  'OXB_ATTEMPT_FAILED', // AttemptError (queue/attempt.ts): a job's attempt failed, recorded in the ledger; exit, retry as its cause
  'OXB_LEDGER', // LedgerUpdateError: the ledger's script answered what no transition answers
  'OXB_REDIS_UNAVAILABLE', // RedisUnavailableError: Redis did not answer within the deadline
  'OXB_COLUMNS_GREW', // ColumnsGrew (export/raw-columns.ts): an export restarts with a wider header
] as const;
export type OxBatchErrorCode = (typeof ERROR_CODES)[number];

/**
 * `OXB_JOB_DATA_REFUSED` is the code of RefusedJobDataError (queue/job-data.ts), which extends
 * BullMQ's UnrecoverableError instead (BullMQ fails a job for good by that class), so not this base.
 */
export type JobDataRefusedCode = 'OXB_JOB_DATA_REFUSED';

export abstract class OxBatchError extends Error {
  abstract readonly code: OxBatchErrorCode;
  /** The same work, tried again, can succeed (a retry loop goes on; the worker uses another attempt). */
  abstract readonly retryable: boolean;

  /** No later attempt can fix it: the window is marked permanent, the job fails for good. */
  get permanent(): boolean {
    return !this.retryable;
  }

  /** What a command that fails with this error exits with. */
  get exitCode(): ExitCode {
    return EXIT_FAILURE;
  }
}

/**
 * Bad input from a person or a file: config, catalog, CLI arguments, job params.
 * Never retried; the message is one line that names the file/field/value.
 */
export class InputError extends OxBatchError {
  override readonly name = 'InputError';
  readonly code: OxBatchErrorCode = 'OXB_INPUT';
  get retryable(): boolean {
    return false;
  }
  override get exitCode(): ExitCode {
    return EXIT_USAGE;
  }
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A job ran and decided it must not go on (a refused purge, a guard tripped). Not retried. */
export class RefusedError extends OxBatchError {
  override readonly name = 'RefusedError';
  readonly code: OxBatchErrorCode = 'OXB_REFUSED';
  get retryable(): boolean {
    return false;
  }
  override get exitCode(): ExitCode {
    return EXIT_USAGE;
  }
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Params a schedule's runs must take from its configuration differ there (queue/locked-params.ts). */
export class LockedParamError extends RefusedError {
  override readonly code: OxBatchErrorCode = 'OXB_LOCKED_PARAM';
}

/**
 * A failed archive or mail delivery. `retryable` is the delivery's own verdict: another attempt
 * can succeed (a 5xx, a refused connection) or not (access denied, a rejected recipient);
 * messages never carry credentials.
 */
export class DeliveryError extends OxBatchError {
  override readonly name = 'DeliveryError';
  readonly code: OxBatchErrorCode = 'OXB_DELIVERY';
  /** Mail: the server provably did not take the message (refused, never connected). */
  readonly notSent: boolean;
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown; notSent?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.notSent = options?.notSent === true;
  }
}

/**
 * A window's mail to some address is being sent by another live run (its claim's lease runs):
 * the attempt goes back to the queue until `retryAt`, without using an attempt.
 */
export class MailBusyError extends DeliveryError {
  override readonly code: OxBatchErrorCode = 'OXB_MAIL_BUSY';
  constructor(
    message: string,
    readonly retryAt: number,
  ) {
    super(message, true);
  }
}

/** The ledger's script answered something no transition answers: a bug or a foreign key. Another try may pass. */
export class LedgerUpdateError extends OxBatchError {
  override readonly name = 'LedgerUpdateError';
  readonly code: OxBatchErrorCode = 'OXB_LEDGER';
  readonly retryable = true;
}

/** Redis did not become ready within the deadline; the message names the credential-free URL. */
export class RedisUnavailableError extends OxBatchError {
  override readonly name = 'RedisUnavailableError';
  readonly code: OxBatchErrorCode = 'OXB_REDIS_UNAVAILABLE';
  readonly retryable = true;
}

/** Bad input or a refusal: nothing was changed, the command exits 2, no retry can fix it. */
export function isInputError(err: unknown): err is InputError | RefusedError {
  return err instanceof InputError || err instanceof RefusedError;
}

/** No later attempt can fix `err`. An error from outside the family (a bug, a library's) is not permanent: the attempts decide. */
export function isPermanent(err: unknown): boolean {
  return err instanceof OxBatchError && err.permanent;
}

/** The error says itself that trying again can help. Outside the family nothing is known, so no. */
export function isRetryable(err: unknown): boolean {
  return err instanceof OxBatchError && err.retryable;
}

/** The exit code of a command that failed with `err`: the class's, 1 for anything else. */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof OxBatchError ? err.exitCode : EXIT_FAILURE;
}
