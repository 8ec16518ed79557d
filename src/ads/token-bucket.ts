/**
 * Caps the request rate towards OX: `ratePerSecond` tokens per second, at most `burst` saved up.
 * A caller that finds no token reserves the next one (the balance goes negative) and sleeps
 * until it is due, so waiting callers are served in order without a polling loop.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst = Math.max(1, Math.ceil(ratePerSecond / 10)),
  ) {
    this.tokens = burst;
    this.updatedAt = performance.now();
  }

  /** Resolves when the caller may send one request; rejects when `signal` aborts. */
  async take(signal?: AbortSignal): Promise<void> {
    if (!(this.ratePerSecond > 0)) return;
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.ratePerSecond) / 1000);
    this.updatedAt = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return;
    await sleep((-this.tokens * 1000) / this.ratePerSecond, signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
