import { DateTime, IANAZone } from 'luxon';
import { InputError } from '../errors.js';

const EPOCH_MS = /^\d+$/;
// An offset only counts after a time of day: in `2026-11` or `2026-11-01` the `-11` / `-01`
// is the month or day, and such a text is wall-clock time in `zone` (never the process's TZ).
const HAS_OFFSET = /T[\d:.,]+(Z|[+-]\d{2}(:?\d{2})?)$/i;

/**
 * Parses a point in time as people type it on the command line or in config:
 * epoch milliseconds, an ISO date, year-month or year (its first midnight in `zone`), or an ISO
 * date-time (exact when it carries `Z` or an offset, otherwise wall-clock time in `zone`).
 * Nothing depends on the process's own `TZ`. Returns epoch ms.
 */
export function parseInstant(value: string, zone: string, what = 'time'): number {
  const text = value.trim();
  if (EPOCH_MS.test(text)) return Number(text);
  if (!isValidZone(zone)) throw new InputError(`${what}: unknown time zone "${zone}"`);
  const dt = HAS_OFFSET.test(text) ? DateTime.fromISO(text, { setZone: true }) : DateTime.fromISO(text, { zone });
  if (!dt.isValid) {
    throw new InputError(
      `${what}: "${value}" is not a time (expected ISO 8601 like 2026-11-01 or 2026-11-01T02:00:00Z, or epoch milliseconds)`,
    );
  }
  return dt.toMillis();
}

export function isValidZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `500ms`, `30s`, `5m`, `2h`, `90d`, `1w` (fixed lengths, not calendar units) into ms. */
export function parseDuration(value: string | number, what = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw new InputError(`${what}: ${value} is not a duration`);
  }
  const m = DURATION.exec(value.trim());
  if (!m) throw new InputError(`${what}: "${value}" is not a duration (expected e.g. 30s, 5m, 2h, 90d)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

/** Formats epoch ms as ISO 8601 UTC with millisecond precision. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}
