import { InputError } from '../errors.js';
import type { FeedbackWindow, Instant } from './types.js';

/** OX's query parameters for a window; absent keys are left out of the URL. */
export interface OxWindowParams {
  start?: string;
  end?: string;
}

/**
 * Translates our half-open window [start, end) into OX's bounds, which are BOTH exclusive
 * (`date > start AND date < end`): start becomes `start - 1`; a start of 0 (or none) is left out
 * because OX reads 0 as "open"; an open end is left out. So a row stamped exactly at a boundary
 * lands in exactly one of two adjacent windows. Instants are whole ms (fractions round up, which
 * keeps `date >= start` and `date < end` exact for integer stamps).
 */
export function oxWindowParams(window: FeedbackWindow): OxWindowParams {
  const start = window.start === undefined ? undefined : toMillis(window.start, 'start');
  const end = window.end === undefined ? undefined : toMillis(window.end, 'end');
  if (start !== undefined && end !== undefined && end < start) {
    throw new InputError(`feedback window: end ${end} is before start ${start}`);
  }
  if (end === 0) {
    // [start, 0) is empty, but OX reads end=0 as "no end": a delete would remove everything.
    throw new InputError('feedback window: end 0 is an empty window, and OX would read it as open-ended');
  }
  const params: OxWindowParams = {};
  if (start !== undefined && start > 0) params.start = String(start - 1);
  if (end !== undefined) params.end = String(end);
  return params;
}

export function toMillis(instant: Instant, what: string): number {
  const ms = instant instanceof Date ? instant.getTime() : instant;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new InputError(`feedback window: ${what} is not a time (${String(instant)})`);
  if (ms < 0) throw new InputError(`feedback window: ${what} ${ms} is before the epoch`);
  return Math.ceil(ms);
}
