/**
 * Deterministic BullMQ job ids. A (schedule, window) always maps to the same id, so a second
 * scheduler replica, a retried tick or a backfill adds nothing when the job already exists.
 * BullMQ forbids ':' in custom ids and ids made only of digits; ours start with a letter.
 */
import { compactUtc, type Window } from '../time/windows.js';

export function windowJobId(scheduleId: string, window: Window): string {
  return `w.${scheduleId}.${compactUtc(window.start)}.${compactUtc(window.end)}`;
}

/** A forced re-run gets an id of its own: the deterministic one may still hold the done job. */
export function forcedWindowJobId(scheduleId: string, window: Window, now: number): string {
  return `${windowJobId(scheduleId, window)}.force-${now.toString(36)}`;
}

/** A re-export the purge asked for: one job per flag (its `flaggedAt`). */
export function reexportJobId(scheduleId: string, window: Window, flaggedAt: number): string {
  return `${windowJobId(scheduleId, window)}.reexport-${flaggedAt.toString(36)}`;
}

export function slotJobId(scheduleId: string, at: number): string {
  return `r.${scheduleId}.${compactUtc(at)}`;
}

/** The id of the BullMQ Job Scheduler that ticks a schedule. */
export function tickSchedulerId(scheduleId: string): string {
  return `tick.${scheduleId}`;
}

/** A catch-up tick asked for by `ox-batch resume` (the ticks queue runs it like a trigger). */
export function catchUpTickJobId(scheduleId: string, at: number): string {
  return `catchup.${scheduleId}.${compactUtc(at)}`;
}
