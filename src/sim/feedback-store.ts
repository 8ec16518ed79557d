/**
 * The simulator's "global database" for user feedback: per (context group, type) a bucket of
 * explicit rows plus generated segments. Selections use OX's exclusive bounds
 * (`date > after AND date < before`) and are snapshots: a delete or insert while an export
 * streams does not change what that export returns.
 */
import {
  DEFAULT_CONTEXT_GROUP,
  DEFAULT_FEEDBACK_TYPE,
  layoutOf,
  normaliseFeedback,
  type FeedbackLayout,
  type StoredFeedback,
} from './feedback-fields.js';
import { firstIndexFrom, type FeedbackSource, type IndexRange } from './feedback-source.js';
import type { RowFormat } from './ox-csv-writer.js';
import type { FeedbackInput } from './sim-types.js';
import { GeneratedFeedbackSegment, type GeneratedSegmentOptions } from './synthetic-feedback.js';

/** Encoded on every export, not cached: a large fixture must not double its memory per format. */
function segmentsOf(row: StoredFeedback, format: RowFormat, out: Buffer[]): number {
  out[0] = format.tail(row.values, row.extra);
  return 1;
}

/** Explicit rows frozen for one export. */
class RowListSource implements FeedbackSource {
  constructor(protected rows: StoredFeedback[]) {}
  get length(): number {
    return this.rows.length;
  }
  dateAt(index: number): number {
    return this.rows[index]!.date;
  }
  segmentsAt(index: number, format: RowFormat, out: Buffer[]): number {
    return segmentsOf(this.rows[index]!, format, out);
  }
  liveRanges(lo: number, hi: number): IndexRange[] {
    return lo < hi ? [[lo, hi]] : [];
  }
  deleteRange(_lo: number, _hi: number): void {
    throw new Error('a snapshot is read-only');
  }
}

/** Rows inserted by tests and fixtures, kept sorted by date (insertion order among equal dates). */
class ExplicitFeedbackRows extends RowListSource {
  private sorted = true;

  constructor() {
    super([]);
  }

  add(rows: StoredFeedback[]): void {
    for (const row of rows) {
      const last = this.rows[this.rows.length - 1];
      if (last && row.date < last.date) this.sorted = false;
      this.rows.push(row);
    }
  }

  override get length(): number {
    this.ensureSorted();
    return this.rows.length;
  }

  override dateAt(index: number): number {
    this.ensureSorted();
    return super.dateAt(index);
  }

  override deleteRange(lo: number, hi: number): void {
    this.ensureSorted();
    this.rows.splice(lo, hi - lo);
  }

  snapshot(lo: number, hi: number): RowListSource {
    this.ensureSorted();
    return new RowListSource(this.rows.slice(lo, hi));
  }

  private ensureSorted(): void {
    if (this.sorted) return;
    this.rows.sort((a, b) => a.date - b.date); // stable: equal dates keep insertion order
    this.sorted = true;
  }
}

interface Bucket {
  explicit: ExplicitFeedbackRows;
  generated: GeneratedFeedbackSegment[];
}

/** What one export reads: per source the live index ranges, fixed when the export started. */
export interface FeedbackSelection {
  /** The columns of the selected type (its rows are stored in this layout). */
  layout: FeedbackLayout;
  parts: Array<{ source: FeedbackSource; ranges: IndexRange[] }>;
  count: number;
}

const OPEN = { after: Number.NEGATIVE_INFINITY, before: Number.POSITIVE_INFINITY };

export class FeedbackStore {
  private readonly buckets = new Map<string, Bucket>();
  private readonly groups = new Set<string>([DEFAULT_CONTEXT_GROUP]);

  addGroup(group: string): void {
    this.groups.add(group);
  }

  hasGroup(group: string): boolean {
    return this.groups.has(group);
  }

  add(inputs: FeedbackInput[]): void {
    const byBucket = new Map<string, StoredFeedback[]>();
    for (const input of inputs) {
      const type = input.type ?? DEFAULT_FEEDBACK_TYPE;
      const key = bucketKey(input.contextGroup ?? DEFAULT_CONTEXT_GROUP, type);
      let list = byBucket.get(key);
      if (!list) byBucket.set(key, (list = []));
      list.push(normaliseFeedback(input, type));
    }
    for (const [key, rows] of byBucket) this.bucket(key).explicit.add(rows);
  }

  generate(o: GeneratedSegmentOptions & { contextGroup?: string; type?: string }): GeneratedFeedbackSegment {
    const type = o.type ?? DEFAULT_FEEDBACK_TYPE;
    const segment = new GeneratedFeedbackSegment({ ...o, type });
    this.bucket(bucketKey(o.contextGroup ?? DEFAULT_CONTEXT_GROUP, type)).generated.push(segment);
    return segment;
  }

  /** Half-open [start, end) count, for tests and assertions. */
  count(o: { contextGroup?: string; type?: string; start?: number; end?: number } = {}): number {
    const bucket = this.buckets.get(bucketKey(o.contextGroup ?? DEFAULT_CONTEXT_GROUP, o.type ?? DEFAULT_FEEDBACK_TYPE));
    if (!bucket) return 0;
    let total = 0;
    for (const source of sourcesOf(bucket)) {
      const lo = o.start === undefined ? 0 : firstIndexFrom(source, o.start, false);
      const hi = o.end === undefined ? source.length : firstIndexFrom(source, o.end, false);
      for (const [a, b] of source.liveRanges(lo, hi)) total += b - a;
    }
    return total;
  }

  /** Rows with `after < date < before` (OX's exclusive bounds), as a snapshot. */
  select(group: string, type: string, bounds: { after: number; before: number } = OPEN): FeedbackSelection {
    const bucket = this.buckets.get(bucketKey(group, type));
    const selection: FeedbackSelection = { layout: layoutOf(type), parts: [], count: 0 };
    if (!bucket) return selection;
    for (const source of sourcesOf(bucket)) {
      const [lo, hi] = exclusiveIndexBounds(source, bounds);
      if (lo >= hi) continue;
      if (source instanceof ExplicitFeedbackRows) {
        const frozen = source.snapshot(lo, hi);
        selection.parts.push({ source: frozen, ranges: [[0, hi - lo]] });
        selection.count += hi - lo;
      } else {
        const ranges = source.liveRanges(lo, hi);
        if (ranges.length === 0) continue;
        selection.parts.push({ source, ranges });
        for (const [a, b] of ranges) selection.count += b - a;
      }
    }
    return selection;
  }

  /** Deletes rows with `after < date < before`; returns how many were live. */
  delete(group: string, type: string, bounds: { after: number; before: number }): number {
    const bucket = this.buckets.get(bucketKey(group, type));
    if (!bucket) return 0;
    let removed = 0;
    for (const source of sourcesOf(bucket)) {
      const [lo, hi] = exclusiveIndexBounds(source, bounds);
      if (lo >= hi) continue;
      for (const [a, b] of source.liveRanges(lo, hi)) removed += b - a;
      source.deleteRange(lo, hi);
    }
    return removed;
  }

  private bucket(key: string): Bucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { explicit: new ExplicitFeedbackRows(), generated: [] };
      this.buckets.set(key, bucket);
      this.groups.add(key.slice(0, key.indexOf('\u0000')));
    }
    return bucket;
  }
}

function bucketKey(group: string, type: string): string {
  return `${group}\u0000${type}`;
}

function sourcesOf(bucket: Bucket): Array<ExplicitFeedbackRows | GeneratedFeedbackSegment> {
  return [bucket.explicit, ...bucket.generated];
}

function exclusiveIndexBounds(source: FeedbackSource, bounds: { after: number; before: number }): [number, number] {
  const lo = bounds.after === Number.NEGATIVE_INFINITY ? 0 : firstIndexFrom(source, bounds.after, true);
  const hi = bounds.before === Number.POSITIVE_INFINITY ? source.length : firstIndexFrom(source, bounds.before, false);
  return [lo, hi];
}
