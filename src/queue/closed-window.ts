/**
 * The closed-window rule: a window of a windowed job runs only once it has closed, that is
 * `now >= end + lag` (the schedule's lag; 0 for an unscheduled run of a job kind). An export of
 * a window that is still open misses the feedback that arrives later, yet would be recorded
 * done and verified — and then guard a purge that deletes that feedback from OX.
 *
 * Enforced in the two paths every caller takes: `enqueueWindow(s)` (tick, enqueue, backfill,
 * the dashboard) and `executeAttempt` (the worker and `ox-batch run`). A preview of an open window
 * (`ox-batch run --open`) is the one exception: it is archived apart and never recorded done.
 */
import type { Config } from '../config/schema.js';
import { RefusedError, type OxBatchErrorCode } from '../errors.js';
import { formatDuration } from '../time/format-duration.js';
import { describeWindow, type Window } from '../time/windows.js';

/** A window refused because it has not closed yet (or lies in the future). Exit 2, nothing changed. */
export class OpenWindowError extends RefusedError {
  override readonly code: OxBatchErrorCode = 'OXB_WINDOW_OPEN';
  constructor(
    message: string,
    readonly window: Window,
    readonly closesAt: number,
    readonly future: boolean,
  ) {
    super(message);
  }
}

/** The lag of a configured schedule; 0 for a job kind run without a schedule. */
export function windowLagMs(config: Pick<Config, 'schedules'>, scheduleId: string): number {
  return config.schedules[scheduleId]?.lag ?? 0;
}

export type WindowPhase = 'closed' | 'open' | 'future';

/** Where `window` stands at `now`: closed (end + lag passed), open, or entirely in the future. */
export function windowPhase(window: Window, now: number, lagMs: number): WindowPhase {
  if (now >= window.end + lagMs) return 'closed';
  return window.start > now ? 'future' : 'open';
}

/**
 * How a window is about to be used: `run` (queued or run for real: must be closed), `dry-run`
 * (changes nothing: may be open), `preview` (`ox-batch run --open`: must be open).
 */
export type WindowUse = 'run' | 'dry-run' | 'preview';

/** Throws OpenWindowError unless the window may be used so now. A future window never may. */
export function assertWindowClosed(
  config: Pick<Config, 'schedules'>,
  scheduleId: string,
  window: Window,
  now: number,
  options: { mode?: WindowUse } = {},
): void {
  const mode = options.mode ?? 'run';
  const lagMs = windowLagMs(config, scheduleId);
  const phase = windowPhase(window, now, lagMs);
  const closesAt = window.end + lagMs;
  const lag = lagMs > 0 ? `end + lag ${formatDuration(lagMs)}` : 'its end';
  const what = `${scheduleId} window ${describeWindow(window)}`;
  if (phase === 'future') {
    throw new OpenWindowError(
      `${what} lies in the future (it starts ${new Date(window.start).toISOString()}): nothing to export yet`,
      window,
      closesAt,
      true,
    );
  }
  if (mode === 'dry-run') return;
  if (mode === 'preview') {
    if (phase === 'closed')
      throw new OpenWindowError(
        `${what} is closed: run it without --open (a preview is only for windows that are still open)`,
        window,
        closesAt,
        false,
      );
    return;
  }
  if (phase === 'open') {
    throw new OpenWindowError(
      `${what} is still open: it closes at ${new Date(closesAt).toISOString()} (${lag}); feedback arriving until then would be missed. ` +
        'Wait until then, or preview it with ox-batch run --open (archived apart, never counted as done)',
      window,
      closesAt,
      false,
    );
  }
}
