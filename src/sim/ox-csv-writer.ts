/**
 * OX's feedback export byte formats: the CSV of `export/{group}/{type}` and the JSON array of
 * `.../raw`. Rows are produced as string chunks so a million-row export streams in constant memory.
 *
 * CSV rules (from OX's exporter): BOM; every cell quoted; delimiter = first char of `delimiter`
 * (default `;`); each row, the last included, ends with a lone CR; inside a cell line breaks become
 * CRLF, `"` becomes `'`, a leading `= + - @ |` gets a `'` in front and every further `|` becomes `\|`;
 * Date is `yyyy-MM-dd HH:mm:ss` UTC.
 */
import { STAR_RATING_LAYOUT, type FeedbackLayout } from './feedback-fields.js';

export const UTF8_BOM = '\uFEFF';
export const CSV_ROW_END = '\r';
const FORMULA_START = '=+-@|';
const LINE_BREAK = /\r\n|\r|\n/g;

/** One cell, quotes included. */
export function csvCell(value: string): string {
  let text = value;
  if (text.includes('\r') || text.includes('\n')) text = text.replace(LINE_BREAK, '\r\n');
  if (text.includes('"')) text = text.replaceAll('"', "'");
  let guard = '';
  if (text.length > 0 && FORMULA_START.includes(text[0]!)) {
    // The leading character stays as typed behind the guard; only the pipes after it are escaped.
    guard = `'${text[0]}`;
    text = text.slice(1);
  }
  if (text.includes('|')) text = text.replaceAll('|', '\\|');
  return `"${guard}${text}"`;
}

/** First character of the `delimiter` parameter; `;` when absent or empty. */
export function csvDelimiter(param: string | undefined): string {
  if (param === undefined || param.length === 0) return ';';
  return String.fromCodePoint(param.codePointAt(0)!);
}

export function csvHeaderLine(delimiter: string, layout: FeedbackLayout = STAR_RATING_LAYOUT): string {
  return layout.headers.map(csvCell).join(delimiter) + CSV_ROW_END;
}

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

/**
 * `yyyy-MM-dd HH:mm:ss` in UTC. Export rows arrive in ascending date order, so the last second
 * and the last day are cached: most rows cost one comparison.
 */
export class UtcDateFormatter {
  private lastSecond = Number.NaN;
  private lastText = '';
  private lastDay = Number.NaN;
  private dayPrefix = '';

  format(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second === this.lastSecond) return this.lastText;
    const day = Math.floor(second / 86400);
    if (day !== this.lastDay) {
      const d = new Date(day * 86_400_000);
      this.dayPrefix = `${String(d.getUTCFullYear()).padStart(4, '0')}-${PAD2[d.getUTCMonth() + 1]}-${PAD2[d.getUTCDate()]} `;
      this.lastDay = day;
    }
    const inDay = second - day * 86400;
    const hh = Math.floor(inDay / 3600);
    const mm = Math.floor((inDay % 3600) / 60);
    this.lastText = `${this.dayPrefix}${PAD2[hh]}:${PAD2[mm]}:${PAD2[inDay % 60]}`;
    this.lastSecond = second;
    return this.lastText;
  }

  /** Writes the 19 ASCII bytes straight into `out` (the export hot path: no string per row). */
  writeInto(ms: number, out: ChunkWriter): void {
    const second = Math.floor(ms / 1000);
    const day = Math.floor(second / 86400);
    if (day !== this.lastDay || this.dayBytes === undefined) {
      this.format(ms);
      this.dayBytes = Buffer.from(this.dayPrefix, 'latin1');
    }
    out.put(this.dayBytes);
    const inDay = second - day * 86400;
    const hh = Math.floor(inDay / 3600);
    const mm = Math.floor((inDay % 3600) / 60);
    const ss = inDay % 60;
    out.byte(0x30 + Math.floor(hh / 10));
    out.byte(0x30 + (hh % 10));
    out.byte(0x3a);
    out.byte(0x30 + Math.floor(mm / 10));
    out.byte(0x30 + (mm % 10));
    out.byte(0x3a);
    out.byte(0x30 + Math.floor(ss / 10));
    out.byte(0x30 + (ss % 10));
  }

  private dayBytes: Buffer | undefined;
}

export function formatUtcDate(ms: number): string {
  return new UtcDateFormatter().format(ms);
}

/**
 * A growable byte buffer that export rows are written into; `take()` hands out the bytes
 * written so far (for one socket write) and starts a fresh buffer.
 */
export class ChunkWriter {
  private buf: Buffer;
  pos = 0;

  constructor(private readonly chunkBytes: number) {
    this.buf = Buffer.allocUnsafe(chunkBytes);
  }

  /** Room for `n` more bytes (grows only for rows bigger than a chunk). */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  byte(value: number): void {
    this.buf[this.pos++] = value;
  }

  put(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n <= 12) {
      // TypedArray#set costs more than a short loop for the many tiny cells (score, app, ...).
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < n; i++) buf[pos++] = bytes[i]!;
      this.pos = pos;
      return;
    }
    this.buf.set(bytes, this.pos);
    this.pos += n;
  }

  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.chunkBytes);
    this.pos = 0;
    return out;
  }
}

/**
 * Turns (date, cell segments) into one output row, written as bytes. A *segment* is the bytes
 * of one cell INCLUDING what precedes it in the row (the delimiter in CSV, `,"key":` in JSON),
 * so sources can cache segments, or runs of adjacent segments, and rows become a few copies.
 */
export interface RowFormat {
  /** Identifies the segment bytes this format produces (`csv:;`, `json`): the cache key. */
  readonly id: string;
  /** The feedback type's columns the rows are written in. */
  readonly layout: FeedbackLayout;
  /** Bytes before the first row (BOM + header, or `[`). */
  readonly prologue: Buffer;
  /** Bytes after the last row. */
  readonly epilogue: Buffer;
  /** Segment of the cell of raw key `key` (one of `layout.keys`). */
  segment(key: string, value: string): Buffer;
  /**
   * All segments of a row after Date joined, built in one go (explicit rows, encoded per
   * export): `values` in `layout.keys` order, then `extra` keys (raw export only).
   */
  tail(values: readonly string[], extra?: ReadonlyArray<readonly [string, string]>): Buffer;
  writeRow(date: number, segments: readonly Buffer[], count: number, first: boolean, out: ChunkWriter): void;
}

const QUOTE = 0x22;
const CR = 0x0d;
const DATE_CHARS = 19; // yyyy-MM-dd HH:mm:ss

export function csvRowFormat(delimiter: string, layout: FeedbackLayout = STAR_RATING_LAYOUT): RowFormat {
  const dates = new UtcDateFormatter();
  const sep = Buffer.from(delimiter, 'utf8');
  return {
    id: `csv:${layout.type}:${delimiter}`,
    layout,
    prologue: Buffer.from(UTF8_BOM + csvHeaderLine(delimiter, layout), 'utf8'),
    epilogue: Buffer.alloc(0),
    segment: (_key, value) => Buffer.concat([sep, Buffer.from(csvCell(value), 'utf8')]),
    // A newer OX's extra raw keys have no CSV column here: OX's CSV is the type's columns.
    tail(values) {
      let text = '';
      for (const value of values) text += delimiter + csvCell(value);
      return Buffer.from(text, 'utf8');
    },
    writeRow(date, segments, count, _first, out) {
      let size = DATE_CHARS + 3;
      for (let i = 0; i < count; i++) size += segments[i]!.length;
      out.ensure(size);
      out.byte(QUOTE);
      dates.writeInto(date, out);
      out.byte(QUOTE);
      for (let i = 0; i < count; i++) out.put(segments[i]!);
      out.byte(CR);
    },
  };
}

const jsonKeyText = (key: string): string => `,${JSON.stringify(key)}:`;
const JSON_DATE_OPEN = Buffer.from('{"date":"', 'utf8');
const JSON_ROW_SEP = 0x2c;
const JSON_DATE_CLOSE = 0x22;
const JSON_OBJECT_CLOSE = 0x7d;

/**
 * Raw export: a JSON array of objects whose values are all strings. OX leaves the key order
 * undefined; the simulator writes `date`, the layout's keys in column order, then extra keys.
 */
export function rawJsonRowFormat(layout: FeedbackLayout = STAR_RATING_LAYOUT): RowFormat {
  const dates = new UtcDateFormatter();
  const keyTexts = layout.keys.map(jsonKeyText);
  const keyPrefixes = new Map(layout.keys.map((key, i) => [key, Buffer.from(keyTexts[i]!, 'utf8')]));
  return {
    id: `json:${layout.type}`,
    layout,
    prologue: Buffer.from('[', 'utf8'),
    epilogue: Buffer.from(']', 'utf8'),
    segment: (key, value) => Buffer.concat([keyPrefixes.get(key)!, Buffer.from(JSON.stringify(value), 'utf8')]),
    tail(values, extra) {
      let text = '';
      for (let i = 0; i < values.length; i++) text += keyTexts[i]! + JSON.stringify(values[i]);
      for (const [key, value] of extra ?? []) text += jsonKeyText(key) + JSON.stringify(value);
      return Buffer.from(text, 'utf8');
    },
    writeRow(date, segments, count, first, out) {
      let size = 2 + JSON_DATE_OPEN.length + DATE_CHARS + 1;
      for (let i = 0; i < count; i++) size += segments[i]!.length;
      out.ensure(size);
      if (!first) out.byte(JSON_ROW_SEP);
      out.put(JSON_DATE_OPEN);
      dates.writeInto(date, out);
      out.byte(JSON_DATE_CLOSE);
      for (let i = 0; i < count; i++) out.put(segments[i]!);
      out.byte(JSON_OBJECT_CLOSE);
    },
  };
}
