/**
 * How each schedule is doing, for `ox-batch schedules`, `ox-batch status` and the per-schedule
 * gauges: the watermark and its lag, what is owed (closed windows not done) and queued, failed
 * windows and when the next one is retried, gaps older than catchUp, next trigger.
 */
import type { Ledger } from '../ledger/types.js';
import type { ScheduleFigures } from './observer.js';
import { nextFiring, triggerPeriod, type Schedule } from './schedules.js';
import { describeWindow, lastClosedWindow, windowsBetween } from '../time/windows.js';
import { nextRetryAt } from './enqueue.js';
import { retryPolicy } from './tick.js';
import { isRefusal, overdueWindowCount } from './window-cells.js';
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
  /** Windowed: failed windows whose error needs an operator (no automatic retry). */
  failedPermanent?: number;
  /** Windowed: closed windows after the watermark that are not done (queued, running, failed or missing). */
  owed?: number;
  /** Windowed: of those, queued or running now. */
  queued?: number;
  /** Windowed: when the retry clock queues the next failed window again. */
  nextRetryAt?: string;
  gaps: number;
  /** Done windows the purge found incomplete (OX holds rows their archive lacks): re-exported. */
  reexport?: Array<{ window: string; oxRows: number; archivedRows: number; flaggedAt: string; by: string }>;
  /** Closed windows not done by end + lag + alertAfter (runs: 1 when no run succeeded for period + alertAfter). */
  overdueWindows: number;
  /** Purges: the last run failed (`failed`) or was refused by a guard (`refused`). */
  lastRunFailure?: 'failed' | 'refused';
  /** Done windows whose records `ledger.keepDone` removed: [from, through), how many. */
  trimmed?: { from: string; through: string; windows: number };
  lastTickAt?: string;
  lastRun?: { state: string; finishedAt: string; error?: string };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export async function scheduleStatus(
  deps: { ledger: Ledger; state: ScheduleState },
  schedule: Schedule,
  now: number,
): Promise<ScheduleStatus> {
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
    overdueWindows: 0,
    lastTickAt: iso(tick?.lastTickAt),
  };
  if (schedule.window) {
    const origin = schedule.startAt ?? (await state.pinnedOrigin(schedule.id));
    status.failedWindows = await ledger.failedCount(schedule.id);
    const flags = await ledger.reexportFlags(schedule.id);
    if (flags.length > 0) {
      status.reexport = flags.map((f) => ({
        window: describeWindow(f),
        oxRows: f.flag.oxRows,
        archivedRows: f.flag.archivedRows,
        flaggedAt: iso(f.flag.flaggedAt)!,
        by: f.flag.by,
      }));
    }
    const trimmed = await ledger.trimmedRange(schedule.id);
    if (trimmed) status.trimmed = { from: iso(trimmed.from)!, through: iso(trimmed.through)!, windows: trimmed.windows };
    if (origin !== undefined) {
      const watermark = await ledger.watermark(schedule.id, origin);
      status.origin = iso(origin);
      status.watermark = iso(watermark);
      status.lagSeconds = Math.max(0, Math.round((now - watermark) / 1000));
      Object.assign(status, await owedWindows(ledger, schedule, watermark, now));
      status.overdueWindows = await overdueWindowCount(ledger, schedule, origin, watermark, now);
    }
    const failed = await ledger.failedWindows(schedule.id);
    const policy = retryPolicy(schedule);
    status.failedPermanent = failed.filter((r) => r.permanent).length;
    const dueTimes = failed.map((r) => nextRetryAt(r, policy)).filter((t): t is number => t !== undefined);
    if (dueTimes.length > 0) status.nextRetryAt = iso(Math.min(...dueTimes));
  } else {
    const runs = await ledger.lastAttempts(schedule.id, 20);
    const last = runs[0];
    if (last) {
      status.lastRun = { state: last.state, finishedAt: iso(last.finishedAt)!, ...(last.error ? { error: last.error } : {}) };
      status.failedWindows = last.state === 'failed' ? 1 : 0;
      if (last.state === 'failed') status.lastRunFailure = isRefusal(last.error) ? 'refused' : 'failed';
    }
    // For runs, "lag" is the age of the last successful one: a stuck or failing sync grows it.
    const lastDone = runs.find((r) => r.state === 'done');
    if (lastDone) status.lagSeconds = Math.max(0, Math.round((now - lastDone.finishedAt) / 1000));
    // Overdue: nothing succeeded for a period plus alertAfter since the last success (or, when
    // none ever did, since the first run still kept).
    const period = triggerPeriod(schedule, now);
    const since = lastDone?.finishedAt ?? runs.at(-1)?.startedAt;
    if (period !== undefined && since !== undefined && now >= since + period + (schedule.alertAfterMs ?? period)) status.overdueWindows = 1;
  }
  return status;
}

/** Closed windows after the watermark that are not done, and how many of them are queued or running. */
async function owedWindows(
  ledger: Ledger,
  schedule: Schedule,
  watermark: number,
  now: number,
): Promise<{ owed?: number; queued?: number }> {
  const last = lastClosedWindow(schedule.window!, schedule.tz, now, schedule.lagMs);
  if (last.end <= watermark) return { owed: 0, queued: 0 };
  let closed;
  try {
    closed = windowsBetween(schedule.window!, schedule.tz, watermark, last.end, 1_000_000);
  } catch {
    return {}; // more windows than anyone would count: the gap figures say enough
  }
  const records = new Map((await ledger.listWindows(schedule.id, { from: watermark, to: last.end })).map((r) => [r.start, r]));
  let owed = 0;
  let queued = 0;
  for (const w of closed) {
    const record = records.get(w.start);
    if (record?.state === 'done') continue;
    owed++;
    if (record?.state === 'queued' || record?.state === 'running') queued++;
  }
  return { owed, queued };
}

/** A failed window as `ox-batch status` lists it: its retry rounds, whether it waits for an operator, when it is retried. */
export interface FailedWindow {
  schedule: string;
  window: string;
  attempts: number;
  retryRounds: number;
  permanent: boolean;
  nextRetryAt?: string;
  reason?: string;
}

export async function failedWindowList(ledger: Ledger, schedule: Schedule, limit = 50): Promise<FailedWindow[]> {
  if (!schedule.window) return [];
  const policy = retryPolicy(schedule);
  return (await ledger.failedWindows(schedule.id)).slice(0, limit).map((r) => {
    const due = nextRetryAt(r, policy);
    return {
      schedule: schedule.id,
      window: describeWindow(r),
      attempts: r.attempts,
      retryRounds: r.retryRounds ?? 0,
      permanent: r.permanent === true,
      ...(due !== undefined ? { nextRetryAt: iso(due) } : {}),
      ...(r.lastError ? { reason: r.lastError } : {}),
    };
  });
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
export async function runningWindows(ledger: Ledger, schedule: Schedule, status: ScheduleStatus): Promise<RunningWindow[]> {
  if (!schedule.window || status.watermark === undefined) return [];
  const records = await ledger.listWindows(schedule.id, { from: Date.parse(status.watermark) });
  return records
    .filter((r) => r.state === 'running')
    .map((r) => ({
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
    overdueWindows: status.overdueWindows,
    ...(status.lastRunFailure ? { lastRunFailure: status.lastRunFailure } : {}),
    job: status.job,
  };
}
