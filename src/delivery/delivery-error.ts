/**
 * A failed archive or mail delivery. `retryable` tells the worker whether another attempt can
 * succeed (a 5xx, a refused connection) or not (access denied, a rejected recipient); messages
 * never carry credentials.
 */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  /** Mail: the server provably did not take the message (refused, never connected). */
  readonly notSent: boolean;
  constructor(message: string, readonly retryable: boolean, options?: { cause?: unknown; notSent?: boolean }) {
    super(message, options);
    this.notSent = options?.notSent === true;
  }
}

/**
 * A window's mail to some address is being sent by another live run (its claim's lease runs):
 * the attempt goes back to the queue until `retryAt`, without using an attempt.
 */
export class MailBusyError extends DeliveryError {
  constructor(message: string, readonly retryAt: number) {
    super(message, true);
  }
}
