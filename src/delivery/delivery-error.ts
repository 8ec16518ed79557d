/**
 * A failed archive or mail delivery. `retryable` tells the worker whether another attempt can
 * succeed (a 5xx, a refused connection) or not (access denied, a rejected recipient); messages
 * never carry credentials.
 */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(message: string, readonly retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
  }
}
