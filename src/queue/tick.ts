/**
 * One tick of a schedule, run when its BullMQ Job Scheduler fires. BullMQ only triggers: it
 * neither catches up missed slots nor knows windows. The tick looks at the clock and the
 * ledger and queues every closed window after the watermark — at most `catchUp` of the newest —
 * that is not done; older windows that are still missing are reported as gaps (log + metric)
 * for an operator to backfill. Failed windows are queued again here, done ones never.
 * Non-windowed schedules queue one run, or skip it while the previous one is still in flight
 * (`overlap: skip`).
 */
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../http/metrics.js';
import type { RedisLedger } from '../ledger/redis-ledger.js';
import { enqueueRun, enqueueWindow, enqueueWindows, summarize, type EnqueueContext, type EnqueueStatus } from './enqueue.js';
import { PENDING_STATES } from './queues.js';
import type { Schedule } from './schedules.js';
import type { ScheduleState } from './schedule-state.js';
import { describeWindow, lastClosedWindow, previousWindow, windowsBetween, type Window } from './windows.js';

export interface TickContext extends EnqueueContext {
  ledger: RedisLedger;
  state: ScheduleState;
  log: Logger;
  now: () => number;
  metrics?: Metrics;
}

export interface TickReport {
  scheduleId: string;
  outcome: 'paused' | 'nothing-closed' | 'queued' | 'skipped-overlap' | 'busy';
  origin?: number;
  watermark?: number;
  /** Windows the tick looked at (newest `catchUp` after the watermark), with what happened. */
  windows?: Array<{ start: number; end: number; status: EnqueueStatus }>;
  counts?: Record<EnqueueStatus, number>;
  /** Not-done windows after the watermark but older than the catch-up range. */
  gaps: number;
  jobId?: string;
}

const TICK_LOCK_MS = 60_000;

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
  const report = await ctx.state.withTickLock(schedule.id, TICK_LOCK_MS, () =>
    schedule.window ? tickWindowed(ctx, schedule) : tickRun(ctx, schedule, firedAt));
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

  const results = await enqueueWindows(ctx, candidates.map((window) => ({
    scheduleId: schedule.id, kind: schedule.kind, window, params: schedule.params, attempts: schedule.attempts,
  })));
  // Windows the purge found incomplete (OX holds rows their archive lacks), whatever their age.
  for (const flagged of await ctx.ledger.reexportFlags(schedule.id)) {
    const queued = await enqueueWindow(ctx, {
      scheduleId: schedule.id, kind: schedule.kind, window: flagged, params: schedule.params, attempts: schedule.attempts, reexport: flagged.flag.flaggedAt,
    });
    if (queued.status === 'queued' || queued.status === 'requeued') {
      ctx.log.warn({ schedule: schedule.id, window: describeWindow(flagged), oxRows: flagged.flag.oxRows, archivedRows: flagged.flag.archivedRows, jobId: queued.jobId },
        'window queued for re-export: OX holds rows its archive lacks (found by the purge)');
    }
  }
  const counts = summarize(results);
  await ctx.state.saveTick(schedule.id, { lastTickAt: now, gaps, watermark });
  if (counts.queued + counts.requeued > 0) {
    ctx.log.info({ schedule: schedule.id, ...counts, watermark: new Date(watermark).toISOString() }, 'tick queued windows');
  }
  for (const r of results) {
    if (r.status === 'requeued') ctx.log.info({ schedule: schedule.id, window: describeWindow(r.window!) }, 'failed window queued again');
  }
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
        ctx.log.info({ schedule: schedule.id, jobId: previous }, 'previous run still queued or running; this trigger is skipped (overlap: skip)');
        ctx.metrics?.recordRun(schedule.kind.name, schedule.id, 'skipped', 0);
        return { scheduleId: schedule.id, outcome: 'skipped-overlap', gaps: 0, jobId: previous };
      }
    }
  }
  const result = await enqueueRun(ctx, { scheduleId: schedule.id, kind: schedule.kind, params: schedule.params, attempts: schedule.attempts, at: firedAt ?? now });
  await ctx.state.setInflight(schedule.id, result.jobId);
  await ctx.state.saveTick(schedule.id, { lastTickAt: now, gaps: 0 });
  return { scheduleId: schedule.id, outcome: 'queued', gaps: 0, jobId: result.jobId };
}
