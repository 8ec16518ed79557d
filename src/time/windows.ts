/**
 * Calendar windows of a schedule: half-open [start, end) in UTC epoch ms, aligned to calendar
 * boundaries in the schedule's time zone. A Berlin day in late March lasts 23 h and one in late
 * October 25 h; weeks start on Monday; months follow the calendar. Luxon does the zone math.
 */
import { DateTime } from 'luxon';
import { InputError } from '../errors.js';
import { isValidZone } from './parse-time.js';

export const WINDOW_SIZES = ['1h', '1d', '1w', '1M'] as const;
export type WindowSize = (typeof WINDOW_SIZES)[number];

export interface Window {
  start: number;
  end: number;
}

const HOUR_MS = 3_600_000;
const CALENDAR_UNIT = { '1d': 'day', '1w': 'week', '1M': 'month' } as const;
const CALENDAR_STEP = { '1d': { days: 1 }, '1w': { weeks: 1 }, '1M': { months: 1 } } as const;

export function isWindowSize(value: string): value is WindowSize {
  return (WINDOW_SIZES as readonly string[]).includes(value);
}

// Zone validation builds an Intl formatter (~0.4 ms): remember the zones that passed.
const knownZones = new Set<string>();

function checkArgs(size: WindowSize, tz: string, t: number): void {
  if (!isWindowSize(size)) throw new InputError(`window: "${size}" is not one of ${WINDOW_SIZES.join(', ')}`);
  if (!knownZones.has(tz)) {
    if (!isValidZone(tz)) throw new InputError(`tz: unknown time zone "${tz}"`);
    knownZones.add(tz);
  }
  if (!Number.isFinite(t)) throw new InputError(`window: ${t} is not a point in time`);
}

/** Start of the window that contains `t`. */
function alignDown(size: WindowSize, tz: string, t: number): number {
  if (size === '1h') {
    // Local hours start where the zone's minutes/seconds are zero. Subtracting the local
    // minute-of-hour keeps zones with :30/:45 offsets right and never hits the ambiguous
    // wall-clock hour of a fall-back night (we never convert local time back to an instant).
    const local = DateTime.fromMillis(t, { zone: tz });
    return t - (local.minute * 60_000 + local.second * 1000 + local.millisecond);
  }
  // Luxon's week is the ISO week: it starts on Monday.
  return DateTime.fromMillis(t, { zone: tz }).startOf(CALENDAR_UNIT[size]).toMillis();
}

/** End of the window that starts at the aligned instant `start`. */
function stepForward(size: WindowSize, tz: string, start: number): number {
  if (size === '1h') return start + HOUR_MS;
  // Calendar arithmetic: "one day later" at local midnight, 23 or 25 h across a DST switch.
  // startOf again: where DST skips midnight the day starts at 01:00, and "plus one day" from
  // there would overshoot the next day's 00:00 by an hour.
  return DateTime.fromMillis(start, { zone: tz }).plus(CALENDAR_STEP[size]).startOf(CALENDAR_UNIT[size]).toMillis();
}

/** The window of `size` in `tz` that contains the instant `t`. */
export function windowContaining(size: WindowSize, tz: string, t: number): Window {
  checkArgs(size, tz, t);
  const start = alignDown(size, tz, t);
  return { start, end: stepForward(size, tz, start) };
}

/** The window right after `window` (whose end is the next one's start). */
export function nextWindow(size: WindowSize, tz: string, window: Window | number): Window {
  const end = typeof window === 'number' ? windowContaining(size, tz, window).end : window.end;
  return windowContaining(size, tz, end);
}

/** The window right before `window`. */
export function previousWindow(size: WindowSize, tz: string, window: Window | number): Window {
  const start = typeof window === 'number' ? windowContaining(size, tz, window).start : window.start;
  return windowContaining(size, tz, start - 1);
}

/**
 * Every window that overlaps [from, to), in order: the first one is the window containing
 * `from` (so a date typed as `--from` is covered in full), the last one starts before `to`.
 * `limit` guards against a typo such as 1h windows over ten years.
 */
export function windowsBetween(size: WindowSize, tz: string, from: number, to: number, limit = 100_000): Window[] {
  checkArgs(size, tz, from);
  checkArgs(size, tz, to);
  const windows: Window[] = [];
  let current = windowContaining(size, tz, from);
  while (current.start < to) {
    windows.push(current);
    if (windows.length > limit) {
      throw new InputError(
        `window range ${new Date(from).toISOString()}..${new Date(to).toISOString()} holds more than ${limit} ${size} windows`,
      );
    }
    // The end of an aligned window is the next one's aligned start.
    current = { start: current.end, end: stepForward(size, tz, current.end) };
  }
  return windows;
}

/**
 * The newest window that is closed at `now`: its end plus `lagMs` has passed, so late writes
 * on the OX side have settled.
 */
export function lastClosedWindow(size: WindowSize, tz: string, now: number, lagMs: number): Window {
  // The window containing (now - lag) ends after now - lag, so it is still open; the one
  // before it ends at or before now - lag.
  return previousWindow(size, tz, windowContaining(size, tz, now - lagMs));
}

/** True when `window` is closed at `now` given `lagMs`. */
export function isClosed(window: Window, now: number, lagMs: number): boolean {
  return now >= window.end + lagMs;
}

/** `2026-03-29T00:00:00Z` → `20260329T000000Z`: sortable, and free of ':' for BullMQ job ids. */
export function compactUtc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.000Z$/, 'Z')
    .replace(/\.(\d{3})Z$/, '$1Z');
}

/** A window for people: `2026-03-29T00:00:00.000Z..2026-03-29T22:00:00.000Z (1d Europe/Berlin)`. */
export function describeWindow(window: Window, size?: WindowSize, tz?: string): string {
  const range = `${new Date(window.start).toISOString()}..${new Date(window.end).toISOString()}`;
  return size && tz ? `${range} (${size} ${tz})` : range;
}
