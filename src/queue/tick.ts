/**
 * One tick of a schedule, run when its BullMQ Job Scheduler fires. BullMQ only triggers: it
 * neither catches up missed slots nor knows windows. The tick looks at the clock and the
 * ledger and queues every closed window after the watermark — at most `catchUp` of the newest —
 * that is not done; older windows that are still missing are reported as gaps (log + metric)
 * for an operator to backfill. Failed windows are queued again here once their retry is due
 * (`retryFailedAfter`, see retryFailedWindows), done ones never.
 * Non-windowed schedules queue one run, or skip it while the previous one is still in flight
 * (`overlap: skip`).
 */
import type { Queue } from 'bullmq';
import type { Logger } from '../log/logger.js';
import type { QueueObserver } from './observer.js';
import type { Ledger } from '../ledger/types.js';
import {
  enqueueRun,
  enqueueWindow,
  enqueueWindows,
  retryVerdict,
  summarize,
  type EnqueueContext,
  type EnqueueResult,
  type EnqueueStatus,
  type EnqueueSummary,
  type RetryPolicy,
  type WindowRequest,
} from './enqueue.js';
import { catchUpTickJobId } from './job-ids.js';
import { PENDING_STATES, type TickData } from './queues.js';
import type { Schedule } from './schedules.js';
import type { ScheduleState } from './schedule-state.js';
import { describeWindow, lastClosedWindow, previousWindow, windowsBetween, type Window } from '../time/windows.js';
import { inSpan } from '../telemetry/tracing.js';

export interface TickContext extends EnqueueContext {
  ledger: Ledger;
  state: ScheduleState;
  log: Logger;
  now: () => number;
  /** Told how each attempt ends (the daemon passes its metrics). */
  observer?: QueueObserver;
}

export interface TickReport {
  scheduleId: string;
  outcome: 'paused' | 'nothing-closed' | 'queued' | 'skipped-overlap' | 'busy';
  origin?: number;
  watermark?: number;
  /** Windows the tick looked at (newest `catchUp` after the watermark), with what happened. */
  windows?: Array<{ start: number; end: number; status: EnqueueStatus }>;
  counts?: EnqueueSummary;
  /** Not-done windows after the watermark but older than the catch-up range. */
  gaps: number;
  jobId?: string;
}

const TICK_LOCK_MS = 60_000;
/** How long a trigger waits for the tick lock before it gives up (reported as `busy`). */
const TICK_WAIT_MS = 30_000;

/**
 * `firedAt`: the trigger's slot time (the BullMQ scheduler's fire time). A non-windowed run's job
 * id is derived from it, so a tick that BullMQ retries, or a second tick of the same slot, adds
 * no second run. Without it (a tick run by hand) the current time is used.
 */
export async function tickSchedule(ctx: TickContext, schedule: Schedule, firedAt?: number): Promise<TickReport> {
  if (schedule.paused || (await ctx.state.isPaused(schedule.id))) {
    ctx.log.info({ schedule: schedule.id }, 'schedule is paused; tick skipped');
    return { scheduleId: schedule.id, outcome: 'paused', gaps: (await ctx.state.lastTick(schedule.id))?.gaps ?? 0 };
  }
  // A trigger waits for a tick in progress (another replica's, a catch-up, the retry clock)
  // instead of being dropped: what closed since that one looked is queued by this one.
  // A span per tick (traces on only): the windows it queues are traces of their own, linked to it.
  const report = await inSpan(`tick ${schedule.id}`, { 'oxb.schedule': schedule.id, 'oxb.job': schedule.kind.name }, () =>
    ctx.state.withTickLock(
      schedule.id,
      TICK_LOCK_MS,
      () => (schedule.window ? tickWindowed(ctx, schedule) : tickRun(ctx, schedule, firedAt)),
      TICK_WAIT_MS,
    ),
  );
  return report ?? { scheduleId: schedule.id, outcome: 'busy', gaps: 0 };
}

async function tickWindowed(ctx: TickContext, schedule: Schedule): Promise<TickReport> {
  const size = schedule.window!;
  const now = ctx.now();
  const last = lastClosedWindow(size, schedule.tz, now, schedule.lagMs);
  const origin = schedule.startAt ?? (await ctx.state.origin(schedule.id, last.start));
  if (last.start < origin) {
    await ctx.state.saveTick(schedule.id, { lastTickAt: now, gaps: 0, watermark: origin });
    return { scheduleId: schedule.id, outcome: 'nothing-closed', origin, watermark: origin, gaps: 0 };
  }
  const watermark = await ctx.ledger.watermark(schedule.id, origin);
  await trimOldWindows(ctx, schedule, origin, now);

  const candidates: Window[] = [];
  for (let w = last; candidates.length < schedule.catchUp && w.start >= watermark; w = previousWindow(size, schedule.tz, w)) {
    candidates.unshift(w);
  }
  const gaps = candidates.length > 0 ? await countGaps(ctx, schedule, watermark, candidates[0]!.start) : 0;
  if (gaps > 0) {
    ctx.log.warn(
      { schedule: schedule.id, gaps, from: new Date(watermark).toISOString(), to: new Date(candidates[0]!.start).toISOString() },
      `schedule ${schedule.id}: ${gaps} window(s) older than catchUp=${schedule.catchUp} are not done; run: ox-batch backfill ${schedule.id} --from ${new Date(watermark).toISOString()} --to ${new Date(candidates[0]!.start).toISOString()}`,
    );
  }

  const results = await enqueueWindows(
    ctx,
    candidates.map((window) => windowRequest(schedule, window)),
  );
  // Windows the purge found incomplete (OX holds rows their archive lacks), whatever their age.
  for (const flagged of await ctx.ledger.reexportFlags(schedule.id)) {
    const queued = await enqueueWindow(ctx, {
      scheduleId: schedule.id,
      kind: schedule.kind,
      window: flagged,
      params: schedule.params,
      attempts: schedule.attempts,
      reexport: flagged.flag.flaggedAt,
    });
    if (queued.status === 'queued' || queued.status === 'requeued') {
      ctx.log.warn(
        {
          schedule: schedule.id,
          window: describeWindow(flagged),
          oxRows: flagged.flag.oxRows,
          archivedRows: flagged.flag.archivedRows,
          jobId: queued.jobId,
        },
        'window queued for re-export: OX holds rows its archive lacks (found by the purge)',
      );
    }
  }
  const counts = summarize(results);
  await ctx.state.saveTick(schedule.id, { lastTickAt: now, gaps, watermark });
  if (counts.queued + counts.requeued > 0) {
    ctx.log.info({ schedule: schedule.id, ...counts, watermark: new Date(watermark).toISOString() }, 'tick queued windows');
  }
  reportRetries(ctx, schedule, results);
  return {
    scheduleId: schedule.id,
    outcome: 'queued',
    origin,
    watermark,
    windows: results.map((r) => ({ start: r.window!.start, end: r.window!.end, status: r.status })),
    counts,
    gaps,
  };
}

/** A window of a schedule as automatic callers queue it: with the schedule's retry policy. */
function windowRequest(schedule: Schedule, window: Window): WindowRequest {
  return {
    scheduleId: schedule.id,
    kind: schedule.kind,
    window,
    params: schedule.params,
    attempts: schedule.attempts,
    retry: retryPolicy(schedule),
  };
}

export function retryPolicy(schedule: Schedule): RetryPolicy {
  return { afterMs: schedule.retryFailedAfterMs, ...(schedule.maxRetries !== undefined ? { maxRounds: schedule.maxRetries } : {}) };
}

function reportRetries(ctx: TickContext, schedule: Schedule, results: EnqueueResult[]): void {
  for (const r of results) {
    if (r.status !== 'requeued') continue;
    ctx.observer?.recordRetryRound(schedule.id);
    ctx.log.info(
      { schedule: schedule.id, window: describeWindow(r.window!), retryRound: r.retryRound },
      r.retryRound
        ? `failed window queued again (retry round ${r.retryRound}${schedule.maxRetries !== undefined ? ` of ${schedule.maxRetries}` : ''})`
        : 'failed window queued again',
    );
  }
}

export interface RetryReport {
  scheduleId: string;
  outcome: 'paused' | 'busy' | 'checked';
  /** Failed windows looked at, oldest first, with what happened. */
  windows: Array<{ start: number; end: number; status: EnqueueStatus; retryRound?: number }>;
}

/**
 * The retry clock: failed windows of a windowed schedule, oldest first and at most `catchUp`
 * at once, are queued again once `retryFailedAfter` has passed since they failed — a new round
 * of attempts, counted in the ledger — unless their error was permanent or `maxRetries` rounds
 * are used up. Runs beside the trigger, so a failure is not left waiting for the next one.
 */
export async function retryFailedWindows(ctx: TickContext, schedule: Schedule): Promise<RetryReport> {
  if (!schedule.window) return { scheduleId: schedule.id, outcome: 'checked', windows: [] };
  if (schedule.paused || (await ctx.state.isPaused(schedule.id))) return { scheduleId: schedule.id, outcome: 'paused', windows: [] };
  const report = await ctx.state.withTickLock(schedule.id, TICK_LOCK_MS, async (): Promise<RetryReport> => {
    const policy = retryPolicy(schedule);
    const now = Date.now(); // the ledger's clock (finishedAt)
    const due = (await ctx.ledger.failedWindows(schedule.id))
      .filter((record) => retryVerdict(record, policy, now) === undefined)
      .slice(0, schedule.catchUp);
    const results = await enqueueWindows(
      ctx,
      due.map((record) => windowRequest(schedule, { start: record.start, end: record.end })),
    );
    reportRetries(ctx, schedule, results);
    return {
      scheduleId: schedule.id,
      outcome: 'checked',
      windows: results.map((r) => ({
        start: r.window!.start,
        end: r.window!.end,
        status: r.status,
        ...(r.retryRound ? { retryRound: r.retryRound } : {}),
      })),
    };
  });
  return report ?? { scheduleId: schedule.id, outcome: 'busy', windows: [] };
}

/**
 * `ledger.keepDone`: drops the records of done windows older than that (see Ledger.trimDone);
 * they stay counted as done. A failure here never fails the tick: trimming is only housekeeping.
 */
async function trimOldWindows(ctx: TickContext, schedule: Schedule, origin: number, now: number): Promise<void> {
  const keepDone = ctx.config.ledger.keepDone;
  if (keepDone <= 0) return;
  try {
    const trimmed = await ctx.ledger.trimDone(schedule.id, origin, now - keepDone);
    if (trimmed > 0) {
      const range = await ctx.ledger.trimmedRange(schedule.id);
      ctx.log.info(
        { schedule: schedule.id, trimmed, through: range && new Date(range.through).toISOString() },
        `ledger.keepDone: ${trimmed} done window record(s) older than ${new Date(now - keepDone).toISOString()} trimmed`,
      );
    }
  } catch (err) {
    ctx.log.warn(
      { schedule: schedule.id, err: { message: (err as Error).message } },
      'ledger.keepDone: trimming old window records failed; the next tick tries again',
    );
  }
}

/** Not-done windows in [from, to): everything there that the ledger does not have as done. */
async function countGaps(ctx: TickContext, schedule: Schedule, from: number, to: number): Promise<number> {
  if (to <= from) return 0;
  const expected = windowsBetween(schedule.window!, schedule.tz, from, to, 1_000_000);
  const done = new Set((await ctx.ledger.listWindows(schedule.id, { from, to })).filter((r) => r.state === 'done').map((r) => r.start));
  return expected.filter((w) => !done.has(w.start)).length;
}

async function tickRun(ctx: TickContext, schedule: Schedule, firedAt?: number): Promise<TickReport> {
  const now = ctx.now();
  if (schedule.overlap === 'skip') {
    const previous = await ctx.state.inflight(schedule.id);
    if (previous) {
      const job = await ctx.queue.getJob(previous);
      if (job && PENDING_STATES.has(await job.getState())) {
        ctx.log.info(
          { schedule: schedule.id, jobId: previous },
          'previous run still queued or running; this trigger is skipped (overlap: skip)',
        );
        ctx.observer?.recordAttempt(schedule.kind.name, schedule.id, 'skipped', 0);
        return { scheduleId: schedule.id, outcome: 'skipped-overlap', gaps: 0, jobId: previous };
      }
    }
  }
  const result = await enqueueRun(ctx, {
    scheduleId: schedule.id,
    kind: schedule.kind,
    params: schedule.params,
    attempts: schedule.attempts,
    at: firedAt ?? now,
  });
  await ctx.state.setInflight(schedule.id, result.jobId);
  await ctx.state.saveTick(schedule.id, { lastTickAt: now, gaps: 0 });
  return { scheduleId: schedule.id, outcome: 'queued', gaps: 0, jobId: result.jobId };
}

/**
 * Asks the scheduler for a tick of `scheduleId` now (`ox-batch resume`): a job on the ticks
 * queue, run by the same worker as the schedule's trigger; whichever scheduler replica takes it
 * queues what the schedule owes. With no scheduler running it waits, and the next one to start
 * catches up at start anyway.
 */
export async function requestCatchUp(ticks: Queue<TickData>, scheduleId: string, now = Date.now()): Promise<string> {
  const jobId = catchUpTickJobId(scheduleId, now);
  await ticks.add(
    'tick',
    { type: 'tick', scheduleId, reason: 'resume' },
    { jobId, removeOnComplete: { count: 50 }, removeOnFail: { count: 200 } },
  );
  return jobId;
}
