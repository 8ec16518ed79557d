import { OxBatchError, type OxBatchErrorCode } from '../errors.js';
import { scrubText } from '../log/secrets.js';

export type OxErrorKind = 'http' | 'network' | 'timeout' | 'aborted' | 'protocol';

/**
 * ox-batch's own stable codes for answers that are not what OX documents, and then the error's
 * `code` (OX's own error codes are in `oxCode`): `OXB_UNEXPECTED_ANSWER` a 200 whose body is not
 * OX's answer (an HTML login page of a proxy, an empty body, `successful` false, another feed);
 * `OXB_ANSWER_TOO_LARGE` an answer over `ox.maxAnswerBytes`. Neither is retried blindly: the same
 * request gets the same answer.
 */
export type OxAnswerCode = 'OXB_UNEXPECTED_ANSWER' | 'OXB_ANSWER_TOO_LARGE';

export interface OxErrorDetails {
  operation: string;
  kind: OxErrorKind;
  retryable: boolean;
  status?: number;
  /** Set for answers that are not OX's (see OxAnswerCode). */
  answerCode?: OxAnswerCode;
  /** OX error object fields, when the server sent one (`oxCode` is OX's `code`, e.g. FEEDBACK-0003). */
  oxCode?: string;
  errorDesc?: string;
  errorId?: string;
  /** The HTTP reason phrase or a short description of what went wrong. */
  reason?: string;
  /** Where the message can point a person (a config key, a server property). */
  hint?: string;
  /** Tries made, when more than one. */
  attempts?: number;
  /** The server's Retry-After, in ms. */
  retryAfterMs?: number;
  /**
   * The request provably did not take effect on OX (it was refused with a 4xx or 503 before the
   * resource ran, or never reached the server): a `send` that failed so mailed nobody.
   */
  notSent?: boolean;
  cause?: unknown;
}

/** The family's code of each kind of OX failure (an answer code, when set, is more precise). */
const CODE_OF_KIND: Record<OxErrorKind, OxBatchErrorCode> = {
  http: 'OXB_OX_HTTP',
  network: 'OXB_OX_NETWORK',
  timeout: 'OXB_OX_TIMEOUT',
  aborted: 'OXB_OX_ABORTED',
  protocol: 'OXB_OX_PROTOCOL',
};

/**
 * The one error every OX call fails with. It carries what an operator needs to act (HTTP status,
 * OX's code, `error_desc`, and the `error_id` a server admin greps for in the OX log) and whether
 * trying again can help. The message is built only from these fields, scrubbed: never a credential.
 * `retryable` is the OX client's verdict on this request (its status, whether it is idempotent,
 * whether it was sent), so it is given with the details, not fixed by the class.
 */
export class OxError extends OxBatchError {
  override readonly name = 'OxError';
  readonly status?: number;
  readonly operation: string;
  /** OX's own error code (`FEEDBACK-0003`); `code` is ox-batch's (OXB_OX_HTTP …). */
  readonly oxCode?: string;
  readonly errorDesc?: string;
  readonly errorId?: string;
  readonly retryable: boolean;
  readonly kind: OxErrorKind;
  readonly answerCode?: OxAnswerCode;
  readonly attempts?: number;
  readonly retryAfterMs?: number;
  readonly notSent: boolean;
  readonly #details: OxErrorDetails;

  constructor(details: OxErrorDetails) {
    super(scrubText(describe(details)), details.cause === undefined ? undefined : { cause: details.cause });
    this.operation = details.operation;
    this.kind = details.kind;
    this.retryable = details.retryable;
    this.status = details.status;
    this.answerCode = details.answerCode;
    this.oxCode = details.oxCode;
    this.errorDesc = details.errorDesc === undefined ? undefined : scrubText(details.errorDesc);
    this.errorId = details.errorId;
    this.attempts = details.attempts;
    this.retryAfterMs = details.retryAfterMs;
    this.notSent = details.notSent === true;
    this.#details = details;
  }

  get code(): OxBatchErrorCode {
    return this.answerCode ?? CODE_OF_KIND[this.kind];
  }

  /** An abort is not retried by the OX client, yet not permanent either: the job goes back to the queue. */
  override get permanent(): boolean {
    return !this.retryable && this.kind !== 'aborted';
  }

  /** The same error, noting how many tries were made before giving up. */
  withAttempts(attempts: number): OxError {
    if (attempts <= 1) return this;
    return new OxError({ ...this.#details, attempts });
  }

  /** The fields this error was built from, for the retry loop to rebuild it with a new hint. */
  detailsForRetry(): OxErrorDetails {
    return { ...this.#details };
  }
}

function describe(d: OxErrorDetails): string {
  const parts: string[] = [`OX ${d.operation} failed:`];
  if (d.status !== undefined) parts.push(`HTTP ${d.status}${d.reason ? ` ${d.reason}` : ''}`);
  else if (d.reason) parts.push(d.reason);
  if (d.answerCode) parts.push(`[${d.answerCode}]`);
  if (d.oxCode) parts.push(d.oxCode);
  if (d.errorDesc) parts.push(`- ${d.errorDesc}`);
  if (d.errorId) parts.push(`(error_id ${d.errorId})`);
  if (d.hint) parts.push(`- ${d.hint}`);
  if (d.attempts && d.attempts > 1) parts.push(`[after ${d.attempts} attempts]`);
  return parts.join(' ');
}

export function isOxError(err: unknown): err is OxError {
  return err instanceof OxError;
}
