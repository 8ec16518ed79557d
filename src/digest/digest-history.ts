/**
 * How a window compares with the schedule's earlier ones, read from the ledger: each done window
 * keeps its digest in its result, so no earlier window is exported again. The previous window is
 * the one ending where this one starts; "last four" are the four latest windows before this one
 * that have a digest of the same type (a gap or a window without digest is skipped, not zero).
 */
import type { Ledger } from '../ledger/types.js';
import { isoUtc } from '../time/parse-time.js';
import { round } from './digest-accumulator.js';
import type { DigestChange, DigestHistory, DigestPoint, WindowFigures } from './digest-types.js';

/** Points in the trend: this window and up to 7 before it. */
export const TREND_WINDOWS = 8;
const MEAN_OF = 4;

export async function digestHistory(
  ledger: Pick<Ledger, 'listWindows'>,
  scheduleId: string,
  window: { start: number; end: number },
  figures: WindowFigures,
): Promise<DigestHistory> {
  const length = Math.max(1, window.end - window.start);
  // Calendar windows vary a little (DST days): look one window further back than needed.
  const records = await ledger.listWindows(scheduleId, { from: window.start - (TREND_WINDOWS + 1) * length, to: window.start });
  const earlier = records
    .filter((r) => r.state === 'done' && r.end <= window.start)
    .map((r) => pointOf(r.start, r.end, (r.result as { digest?: unknown } | undefined)?.digest, figures.type))
    .filter((p): p is DigestPoint => p !== null)
    .slice(-(TREND_WINDOWS - 1));
  const current = pointOfFigures(window, figures);
  const last = earlier.at(-1);
  const previous = last && last.end === current.start ? last : null;
  const four = earlier.slice(-MEAN_OF);
  const lastFour = four.length > 0 ? meanOf(four) : null;
  return {
    previous,
    lastFour,
    change: { previous: previous ? change(current, previous) : null, lastFour: lastFour ? change(current, lastFour) : null },
    trend: [...earlier, current],
  };
}

export function pointOfFigures(window: { start: number; end: number }, figures: WindowFigures): DigestPoint {
  const point: DigestPoint = {
    start: isoUtc(window.start),
    end: isoUtc(window.end),
    rows: figures.rows,
    mean: figures.scores.mean,
    distribution: figures.scores.distribution,
  };
  if (figures.scale === 'nps') {
    point.nps = figures.scores.nps ?? null;
    point.questions = Object.fromEntries((figures.questions ?? []).map((q) => [q.question, q.nps ?? null]));
  }
  return point;
}

/** A ledger result's digest as a point, or null when it has none (or one of another type). */
function pointOf(start: number, end: number, digest: unknown, type: string): DigestPoint | null {
  if (typeof digest !== 'object' || digest === null) return null;
  const d = digest as Partial<WindowFigures>;
  if (d.type !== type || typeof d.rows !== 'number' || typeof d.scores !== 'object' || d.scores === null) return null;
  const distribution =
    Array.isArray(d.scores.distribution) && d.scores.distribution.every((n) => typeof n === 'number') ? d.scores.distribution : [];
  const point: DigestPoint = { start: isoUtc(start), end: isoUtc(end), rows: d.rows, mean: numberOrNull(d.scores.mean), distribution };
  if (d.scale === 'nps') {
    point.nps = numberOrNull(d.scores.nps);
    point.questions = Object.fromEntries(
      (Array.isArray(d.questions) ? d.questions : []).map((q) => [String(q.question), numberOrNull(q.nps)]),
    );
  }
  return point;
}

function meanOf(points: DigestPoint[]): NonNullable<DigestHistory['lastFour']> {
  const avg = (values: Array<number | null | undefined>, decimals: number) => {
    const known = values.filter((v): v is number => typeof v === 'number');
    return known.length === 0 ? null : round(known.reduce((a, b) => a + b, 0) / known.length, decimals);
  };
  const width = Math.max(...points.map((p) => p.distribution.length));
  const mean: NonNullable<DigestHistory['lastFour']> = {
    windows: points.length,
    from: points[0]!.start,
    to: points.at(-1)!.end,
    rows:
      avg(
        points.map((p) => p.rows),
        1,
      ) ?? 0,
    mean: avg(
      points.map((p) => p.mean),
      2,
    ),
    distribution: Array.from(
      { length: width },
      (_, i) =>
        avg(
          points.map((p) => p.distribution[i] ?? 0),
          1,
        ) ?? 0,
    ),
  };
  if (points.some((p) => p.nps !== undefined)) {
    mean.nps = avg(
      points.map((p) => p.nps),
      1,
    );
    const ids = [...new Set(points.flatMap((p) => Object.keys(p.questions ?? {})))];
    mean.questions = Object.fromEntries(
      ids.map((id) => [
        id,
        avg(
          points.map((p) => p.questions?.[id]),
          1,
        ),
      ]),
    );
  }
  return mean;
}

function change(current: DigestPoint, other: Pick<DigestPoint, 'rows' | 'mean' | 'nps' | 'questions'>): DigestChange {
  const diff = (a: number | null | undefined, b: number | null | undefined, decimals: number) =>
    typeof a === 'number' && typeof b === 'number' ? round(a - b, decimals) : null;
  const result: DigestChange = {
    rows: round(current.rows - other.rows, 1),
    rowsPercent: other.rows > 0 ? round(((current.rows - other.rows) / other.rows) * 100, 1) : null,
    mean: diff(current.mean, other.mean, 2),
  };
  if (current.nps !== undefined) {
    result.nps = diff(current.nps, other.nps, 1);
    result.questions = Object.fromEntries(
      Object.entries(current.questions ?? {}).map(([id, nps]) => [id, diff(nps, other.questions?.[id], 1)]),
    );
  }
  return result;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
