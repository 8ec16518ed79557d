/**
 * A date-ordered run of feedback rows that an export can read by index. Two kinds exist:
 * explicit rows (tests, fixtures) and generated segments (millions of synthetic rows computed
 * from their index, never materialised).
 */
import type { RowFormat } from './ox-csv-writer.js';

export type IndexRange = readonly [lo: number, hi: number];

export interface FeedbackSource {
  /** Rows ever held (deleted ones included); indices are 0..length-1, dates non-decreasing. */
  readonly length: number;
  dateAt(index: number): number;
  /**
   * Writes the segments (see RowFormat) of the 13 cells after Date of row `index` into `out`,
   * possibly several adjacent cells joined in one buffer; returns how many buffers it wrote.
   */
  segmentsAt(index: number, format: RowFormat, out: Buffer[]): number;
  /** Live (not deleted) index ranges inside [lo, hi), ascending. */
  liveRanges(lo: number, hi: number): IndexRange[];
  /** Removes rows [lo, hi) from every later read. */
  deleteRange(lo: number, hi: number): void;
}

/** First index whose date is >= t (or > t when `strict`), by binary search over ascending dates. */
export function firstIndexFrom(source: FeedbackSource, t: number, strict: boolean): number {
  let lo = 0;
  let hi = source.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const d = source.dateAt(mid);
    if (strict ? d <= t : d < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorted, disjoint deleted index ranges with range subtraction. */
export class DeletedRanges {
  private ranges: Array<[number, number]> = [];

  add(lo: number, hi: number): void {
    if (hi <= lo) return;
    const merged: Array<[number, number]> = [];
    let nlo = lo;
    let nhi = hi;
    for (const r of this.ranges) {
      if (r[1] < nlo || r[0] > nhi) merged.push(r);
      else {
        nlo = Math.min(nlo, r[0]);
        nhi = Math.max(nhi, r[1]);
      }
    }
    merged.push([nlo, nhi]);
    merged.sort((a, b) => a[0] - b[0]);
    this.ranges = merged;
  }

  /** [lo, hi) minus the deleted ranges. */
  subtractFrom(lo: number, hi: number): IndexRange[] {
    const live: IndexRange[] = [];
    let cursor = lo;
    for (const [dlo, dhi] of this.ranges) {
      if (dhi <= cursor) continue;
      if (dlo >= hi) break;
      if (dlo > cursor) live.push([cursor, Math.min(dlo, hi)]);
      cursor = Math.max(cursor, dhi);
      if (cursor >= hi) break;
    }
    if (cursor < hi) live.push([cursor, hi]);
    return live;
  }
}
