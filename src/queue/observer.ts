/**
 * What the queue reports while it works, in an interface the queue owns: the layer above
 * (http/metrics.ts, as Prometheus metrics) implements it, so nothing in queue/ imports http/.
 */

/** How one attempt (or a skipped tick of a non-windowed schedule) ended. */
export type AttemptResult = 'done' | 'failed' | 'retry' | 'skipped' | 'aborted';

/** Told of attempts as they end and of retry rounds as the retry clock queues them. */
export interface QueueObserver {
  /** An attempt ended; a done one's `value` is the job kind's result (its `rows` / `bytes` count). */
  recordAttempt(kind: string, schedule: string, result: AttemptResult, durationMs: number, value?: unknown): void;
  /** A failed window was queued again for a new round of attempts. */
  recordRetryRound(schedule: string): void;
}

/** Per-schedule figures read at scrape time (so a stuck scheduler shows as growing lag). */
export interface ScheduleFigures {
  scheduleId: string;
  watermarkLagSeconds?: number;
  failedWindows: number;
  gapWindows: number;
  /** Done windows the purge found incomplete and queued for re-export. */
  reexportWindows?: number;
  overdueWindows?: number;
  /** A non-windowed schedule whose last run failed, or was refused. */
  lastRunFailure?: 'failed' | 'refused';
  /** The schedule's job kind. */
  job?: string;
}
