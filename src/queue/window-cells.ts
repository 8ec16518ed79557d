/**
 * What each window of a schedule is, as an operator reads it: the window grid's cells and the
 * overdue count behind `oxb_schedule_overdue_windows`. One classification for both, from the
 * clock, the schedule (lag, catchUp, alertAfter, origin) and the ledger:
 *
 *   done     the ledger has it done            failed   its last run failed (will be retried)
 *   refused  its last run was refused (a guard, bad input: retried only by an operator)
 *   running  a worker or an `ox-batch run` runs it now            queued   waiting for a worker
 *   owed     closed, not done, within the newest `catchUp` windows: the next tick queues it
 *   gap      closed, not done, older than that: only a backfill brings it
 *   open     not closed yet (`now < end + lag`)                   before   before the origin
 *
 * A closed window not done by `end + lag + alertAfter` (default: one window) is overdue.
 */
import type { Ledger, WindowRecord } from '../ledger/types.js';
import type { Schedule } from './schedules.js';
import { isClosed, lastClosedWindow, previousWindow, windowsBetween, type Window } from '../time/windows.js';

export const CELL_STATES = ['done', 'failed', 'refused', 'running', 'queued', 'owed', 'gap', 'open', 'before'] as const;
export type CellState = (typeof CELL_STATES)[number];

export interface WindowCell extends Window {
  state: CellState;
  /** When the window closes (`end + lag`), and when it counts as overdue. */
  closesAt: number;
  overdueAt: number;
  overdue: boolean;
  attempts?: number;
  error?: string;
  rows?: number;
  bytes?: number;
}

/** Most cells one request may ask for: a year of hours and some (one screen stays readable up to ~1000). */
export const MAX_CELLS = 10_000;

const REFUSAL = /^(RefusedError|InputError)\b/;

export function isRefusal(error: string | undefined): boolean {
  return error !== undefined && REFUSAL.test(error);
}

export function alertAfterOf(schedule: Schedule, window: Window): number {
  return schedule.alertAfterMs ?? window.end - window.start;
}

export function overdueAt(schedule: Schedule, window: Window): number {
  return window.end + schedule.lagMs + alertAfterOf(schedule, window);
}

/** Start of the oldest window the next tick would still queue (the newest `catchUp` closed ones). */
function catchUpStart(schedule: Schedule, now: number): number {
  let w = lastClosedWindow(schedule.window!, schedule.tz, now, schedule.lagMs);
  for (let i = 1; i < Math.min(schedule.catchUp, MAX_CELLS); i++) w = previousWindow(schedule.window!, schedule.tz, w);
  return w.start;
}

function classify(
  schedule: Schedule,
  window: Window,
  record: WindowRecord | undefined,
  now: number,
  origin: number | undefined,
  owedFrom: number,
): CellState {
  if (record?.state === 'done') return 'done';
  if (record?.state === 'running') return 'running';
  if (record?.state === 'queued') return 'queued';
  if (record?.state === 'failed') return isRefusal(record.lastError) ? 'refused' : 'failed';
  if (!isClosed(window, now, schedule.lagMs)) return 'open';
  if (origin === undefined || window.start < origin) return 'before';
  return window.start >= owedFrom ? 'owed' : 'gap';
}

function cellOf(schedule: Schedule, window: Window, record: WindowRecord | undefined, state: CellState, now: number): WindowCell {
  const due = overdueAt(schedule, window);
  const result = (record?.result ?? {}) as { rows?: unknown; bytes?: unknown };
  return {
    start: window.start,
    end: window.end,
    state,
    closesAt: window.end + schedule.lagMs,
    overdueAt: due,
    overdue: state !== 'done' && state !== 'before' && state !== 'open' && now >= due,
    ...(record ? { attempts: record.attempts } : {}),
    ...(record?.lastError && state !== 'done' ? { error: record.lastError } : {}),
    ...(typeof result.rows === 'number' ? { rows: result.rows } : {}),
    ...(typeof result.bytes === 'number' ? { bytes: result.bytes } : {}),
  };
}

/** The cells of a windowed schedule over [from, to): every aligned window overlapping it. */
export async function windowCells(
  ledger: Ledger,
  schedule: Schedule,
  range: { from: number; to: number },
  now: number,
  origin: number | undefined,
): Promise<WindowCell[]> {
  if (!schedule.window) return [];
  const windows = windowsBetween(schedule.window, schedule.tz, range.from, range.to, MAX_CELLS);
  if (windows.length === 0) return [];
  const records = await ledger.listWindows(schedule.id, { from: windows[0]!.start, to: windows.at(-1)!.end });
  const byStart = new Map(records.map((r) => [r.start, r]));
  const owedFrom = catchUpStart(schedule, now);
  return windows.map((w) => {
    const record = byStart.get(w.start);
    const matching = record && record.end === w.end ? record : undefined;
    return cellOf(schedule, w, matching, classify(schedule, w, matching, now, origin, owedFrom), now);
  });
}

/**
 * Closed windows from the origin on that are not done by `end + lag + alertAfter`. Only windows
 * after the watermark can be (all before it are done), so this reads from there.
 */
export async function overdueWindowCount(
  ledger: Ledger,
  schedule: Schedule,
  origin: number,
  watermark: number,
  now: number,
): Promise<number> {
  if (!schedule.window) return 0;
  const from = Math.max(origin, watermark);
  const last = lastClosedWindow(schedule.window, schedule.tz, now, schedule.lagMs);
  if (last.end <= from) return 0;
  const windows = windowsBetween(schedule.window, schedule.tz, from, last.end, 1_000_000).filter((w) => now >= overdueAt(schedule, w));
  if (windows.length === 0) return 0;
  const done = new Set(
    (await ledger.listWindows(schedule.id, { from, to: last.end })).filter((r) => r.state === 'done').map((r) => r.start),
  );
  return windows.filter((w) => !done.has(w.start)).length;
}
