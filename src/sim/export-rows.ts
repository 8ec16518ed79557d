/**
 * Renders a feedback selection as text chunks in ascending date order (sources merged by date,
 * explicit rows first among equal dates). Lazy: only one chunk exists at a time.
 */
import { Readable } from 'node:stream';
import type { FeedbackSource, IndexRange } from './feedback-source.js';
import type { FeedbackSelection } from './feedback-store.js';
import type { RowFormat } from './ox-csv-writer.js';

export const DEFAULT_CHUNK_CHARS = 128 * 1024;

class RangeCursor {
  private rangeIndex = 0;
  index: number;
  date = 0;

  constructor(readonly source: FeedbackSource, private readonly ranges: IndexRange[]) {
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

export function* renderRows(selection: FeedbackSelection, format: RowFormat, chunkChars = DEFAULT_CHUNK_CHARS): Generator<string> {
  const cells: string[] = new Array<string>(13);
  const encoding = format.encoding;
  let out = format.prologue;
  let first = true;

  if (selection.parts.length === 1) {
    // The common case (one generated segment or only explicit rows): no merge bookkeeping.
    const { source, ranges } = selection.parts[0]!;
    for (const [lo, hi] of ranges) {
      for (let i = lo; i < hi; i++) {
        source.cellsAt(i, encoding, cells);
        out += format.row(source.dateAt(i), cells, first);
        first = false;
        if (out.length >= chunkChars) {
          yield out;
          out = '';
        }
      }
    }
  } else {
    const cursors = selection.parts.map((p) => new RangeCursor(p.source, p.ranges)).filter((c) => !c.done);
    while (cursors.length > 0) {
      let next = 0;
      for (let c = 1; c < cursors.length; c++) if (cursors[c]!.date < cursors[next]!.date) next = c;
      const cursor = cursors[next]!;
      cursor.source.cellsAt(cursor.index, encoding, cells);
      out += format.row(cursor.date, cells, first);
      first = false;
      cursor.advance();
      if (cursor.done) cursors.splice(next, 1);
      if (out.length >= chunkChars) {
        yield out;
        out = '';
      }
    }
  }
  out += format.epilogue;
  if (out.length > 0) yield out;
}

/** The same rows as a byte stream (used for mail attachments). */
export function renderRowsStream(selection: FeedbackSelection, format: RowFormat): Readable {
  const chunks = renderRows(selection, format);
  return new Readable({
    read() {
      const next = chunks.next();
      this.push(next.done ? null : Buffer.from(next.value, 'utf8'));
    },
  });
}
