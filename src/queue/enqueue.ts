/**
 * Putting windows and runs on the queue without ever running a done window twice. The job id
 * is deterministic per (schedule, window), and the ledger decides: a done window is left alone
 * (unless forced), a failed one is retried, a pending one is not added again. Automatic callers
 * (a tick, the retry clock) pass the schedule's retry policy: a failed window is then queued
 * again only once `retryFailedAfter` has passed since it failed, not when its error was
 * permanent, and not after `maxRetries` rounds; an operator's enqueue/backfill queues it at once.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Job, Queue } from 'bullmq';
import type { Config } from '../config/schema.js';
import type { AnyJobKind } from '../job-kind.js';
import type { Ledger, WindowRecord } from '../ledger/types.js';
import { assertWindowClosed } from './closed-window.js';
import { assertParamsAsConfigured } from './locked-params.js';
import { validateParams } from './schedules.js';
import { forcedWindowJobId, reexportJobId, slotJobId, windowJobId } from './job-ids.js';
import { PENDING_STATES, jobOptions, type JobData, type RunJobData, type WindowJobData } from './queues.js';
import type { Window } from '../time/windows.js';
import { inWindowTrace } from '../telemetry/tracing.js';

export interface EnqueueContext {
  queue: Queue<JobData>;
  ledger: Ledger;
  config: Config;
  now?: () => number;
}

export interface WindowRequest {
  scheduleId: string;
  kind: AnyJobKind;
  window: Window;
  params: unknown;
  attempts: number;
  force?: boolean;
  /**
   * A re-export the purge asked for (the flag's `flaggedAt`): forced, with a job id of its own
   * per flag, so a tick that sees the flag again adds nothing while that job exists.
   */
  reexport?: number;
  /** Set by automatic callers (tick, retry clock): when a failed window may be queued again. */
  retry?: RetryPolicy;
}

export interface RetryPolicy {
  /** Time since the window failed before it is queued again. */
  afterMs: number;
  /** Rounds before it is left to an operator; undefined: unlimited. */
  maxRounds?: number;
}

/**
 * queued: a new job; requeued: a failed job retried; pending: already waiting or running;
 * done: the ledger has it done (nothing added). Only with a retry policy, for failed windows:
 * retry-later: its retry is not due yet; permanent: its error needs an operator; exhausted:
 * `maxRetries` rounds were used up.
 */
export type EnqueueStatus = 'queued' | 'requeued' | 'pending' | 'done' | 'retry-later' | 'permanent' | 'exhausted';

type FailedRecord = Pick<WindowRecord, 'permanent' | 'finishedAt' | 'retryRounds'>;

/** What the retry policy says about a failed window: undefined when it is due now. */
export function retryVerdict(
  record: FailedRecord,
  policy: RetryPolicy,
  now: number,
): 'retry-later' | 'permanent' | 'exhausted' | undefined {
  if (record.permanent) return 'permanent';
  const due = nextRetryAt(record, policy);
  if (due === undefined) return 'exhausted';
  return now < due ? 'retry-later' : undefined;
}

/** When a failed window's next retry round is due; undefined when none will come (permanent, rounds used up). */
export function nextRetryAt(record: FailedRecord, policy: RetryPolicy): number | undefined {
  if (record.permanent) return undefined;
  if (policy.maxRounds !== undefined && (record.retryRounds ?? 0) >= policy.maxRounds) return undefined;
  return (record.finishedAt ?? 0) + policy.afterMs;
}

export interface EnqueueResult {
  jobId: string;
  window?: Window;
  status: EnqueueStatus;
  /** A failed window queued again by the retry clock: which round this is (1, 2, …). */
  retryRound?: number;
}

export async function enqueueWindow(ctx: EnqueueContext, request: WindowRequest): Promise<EnqueueResult> {
  const { queue, ledger, config } = ctx;
  const now = ctx.now?.() ?? Date.now();
  const { scheduleId, kind, window } = request;
  // The closed-window rule: nothing queues a window that has not closed (closed-window.ts).
  assertWindowClosed(config, scheduleId, window, now);
  assertParamsAsConfigured(kind, config, scheduleId, validateParams(kind, request.params, `schedule ${scheduleId}`));
  const key = { scheduleId, start: window.start, end: window.end };
  const reexport = request.reexport;
  const force = request.force === true || reexport !== undefined;
  const jobId =
    reexport !== undefined
      ? reexportJobId(scheduleId, window, reexport)
      : force
        ? forcedWindowJobId(scheduleId, window, now)
        : windowJobId(scheduleId, window);
  const data: WindowJobData = {
    type: 'window',
    scheduleId,
    job: kind.name,
    start: window.start,
    end: window.end,
    params: request.params,
    ...(force ? { force } : {}),
    ...(reexport !== undefined ? { reexport } : {}),
  };
  if (reexport !== undefined) {
    const existing = (await queue.getJob(jobId)) as Job<JobData> | undefined;
    if (existing) {
      const state = await existing.getState();
      if (state !== 'failed') return { jobId, window, status: PENDING_STATES.has(state) ? 'pending' : 'done' };
      await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).catch(() => undefined);
      return { jobId, window, status: 'requeued' };
    }
  }

  // An automatic retry of a failed window claims its round in the ledger (one replica wins).
  let retryRound = false;
  if (!force) {
    const record = await ledger.getWindow(key);
    // A window the purge flagged for re-export is only ever queued as that re-export (a plain
    // export would find its archive intact and different, and be refused).
    if (record?.reexport) return enqueueWindow(ctx, { ...request, reexport: record.reexport.flaggedAt });
    if (record?.state === 'done') return { jobId, window, status: 'done' };
    if (record?.state === 'failed' && request.retry) {
      // finishedAt is written with the ledger's (real) clock: compare with the same clock.
      const verdict = retryVerdict(record, request.retry, Date.now());
      if (verdict) return { jobId, window, status: verdict };
      retryRound = true;
    }
    const existing = (await queue.getJob(jobId)) as Job<JobData> | undefined;
    if (existing) {
      const state = await existing.getState();
      if (PENDING_STATES.has(state)) return { jobId, window, status: 'pending' };
      if (state === 'failed' && !isDeepStrictEqual(existing.data.params, request.params)) {
        // Queued with other params (the configuration changed since): a new job with today's.
        await existing.remove().catch(() => undefined);
      } else if (state === 'failed') {
        let round = 0;
        if (retryRound) {
          round = await ledger.markRetryRound(key, kind.name, jobId);
          if (round === 0) return { jobId, window, status: 'pending' };
        } else {
          await ledger.markQueuedIfOpen(key, kind.name, jobId);
        }
        try {
          // A fresh set of attempts (with backoff): the tick's retry is a new try, not the last one.
          await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          return { jobId, window, status: 'requeued', ...(round > 0 ? { retryRound: round } : {}) };
        } catch {
          // Another replica retried it first, or it was trimmed meanwhile: fall through to add
          // (the round is claimed already).
          if (round > 0) {
            await queue.add(kind.name, data, jobOptions(config, request.attempts, jobId)).catch(() => undefined);
            return { jobId, window, status: 'requeued', retryRound: round };
          }
          retryRound = false;
        }
      } else if (state === 'completed') {
        // Completed in BullMQ but not done in the ledger (the ledger write was lost): run again.
        await existing.remove().catch(() => undefined);
      }
    }
  }
  if (retryRound) {
    // The failed job was trimmed from BullMQ: a new job for the round.
    const round = await ledger.markRetryRound(key, kind.name, jobId);
    if (round === 0) return { jobId, window, status: 'pending' };
    await queue.add(kind.name, data, jobOptions(config, request.attempts, jobId));
    return { jobId, window, status: 'requeued', retryRound: round };
  }
  await ledger.markQueuedIfOpen(key, kind.name, jobId, { force });
  // Each window is a trace of its own (telemetry/tracing.ts), carried by BullMQ to the worker.
  await inWindowTrace(scheduleId, kind.name, window, () => queue.add(kind.name, data, jobOptions(config, request.attempts, jobId)));
  return { jobId, window, status: 'queued' };
}

/** Many windows (a backfill, a catch-up), a few at a time; results in window order. */
export async function enqueueWindows(
  ctx: EnqueueContext,
  requests: WindowRequest[],
  options: { concurrency?: number; onEach?: (result: EnqueueResult) => void } = {},
): Promise<EnqueueResult[]> {
  // Refuse a range holding an open or future window before anything is queued.
  const now = ctx.now?.() ?? Date.now();
  for (const request of requests) {
    assertWindowClosed(ctx.config, request.scheduleId, request.window, now);
    assertParamsAsConfigured(
      request.kind,
      ctx.config,
      request.scheduleId,
      validateParams(request.kind, request.params, `schedule ${request.scheduleId}`),
    );
  }
  const results: EnqueueResult[] = new Array(requests.length);
  let next = 0;
  const lanes = Math.max(1, Math.min(options.concurrency ?? 16, requests.length));
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < requests.length) {
        const index = next++;
        const result = await enqueueWindow(ctx, requests[index]!);
        results[index] = result;
        options.onEach?.(result);
      }
    }),
  );
  return results;
}

export interface RunRequest {
  scheduleId: string;
  kind: AnyJobKind;
  params: unknown;
  attempts: number;
  /** Trigger time; the job id is derived from it, so a retried tick adds nothing new. */
  at: number;
}

export async function enqueueRun(ctx: EnqueueContext, request: RunRequest): Promise<EnqueueResult> {
  const jobId = slotJobId(request.scheduleId, request.at);
  const data: RunJobData = { type: 'run', scheduleId: request.scheduleId, job: request.kind.name, params: request.params };
  const existing = await ctx.queue.getJob(jobId);
  if (existing) return { jobId, status: PENDING_STATES.has(await existing.getState()) ? 'pending' : 'done' };
  await ctx.queue.add(request.kind.name, data, jobOptions(ctx.config, request.attempts, jobId));
  return { jobId, status: 'queued' };
}

export type EnqueueSummary = Record<'queued' | 'requeued' | 'pending' | 'done', number> & Partial<Record<EnqueueStatus, number>>;

/** Counts of a batch of results by status; the retry-policy statuses only when they occur. */
export function summarize(results: EnqueueResult[]): EnqueueSummary {
  const summary: EnqueueSummary = { queued: 0, requeued: 0, pending: 0, done: 0 };
  for (const r of results) summary[r.status] = (summary[r.status] ?? 0) + 1;
  return summary;
}
