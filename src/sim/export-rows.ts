/**
 * Renders a feedback selection as byte chunks in ascending date order (sources merged by date,
 * explicit rows first among equal dates). Lazy: only one chunk exists at a time, and rows are
 * assembled from pre-encoded cell bytes, which keeps a million-row export well above 100 MB/s.
 */
import { Readable } from 'node:stream';
import type { FeedbackSource, IndexRange } from './feedback-source.js';
import type { FeedbackSelection } from './feedback-store.js';
import { ChunkWriter, type RowFormat } from './ox-csv-writer.js';

export const DEFAULT_CHUNK_BYTES = 256 * 1024;

class RangeCursor {
  private rangeIndex = 0;
  index: number;
  date = 0;

  constructor(
    readonly source: FeedbackSource,
    private readonly ranges: IndexRange[],
  ) {
    this.index = ranges[0]?.[0] ?? 0;
    this.refresh();
  }

  get done(): boolean {
    return this.rangeIndex >= this.ranges.length;
  }

  advance(): void {
    this.index++;
    if (this.index >= this.ranges[this.rangeIndex]![1]) {
      this.rangeIndex++;
      if (!this.done) this.index = this.ranges[this.rangeIndex]![0];
    }
    this.refresh();
  }

  private refresh(): void {
    if (!this.done) this.date = this.source.dateAt(this.index);
  }
}

export function* renderRows(selection: FeedbackSelection, format: RowFormat, chunkBytes = DEFAULT_CHUNK_BYTES): Generator<Buffer> {
  const segments: Buffer[] = new Array<Buffer>(13);
  // Flush a little before the chunk is full so most rows fit without growing the buffer.
  const flushAt = Math.max(1, chunkBytes - 4096);
  const out = new ChunkWriter(chunkBytes);
  out.ensure(format.prologue.length);
  out.put(format.prologue);
  let first = true;

  if (selection.parts.length === 1) {
    // The common case (one generated segment or only explicit rows): no merge bookkeeping.
    const { source, ranges } = selection.parts[0]!;
    for (const [lo, hi] of ranges) {
      for (let i = lo; i < hi; i++) {
        const count = source.segmentsAt(i, format, segments);
        format.writeRow(source.dateAt(i), segments, count, first, out);
        first = false;
        if (out.pos >= flushAt) yield out.take();
      }
    }
  } else {
    const cursors = selection.parts.map((p) => new RangeCursor(p.source, p.ranges)).filter((c) => !c.done);
    while (cursors.length > 0) {
      let next = 0;
      for (let c = 1; c < cursors.length; c++) if (cursors[c]!.date < cursors[next]!.date) next = c;
      const cursor = cursors[next]!;
      const count = cursor.source.segmentsAt(cursor.index, format, segments);
      format.writeRow(cursor.date, segments, count, first, out);
      first = false;
      cursor.advance();
      if (cursor.done) cursors.splice(next, 1);
      if (out.pos >= flushAt) yield out.take();
    }
  }
  out.ensure(format.epilogue.length);
  out.put(format.epilogue);
  if (out.pos > 0) yield out.take();
}

/** The same rows as a byte stream (used for mail attachments). */
export function renderRowsStream(selection: FeedbackSelection, format: RowFormat): Readable {
  const chunks = renderRows(selection, format);
  return new Readable({
    read() {
      const next = chunks.next();
      this.push(next.done ? null : next.value);
    },
  });
}
