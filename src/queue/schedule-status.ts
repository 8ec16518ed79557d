/**
 * How each schedule is doing, for `ox-batch schedules`, `ox-batch status` and the per-schedule
 * gauges: the watermark and its lag, failed windows, gaps older than catchUp, next trigger.
 */
import type { RedisLedger } from '../ledger/redis-ledger.js';
import type { ScheduleFigures } from '../http/metrics.js';
import { nextFiring, type Schedule } from './schedules.js';
import { describeWindow } from './windows.js';
import type { ScheduleState } from './schedule-state.js';

export interface ScheduleStatus {
  id: string;
  job: string;
  trigger: string;
  tz: string;
  window?: string;
  next?: string;
  paused: boolean;
  /** Start of the first window (config startAt, or pinned by the first tick). */
  origin?: string;
  watermark?: string;
  /** Now minus the watermark (runs: since the last successful run), in seconds. */
  lagSeconds?: number;
  failedWindows: number;
  gaps: number;
  /** Done windows the purge found incomplete (OX holds rows their archive lacks): re-exported. */
  reexport?: Array<{ window: string; oxRows: number; archivedRows: number; flaggedAt: string; by: string }>;
  lastTickAt?: string;
  lastRun?: { state: string; finishedAt: string; error?: string };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export async function scheduleStatus(deps: { ledger: RedisLedger; state: ScheduleState }, schedule: Schedule, now: number): Promise<ScheduleStatus> {
  const { ledger, state } = deps;
  const [pausedFlag, tick] = await Promise.all([state.isPaused(schedule.id), state.lastTick(schedule.id)]);
  const status: ScheduleStatus = {
    id: schedule.id,
    job: schedule.kind.name,
    trigger: schedule.cron !== undefined ? `cron ${schedule.cron}` : `every ${Math.round((schedule.every ?? 0) / 1000)}s`,
    tz: schedule.tz,
    ...(schedule.window ? { window: schedule.window } : {}),
    next: iso(nextFiring(schedule, now)),
    paused: schedule.paused || pausedFlag,
    failedWindows: 0,
    gaps: tick?.gaps ?? 0,
    lastTickAt: iso(tick?.lastTickAt),
  };
  if (schedule.window) {
    const origin = schedule.startAt ?? (await state.pinnedOrigin(schedule.id));
    status.failedWindows = await ledger.failedCount(schedule.id);
    const flags = await ledger.reexportFlags(schedule.id);
    if (flags.length > 0) {
      status.reexport = flags.map((f) => ({ window: describeWindow(f), oxRows: f.flag.oxRows, archivedRows: f.flag.archivedRows, flaggedAt: iso(f.flag.flaggedAt)!, by: f.flag.by }));
    }
    if (origin !== undefined) {
      const watermark = await ledger.watermark(schedule.id, origin);
      status.origin = iso(origin);
      status.watermark = iso(watermark);
      status.lagSeconds = Math.max(0, Math.round((now - watermark) / 1000));
    }
  } else {
    const runs = await ledger.lastRuns(schedule.id, 20);
    const last = runs[0];
    if (last) {
      status.lastRun = { state: last.state, finishedAt: iso(last.finishedAt)!, ...(last.error ? { error: last.error } : {}) };
      status.failedWindows = last.state === 'failed' ? 1 : 0;
    }
    // For runs, "lag" is the age of the last successful one: a stuck or failing sync grows it.
    const lastDone = runs.find((r) => r.state === 'done');
    if (lastDone) status.lagSeconds = Math.max(0, Math.round((now - lastDone.finishedAt) / 1000));
  }
  return status;
}

export interface RunningWindow {
  schedule: string;
  window: string;
  attempt: number;
  since?: string;
  /** `worker`, or the `ox-batch run` holding the window (`run:<host>:<pid>`). */
  by: string;
  leaseUntil?: string;
}

/** Windows of a windowed schedule that are running now: all lie at or after its watermark. */
export async function runningWindows(ledger: RedisLedger, schedule: Schedule, status: ScheduleStatus): Promise<RunningWindow[]> {
  if (!schedule.window || status.watermark === undefined) return [];
  const records = await ledger.listWindows(schedule.id, { from: Date.parse(status.watermark) });
  return records.filter((r) => r.state === 'running').map((r) => ({
    schedule: schedule.id,
    window: describeWindow(r),
    attempt: r.attempts,
    since: iso(r.startedAt),
    by: r.owner ?? 'worker',
    ...(r.leaseUntil !== undefined ? { leaseUntil: iso(r.leaseUntil) } : {}),
  }));
}

export function toFigures(status: ScheduleStatus): ScheduleFigures {
  return {
    scheduleId: status.id,
    ...(status.lagSeconds !== undefined ? { watermarkLagSeconds: status.lagSeconds } : {}),
    failedWindows: status.failedWindows,
    gapWindows: status.gaps,
    reexportWindows: status.reexport?.length ?? 0,
  };
}
