import type { Logger } from 'pino';
import { OxError } from './ox-error.js';

export interface RetryPolicy {
  /** Tries per request, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the call fails at once. */
  maxRetryAfterMs: number;
}

/**
 * Full-jitter exponential backoff (AWS architecture blog): a uniformly random delay between 0 and
 * min(cap, base * 2^(retry-1)). Spreads the retries of many workers hitting one OX node.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** Retry-After as delta-seconds or an HTTP-date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Waits `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryContext {
  operation: string;
  policy: RetryPolicy;
  signal?: AbortSignal;
  log?: Logger;
  random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, fails with an error that is not retryable, or the tries are
 * used up. Only `OxError`s with `retryable` are tried again; an abort ends the loop at once,
 * also while waiting. The final error records how many tries were made.
 */
export async function withRetries<T>(context: RetryContext, attempt: (tryNumber: number) => Promise<T>): Promise<T> {
  const { operation, policy, signal, log } = context;
  for (let tryNumber = 1; ; tryNumber++) {
    if (signal?.aborted) throw abortedError(operation, signal.reason);
    try {
      return await attempt(tryNumber);
    } catch (err) {
      if (!(err instanceof OxError)) throw err;
      if (!err.retryable || err.kind === 'aborted' || tryNumber >= policy.attempts) throw err.withAttempts(tryNumber);
      let delay: number;
      if (err.retryAfterMs !== undefined) {
        if (err.retryAfterMs > policy.maxRetryAfterMs) {
          throw new OxError({
            ...err.detailsForRetry(),
            retryable: true,
            attempts: tryNumber,
            hint: `server asked to retry after ${Math.ceil(err.retryAfterMs / 1000)} s, longer than ox.retry.maxRetryAfterMs (${policy.maxRetryAfterMs} ms)`,
          });
        }
        delay = err.retryAfterMs;
      } else {
        delay = backoffDelay(tryNumber, policy, context.random);
      }
      log?.warn(
        { operation, attempt: tryNumber, status: err.status, kind: err.kind, delayMs: delay },
        `OX ${operation}: retrying in ${delay} ms (${err.message})`,
      );
      try {
        await sleep(delay, signal);
      } catch (abortReason) {
        throw abortedError(operation, abortReason);
      }
    }
  }
}

export function abortedError(operation: string, reason: unknown): OxError {
  const why = reason instanceof Error ? reason.message : reason === undefined ? '' : String(reason);
  return new OxError({ operation, kind: 'aborted', retryable: false, reason: `aborted${why ? ` (${why})` : ''}`, cause: reason });
}
