import { scrubText } from '../log/secrets.js';

export type OxErrorKind = 'http' | 'network' | 'timeout' | 'aborted' | 'protocol';

/**
 * ox-batch's own stable codes for answers that are not what OX documents (OX's own error codes are
 * in `code`): `OXB_UNEXPECTED_ANSWER` a 200 whose body is not OX's answer (an HTML login page of a
 * proxy, an empty body, `successful` false, another feed); `OXB_ANSWER_TOO_LARGE` an answer over
 * `ox.maxAnswerBytes`. Neither is retried blindly: the same request gets the same answer.
 */
export type OxAnswerCode = 'OXB_UNEXPECTED_ANSWER' | 'OXB_ANSWER_TOO_LARGE';

export interface OxErrorDetails {
  operation: string;
  kind: OxErrorKind;
  retryable: boolean;
  status?: number;
  /** Set for answers that are not OX's (see OxAnswerCode). */
  answerCode?: OxAnswerCode;
  /** OX error object fields, when the server sent one. */
  code?: string;
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

/**
 * The one error every OX call fails with. It carries what an operator needs to act (HTTP status,
 * OX `code`, `error_desc`, and the `error_id` a server admin greps for in the OX log) and whether
 * trying again can help. The message is built only from these fields, scrubbed: never a credential.
 */
export class OxError extends Error {
  override readonly name = 'OxError';
  readonly status?: number;
  readonly operation: string;
  readonly code?: string;
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
    this.code = details.code;
    this.errorDesc = details.errorDesc === undefined ? undefined : scrubText(details.errorDesc);
    this.errorId = details.errorId;
    this.attempts = details.attempts;
    this.retryAfterMs = details.retryAfterMs;
    this.notSent = details.notSent === true;
    this.#details = details;
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
  if (d.code) parts.push(d.code);
  if (d.errorDesc) parts.push(`- ${d.errorDesc}`);
  if (d.errorId) parts.push(`(error_id ${d.errorId})`);
  if (d.hint) parts.push(`- ${d.hint}`);
  if (d.attempts && d.attempts > 1) parts.push(`[after ${d.attempts} attempts]`);
  return parts.join(' ');
}

export function isOxError(err: unknown): err is OxError {
  return err instanceof OxError;
}
