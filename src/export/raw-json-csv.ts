/**
 * The `csv` format's fast path: OX's raw JSON export (an array of flat objects of strings)
 * transcoded byte by byte into RFC 4180 CSV, without a JS object or string per row.
 *
 * Why not JSON.parse + csv-stringify (the implementation this replaced, kept as the golden
 * reference in test/export/helpers/reference-csv.ts): measured on 200,000 generated rows (101 MB of
 * raw JSON) that path ran at ~23 MB/s — JSON.parse alone ~100 MB/s (it allocates a string per
 * value), csv-stringify most of the rest (per-field option handling) — while a plain JS loop over
 * the same bytes runs at ~450 MB/s. So cells are taken out of the bytes: a string without
 * escapes (nearly all of them) is copied as is (it cannot hold `"`, CR or LF, so it needs quotes
 * only for the delimiter); OX's `yyyy-MM-dd HH:mm:ss` dates are rewritten in place as ISO 8601.
 * Anything else (escapes, non-string values, a non-ASCII delimiter, unusual dates) goes through
 * JSON.parse and the same string rules as before, so the output stays byte for byte what the
 * csv-stringify implementation wrote (RFC 4180 as csv-stringify quotes it: a cell is quoted when
 * it holds the delimiter, `"`, CR or LF; `"` doubled; CRLF row ends; formula guard `'`).
 *
 * The two hot loops read four bytes at a time through a DataView: a string's scan tests a word for
 * `"`, `\\`, the delimiter and control bytes at once (the zero-byte tricks of Bit Twiddling
 * Hacks, exact as a yes/no), and a predicted key is compared word by word. Measured in-process on
 * 2,000,000 generated rows (1,009 MB of raw JSON → 603 MB of CSV, SHA-256 included): 4.40 s
 * before, 3.52 s with these and with a carried element completed from the next chunk's head
 * instead of joining the whole chunk; byte for byte the same output. A string with escapes (a
 * third of the generated comments: `\\t`, `\\r`, `\\"`) is decoded into the row directly when all
 * its escapes are the one-character kind, instead of JSON.parse, a string and csvField, and cells
 * up to 256 bytes are copied word by word instead of by Buffer#copy: 3.30-3.48 s in-process, and a
 * whole `ox-batch run` of the window 6.65-6.81 s before all of this, 5.05-5.42 s after. `\\u`
 * escapes still take JSON.parse.
 *
 * Malformed JSON fails like the OX client's parser (JsonArrayFormatError, a protocol error).
 */
import { JsonArrayFormatError } from '../ox/json-array-stream.js';
import type { RawColumns } from './raw-columns.js';

export interface RawJsonCsvOptions {
  columns: RawColumns;
  delimiter: string;
  header: boolean;
  formulaGuard: boolean;
  /** One array element larger than this is a protocol error, not an out-of-memory crash. */
  maxElementBytes?: number;
  /**
   * Sees every row written (the digest), as a small record of just these raw keys, decoded as
   * JSON.parse would (a key the row lacks is absent). Costs a string per key per row: only when set.
   */
  onRecord?: { keys: readonly string[]; record(record: Readonly<Record<string, unknown>>): void };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const APOSTROPHE = 0x27;
const CR = 0x0d;
const LF = 0x0a;
const OUT_CHUNK_BYTES = 64 * 1024;

/** Cell kinds of the current row. */
const ABSENT = 0;
/** A JSON string without escapes: its bytes are the value. */
const PLAIN = 1;
/** A JSON string with escapes: JSON.parse decodes it. */
const ESCAPED = 2;
/** A number, literal, object or array: coerced to a string as the OX client does. */
const OTHER = 3;
const QUOTE_BYTE = 1;
const BACKSLASH_BYTE = 2;
const CONTROL_BYTE = 3;
const DELIMITER_BYTE = 4;
/** readFields/columnAt: the record has a key not seen before. */
const NEW_KEY = -2;

/** = + - @ | TAB CR: what spreadsheets read as (the start of) a formula: OX guards = + - @ |, and some spreadsheets skip a leading TAB or CR before reading one. */
const FORMULA_START = new Set([0x3d, 0x2b, 0x2d, 0x40, 0x7c, 0x09, 0x0d]);
const OX_DATE = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/;
/** Characters of an ISO date `2026-11-01T12:00:00Z`: with one of them as delimiter, dates take the slow path. */
const ISO_DATE_CHARS = '0123456789-:TZ';

type ArrayState = 'start' | 'first' | 'element' | 'next' | 'done';

/** Incremental transcoder: feed chunks of the raw export, collect CSV chunks. */
export class RawJsonCsv {
  rows = 0;
  private state: ArrayState = 'start';
  private carry: Buffer | undefined;
  private offset = 0;
  private headerWritten = false;
  private writing = true;
  private readonly delimiter: string;
  private readonly delimiterByte: number;
  private readonly delimiterBytes: Buffer;
  /** ASCII delimiter: plain cells are copied; otherwise every cell takes the string path. */
  private readonly asciiDelimiter: boolean;
  private readonly isoDatesNeedQuotes: boolean;
  private readonly maxElementBytes: number;
  private dateColumn: number;
  // The row being read: per column its kind and where its bytes are in the current buffer.
  private kinds = new Uint8Array(32);
  /** Plain cells holding the delimiter (they need quotes). */
  private delimited = new Uint8Array(32);
  /** Escaped cells decoded in place: 1 when they need quotes, 0 when not (see simpleEscapes). */
  private escapedQuote = new Int8Array(32);
  /** Per byte value: 0 for ordinary string content, else what it is (QUOTE_BYTE, …). */
  private readonly byteClasses = new Uint8Array(256);
  /** The delimiter byte in each byte of a word (the quote's where the delimiter is no plain ASCII character). */
  private readonly delimiterWord: number;
  /** DataViews of the current input chunk and of the row buffer, for the four-byte loops. */
  private readonly inView = new DataViewCache();
  private readonly outView = new DataViewCache();
  private escaped = false;
  private holdsDelimiter = false;
  private starts = new Int32Array(32);
  private ends = new Int32Array(32);
  private present: number[] = [];
  // Key prediction: OX sends the same keys in the same order on every row, so the key at
  // position p of a row is compared with the one at p in the previous row before a lookup.
  private predictedKeys: Buffer[] = [];
  /** The predicted keys' whole 32-bit words, little-endian, for comparing four bytes at once. */
  private predictedKeyWords: Uint32Array[] = [];
  private predictedColumns: number[] = [];
  private out: Buffer = Buffer.allocUnsafe(OUT_CHUNK_BYTES);
  private pos = 0;
  private readonly ready: Buffer[] = [];

  constructor(private readonly options: RawJsonCsvOptions) {
    this.delimiter = options.delimiter;
    this.delimiterBytes = Buffer.from(options.delimiter, 'utf8');
    this.delimiterByte = this.delimiterBytes[0]!;
    this.asciiDelimiter = this.delimiterBytes.length === 1 && this.delimiterByte < 0x80;
    this.isoDatesNeedQuotes = ISO_DATE_CHARS.includes(options.delimiter);
    this.maxElementBytes = options.maxElementBytes ?? 64 * 1024 * 1024;
    this.dateColumn = options.columns.columns.findIndex((c) => c.key === 'date');
    for (let b = 0; b < 0x20; b++) this.byteClasses[b] = CONTROL_BYTE;
    if (this.asciiDelimiter && this.delimiterByte >= 0x20) this.byteClasses[this.delimiterByte] = DELIMITER_BYTE;
    this.delimiterWord = Math.imul(this.asciiDelimiter && this.delimiterByte >= 0x20 ? this.delimiterByte : QUOTE, 0x01010101);
    this.byteClasses[QUOTE] = QUOTE_BYTE;
    this.byteClasses[BACKSLASH] = BACKSLASH_BYTE;
  }

  /** Takes the next bytes of the export; returns CSV chunks that are complete. */
  push(chunk: Buffer): Buffer[] {
    const buf = chunk;
    let i = 0;
    if (this.carry) {
      i = this.finishCarried(chunk);
      if (i < 0) return this.take();
    }
    const n = buf.length;
    while (i < n) {
      const b = buf[i]!;
      if (b === 0x20 || b === LF || b === CR || b === 0x09) {
        i++;
        continue;
      }
      switch (this.state) {
        case 'start':
          if (this.offset + i < 3 && b === [0xef, 0xbb, 0xbf][this.offset + i]) {
            i++;
            continue; // a BOM
          }
          if (b !== OPEN_BRACKET) throw this.error(`expected a JSON array, found ${describeByte(b)}`, i);
          this.state = 'first';
          i++;
          continue;
        case 'first':
        case 'element': {
          if (b === CLOSE_BRACKET && this.state === 'first') {
            this.state = 'done';
            i++;
            continue;
          }
          if (b !== OPEN_BRACE)
            throw this.error(
              b === OPEN_BRACKET ? 'an array element is not an object' : `expected an object in the array, found ${describeByte(b)}`,
              i,
            );
          const end = this.readObject(buf, i);
          if (end < 0) {
            if (n - i > this.maxElementBytes) throw this.error(`an array element exceeds ${this.maxElementBytes} bytes`, i);
            // Keep the unfinished element (a copy: the source may reuse its buffer).
            this.carry = Buffer.from(buf.subarray(i));
            this.offset += i;
            return this.take();
          }
          i = end;
          this.state = 'next';
          continue;
        }
        case 'next':
          if (b === COMMA) this.state = 'element';
          else if (b === CLOSE_BRACKET) this.state = 'done';
          else throw this.error(`expected , or ] after an array element, found ${describeByte(b)}`, i);
          i++;
          continue;
        case 'done':
          throw this.error(`unexpected ${describeByte(b)} after the end of the array`, i);
      }
    }
    this.offset += n;
    return this.take();
  }

  /**
   * Completes the element the previous chunk ended in: joined with only as much of `chunk` as it
   * needs (its own size, at least 4 KiB, growing), not with all of it. Joining the whole chunk
   * copied every byte of the export once more (~1 GB for 2M rows, ~0.2 s with its garbage).
   * Returns where `chunk` goes on after the element, -1 when the element goes on past it.
   */
  private finishCarried(chunk: Buffer): number {
    const carry = this.carry!;
    this.carry = undefined;
    for (let take = Math.min(chunk.length, Math.max(4096, carry.length)); ; take = Math.min(chunk.length, take * 4)) {
      const joined = Buffer.concat([carry, chunk.subarray(0, take)]);
      const end = this.readObject(joined, 0);
      if (end >= 0) {
        this.state = 'next';
        this.offset += carry.length;
        return end - carry.length;
      }
      if (take === chunk.length) {
        if (joined.length > this.maxElementBytes) throw this.error(`an array element exceeds ${this.maxElementBytes} bytes`, 0);
        this.carry = joined;
        return -1;
      }
    }
  }

  /** After the last chunk: the rest of the CSV (the header alone for an empty window). */
  end(): Buffer[] {
    if (this.state !== 'done') {
      throw new JsonArrayFormatError(
        this.state === 'start' && this.offset === 0
          ? 'empty body where a JSON array was expected'
          : `the JSON array ends early after ${this.offset + (this.carry?.length ?? 0)} bytes`,
      );
    }
    this.options.columns.finish();
    if (!this.headerWritten) this.writeHeader();
    const rest = this.take();
    if (this.pos > 0) rest.push(this.flush());
    return rest;
  }

  /** Reads the object starting at `start` into the row and writes it; -1 when it ends beyond the buffer. */
  private readObject(buf: Buffer, start: number): number {
    const end = this.readFields(buf, start);
    if (end === NEW_KEY) {
      // A key not seen before: learn this record's keys through JSON.parse, so new columns come
      // in JavaScript's property order exactly as before (integer-like keys first), then read it.
      const objectEnd = skipOtherValue(buf, start);
      if (objectEnd < 0) return -1;
      this.options.columns.admit(this.decode(buf, start, objectEnd) as Record<string, unknown>);
      return this.readObject(buf, start);
    }
    if (end < 0) return -1;
    this.rows++;
    if (!this.options.columns.endRecord()) this.writing = false;
    if (this.writing) {
      if (!this.headerWritten) this.writeHeader();
      this.writeRow(buf);
      if (this.options.onRecord) this.options.onRecord.record(this.rowRecord(buf, this.options.onRecord.keys));
    }
    this.clearRow();
    return end;
  }

  /** Columns of the `onRecord` keys, for the columns count they were looked up at. */
  private recordColumns: { count: number; index: number[] } = { count: -1, index: [] };

  /** The current row's values of `keys` (see RawJsonCsvOptions.onRecord). */
  private rowRecord(buf: Buffer, keys: readonly string[]): Record<string, unknown> {
    const record: Record<string, unknown> = {};
    const columns = this.options.columns.columns;
    if (this.recordColumns.count !== columns.length) {
      this.recordColumns = { count: columns.length, index: keys.map((key) => columns.findIndex((column) => column.key === key)) };
    }
    const { index } = this.recordColumns;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      const c = index[k]!;
      const kind = c < 0 ? ABSENT : this.kinds[c];
      if (kind === ABSENT || kind === undefined) continue;
      const start = this.starts[c]!;
      const end = this.ends[c]!;
      record[key] =
        kind === PLAIN
          ? buf.toString('utf8', start, end)
          : kind === ESCAPED
            ? this.decode(buf, start - 1, end + 1)
            : this.decode(buf, start, end);
    }
    return record;
  }

  private clearRow(): void {
    for (const column of this.present) this.kinds[column] = ABSENT;
    this.present.length = 0;
  }

  /** The object's fields into the row; its end, -1 when beyond the buffer, NEW_KEY for an unseen key. */
  private readFields(buf: Buffer, start: number): number {
    const result = this.scanFields(buf, start);
    if (result < 0) this.clearRow();
    return result;
  }

  private scanFields(buf: Buffer, start: number): number {
    const n = buf.length;
    const present = this.present;
    let i = start + 1;
    let position = 0;
    for (;;) {
      while (i < n && isWhitespace(buf[i]!)) i++;
      if (i >= n) return -1;
      if (buf[i] === CLOSE_BRACE && position === 0) {
        i++;
        break;
      }
      if (buf[i] !== QUOTE) throw this.error(`expected a key in an object, found ${describeByte(buf[i]!)}`, i);
      // The key.
      const keyStart = i + 1;
      // Most keys are the previous row's key at this position: compared in place, not scanned.
      let j = this.predictedKeyEnd(buf, keyStart, position);
      let column: number;
      if (j >= 0) {
        column = this.predictedColumns[position]!;
      } else {
        j = this.scanString(buf, keyStart);
        if (j < 0) return -1;
        column = this.columnAt(buf, keyStart, j, this.escaped, position);
        if (column === NEW_KEY) return NEW_KEY;
      }
      i = j + 1;
      while (i < n && isWhitespace(buf[i]!)) i++;
      if (i >= n) return -1;
      if (buf[i] !== COLON) throw this.error(`expected : after a key, found ${describeByte(buf[i]!)}`, i);
      i++;
      while (i < n && isWhitespace(buf[i]!)) i++;
      if (i >= n) return -1;
      // The value.
      let kind: number;
      let valueStart: number;
      let valueEnd: number;
      let holdsDelimiter = false;
      if (buf[i] === QUOTE) {
        valueStart = i + 1;
        j = this.scanString(buf, valueStart);
        if (j < 0) return -1;
        valueEnd = j;
        kind = this.escaped ? ESCAPED : PLAIN;
        holdsDelimiter = this.holdsDelimiter;
        i = j + 1;
      } else {
        valueStart = i;
        valueEnd = skipOtherValue(buf, i);
        if (valueEnd < 0) return -1;
        kind = OTHER;
        i = valueEnd;
      }
      if (column >= 0) {
        if (this.kinds[column] === ABSENT) present.push(column);
        this.kinds[column] = kind;
        this.delimited[column] = holdsDelimiter ? 1 : 0;
        this.starts[column] = valueStart;
        this.ends[column] = valueEnd;
      }
      position++;
      while (i < n && isWhitespace(buf[i]!)) i++;
      if (i >= n) return -1;
      const c = buf[i]!;
      i++;
      if (c === CLOSE_BRACE) break;
      if (c !== COMMA) throw this.error(`expected , or } in an object, found ${describeByte(c)}`, i - 1);
    }
    return i;
  }

  /**
   * The end (closing quote) of the string whose content starts at `start`, -1 when beyond the
   * buffer; sets `escaped` and `holdsDelimiter`. One table lookup per byte finds what matters.
   */
  private scanString(buf: Buffer, start: number): number {
    const table = this.byteClasses;
    const n = buf.length;
    let escaped = false;
    let delimiter = false;
    let j = start;
    const view = this.inView.of(buf);
    const delimiterWord = this.delimiterWord;
    for (;;) {
      // Four bytes at a time while none of them is special (see delimiterWord), then byte by byte.
      while (j + 4 <= n) {
        const word = view.getUint32(j, true);
        const quote = word ^ 0x22222222;
        const backslash = word ^ 0x5c5c5c5c;
        const delimiter = word ^ delimiterWord;
        const special =
          (((quote - 0x01010101) & ~quote) |
            ((backslash - 0x01010101) & ~backslash) |
            ((delimiter - 0x01010101) & ~delimiter) |
            ((word - 0x20202020) & ~word)) &
          0x80808080;
        if (special !== 0) break;
        j += 4;
      }
      while (j < n && table[buf[j]!] === 0) j++;
      if (j >= n) return -1;
      const cls = table[buf[j]!]!;
      if (cls === QUOTE_BYTE) break;
      if (cls === BACKSLASH_BYTE) {
        escaped = true;
        j += 2;
      } else if (cls === DELIMITER_BYTE) {
        delimiter = true;
        j++;
      } else {
        throw this.error('a control character inside a string', j);
      }
    }
    this.escaped = escaped;
    this.holdsDelimiter = delimiter;
    return j;
  }

  /** End of the key at `start` when it is the previous row's key at `position`, else -1. */
  private predictedKeyEnd(buf: Buffer, start: number, position: number): number {
    const predicted = this.predictedKeys[position];
    if (predicted === undefined) return -1;
    const length = predicted.length;
    const end = start + length;
    if (end >= buf.length || buf[end] !== QUOTE) return -1;
    // Four bytes at a time, then the rest.
    const view = this.inView.of(buf);
    const words = this.predictedKeyWords[position]!;
    let k = 0;
    for (; k + 4 <= length; k += 4) if (view.getUint32(start + k, true) !== words[k >> 2]) return -1;
    for (; k < length; k++) if (predicted[k] !== buf[start + k]) return -1;
    return end;
  }

  /** The column of the key at `position` of a row (-1: not written; NEW_KEY: never seen). */
  private columnAt(buf: Buffer, start: number, end: number, escaped: boolean, position: number): number {
    const predicted = this.predictedKeys[position];
    if (predicted !== undefined && predicted.length === end - start) {
      let same = true;
      for (let k = 0; k < predicted.length; k++) {
        if (predicted[k] !== buf[start + k]) {
          same = false;
          break;
        }
      }
      if (same) return this.predictedColumns[position]!;
    }
    const key = escaped ? (this.decode(buf, start - 1, end + 1) as string) : buf.toString('utf8', start, end);
    if (!this.options.columns.hasSeen(key)) return NEW_KEY;
    const column = this.options.columns.columnOf(key);
    if (column >= this.kinds.length) this.growRow(column + 1);
    const keyBytes = Buffer.from(buf.subarray(start, end));
    this.predictedKeys[position] = keyBytes;
    this.predictedKeyWords[position] = Uint32Array.from({ length: keyBytes.length >> 2 }, (_, w) => keyBytes.readUInt32LE(w * 4));
    this.predictedColumns[position] = column;
    return column;
  }

  private growRow(size: number): void {
    const length = Math.max(size, this.kinds.length * 2);
    const kinds = new Uint8Array(length);
    kinds.set(this.kinds);
    const delimited = new Uint8Array(length);
    delimited.set(this.delimited);
    this.delimited = delimited;
    // Scratch of one row's write: nothing to keep.
    this.escapedQuote = new Int8Array(length);
    const starts = new Int32Array(length);
    starts.set(this.starts);
    const ends = new Int32Array(length);
    ends.set(this.ends);
    this.kinds = kinds;
    this.starts = starts;
    this.ends = ends;
  }

  private writeHeader(): void {
    this.headerWritten = true;
    this.dateColumn = this.options.columns.columns.findIndex((c) => c.key === 'date');
    if (!this.options.header) return;
    this.putText(`${this.options.columns.columns.map((c) => csvField(c.header, this.delimiter)).join(this.delimiter)}\r\n`);
  }

  private writeRow(buf: Buffer): void {
    const count = this.options.columns.columns.length;
    if (count > this.kinds.length) this.growRow(count); // columns the first record added
    // Cells off the fast path are built first, so the row's size is known before it is written.
    let size = 2 + count * this.delimiterBytes.length;
    let texts: Array<string | undefined> | undefined;
    for (let c = 0; c < count; c++) {
      const kind = this.kinds[c];
      if (kind === ABSENT) continue;
      const start = this.starts[c]!;
      const end = this.ends[c]!;
      if (this.fast(buf, c, kind!, start, end)) {
        size += 3 + (end - start);
      } else if (
        kind === ESCAPED &&
        this.asciiDelimiter &&
        c !== this.dateColumn &&
        (this.escapedQuote[c] = this.simpleEscapes(buf, start, end)) >= 0
      ) {
        // Decoded in place: never longer than its JSON, plus quotes and the guard.
        size += 3 + (end - start);
      } else {
        const text = this.cellText(buf, kind!, start, end, c === this.dateColumn);
        (texts ??= [])[c] = text;
        size += Buffer.byteLength(text, 'utf8');
      }
    }
    this.ensure(size);
    for (let c = 0; c < count; c++) {
      if (c > 0) this.putDelimiter();
      const kind = this.kinds[c];
      if (kind === ABSENT) continue;
      const text = texts?.[c];
      if (text !== undefined) this.pos += this.out.write(text, this.pos, 'utf8');
      else if (c === this.dateColumn) this.putIsoDate(buf, this.starts[c]!);
      else if (kind === ESCAPED) this.putEscaped(buf, this.starts[c]!, this.ends[c]!, this.escapedQuote[c] === 1);
      else this.putPlain(buf, this.starts[c]!, this.ends[c]!, this.delimited[c] === 1);
    }
    this.out[this.pos++] = CR;
    this.out[this.pos++] = LF;
    if (this.pos >= OUT_CHUNK_BYTES - 4096) this.ready.push(this.flush());
  }

  /** Whether a cell is copied from the bytes (a plain string; a date in OX's own format). */
  private fast(buf: Buffer, column: number, kind: number, start: number, end: number): boolean {
    if (kind !== PLAIN || !this.asciiDelimiter) return false;
    if (column !== this.dateColumn) return true;
    return !this.isoDatesNeedQuotes && end - start === 19 && isOxDate(buf, start);
  }

  /** A string without escapes: no `"`, CR or LF inside, so only the delimiter (or the guard) asks for quotes. */
  private putPlain(buf: Buffer, start: number, end: number, holdsDelimiter: boolean): void {
    const guard = this.options.formulaGuard && end > start && FORMULA_START.has(buf[start]!);
    const quote = holdsDelimiter || (guard && this.delimiterByte === APOSTROPHE);
    const out = this.out;
    let pos = this.pos;
    if (quote) out[pos++] = QUOTE;
    if (guard) out[pos++] = APOSTROPHE;
    if (end - start <= 256) {
      // Four bytes at a time up to a few hundred: cheaper than Buffer#copy's native call, which
      // cost ~0.18 s of a 2M-row export for the user agents alone.
      const from = this.inView.of(buf);
      const to = this.outView.of(this.out);
      let k = start;
      for (; k + 4 <= end; k += 4, pos += 4) to.setUint32(pos, from.getUint32(k, true), true);
      for (; k < end; k++) out[pos++] = buf[k]!;
    } else {
      buf.copy(out, pos, start, end);
      pos += end - start;
    }
    if (quote) out[pos++] = QUOTE;
    this.pos = pos;
  }

  /**
   * A string whose escapes are all of `\\" \\\\ / b f n r t` (the ones OX's JSON writer uses for
   * comments): 1 when its decoded text needs quotes (it holds `"`, CR, LF or the delimiter, or
   * the guard's `'` is the delimiter), 0 when not, -1 for anything else (`\\u`, an invalid escape),
   * which takes the JSON.parse path as before.
   */
  private simpleEscapes(buf: Buffer, start: number, end: number): number {
    const delimiter = this.delimiterByte;
    let quote = this.options.formulaGuard && delimiter === APOSTROPHE && FORMULA_START.has(decodedFirst(buf, start));
    for (let k = start; k < end; k++) {
      let b = buf[k]!;
      if (b === BACKSLASH) {
        b = SIMPLE_ESCAPES[buf[++k]!]!;
        if (b === 0) return -1;
      }
      if (b === QUOTE || b === CR || b === LF || b === delimiter) quote = true;
    }
    return quote ? 1 : 0;
  }

  /** A string of simpleEscapes, decoded into the row: `"` doubled, quoted and guarded as csvField does. */
  private putEscaped(buf: Buffer, start: number, end: number, quote: boolean): void {
    const out = this.out;
    let pos = this.pos;
    if (quote) out[pos++] = QUOTE;
    if (this.options.formulaGuard && FORMULA_START.has(decodedFirst(buf, start))) out[pos++] = APOSTROPHE;
    for (let k = start; k < end; k++) {
      let b = buf[k]!;
      if (b === BACKSLASH) b = SIMPLE_ESCAPES[buf[++k]!]!;
      out[pos++] = b;
      if (b === QUOTE) out[pos++] = QUOTE;
    }
    if (quote) out[pos++] = QUOTE;
    this.pos = pos;
  }

  /** `2026-11-01 12:00:00` → `2026-11-01T12:00:00Z`. */
  private putIsoDate(buf: Buffer, start: number): void {
    const out = this.out;
    let pos = this.pos;
    for (let k = 0; k < 10; k++) out[pos++] = buf[start + k]!;
    out[pos++] = 0x54; // T
    for (let k = 11; k < 19; k++) out[pos++] = buf[start + k]!;
    out[pos++] = 0x5a; // Z
    this.pos = pos;
  }

  /** Any other cell: decoded, then the string rules of the csv-stringify implementation. */
  private cellText(buf: Buffer, kind: number, start: number, end: number, isDate: boolean): string {
    let value: string;
    if (kind === PLAIN) value = buf.toString('utf8', start, end);
    else if (kind === ESCAPED) value = this.decode(buf, start - 1, end + 1) as string;
    else value = coerce(this.decode(buf, start, end));
    const text = isDate ? isoDate(value) : value;
    const guarded = this.options.formulaGuard && FORMULA_START.has(text.charCodeAt(0)) ? `'${text}` : text;
    return csvField(guarded, this.delimiter);
  }

  private decode(buf: Buffer, start: number, end: number): unknown {
    try {
      return JSON.parse(buf.toString('utf8', start, end));
    } catch (err) {
      throw this.error(`invalid JSON: ${(err as Error).message}`, start);
    }
  }

  private putDelimiter(): void {
    if (this.asciiDelimiter) {
      this.out[this.pos++] = this.delimiterByte;
      return;
    }
    this.delimiterBytes.copy(this.out, this.pos);
    this.pos += this.delimiterBytes.length;
  }

  private putText(text: string): void {
    this.ensure(Buffer.byteLength(text, 'utf8'));
    this.pos += this.out.write(text, this.pos, 'utf8');
  }

  /** Room for `bytes` more (a row bigger than the chunk grows the buffer). */
  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.out.length) return;
    if (this.pos > 0 && bytes <= OUT_CHUNK_BYTES) {
      this.ready.push(this.flush());
      return;
    }
    const bigger = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.pos + bytes));
    this.out.copy(bigger, 0, 0, this.pos);
    this.out = bigger;
  }

  private flush(): Buffer {
    const bytes = this.out.subarray(0, this.pos);
    this.out = Buffer.allocUnsafe(OUT_CHUNK_BYTES);
    this.pos = 0;
    return bytes;
  }

  private take(): Buffer[] {
    return this.ready.splice(0, this.ready.length);
  }

  private error(message: string, at: number): JsonArrayFormatError {
    return new JsonArrayFormatError(`${message} at byte ${this.offset + at}`);
  }
}

/** CSV text of the raw export, in chunks; counts records into `counter.rows`. */
export async function* rawJsonCsv(
  body: AsyncIterable<Buffer>,
  options: RawJsonCsvOptions,
  counter: { rows: number },
): AsyncGenerator<Buffer> {
  const transcoder = new RawJsonCsv(options);
  for await (const chunk of body) {
    const ready = transcoder.push(chunk);
    counter.rows = transcoder.rows;
    for (const part of ready) yield part;
  }
  const rest = transcoder.end();
  counter.rows = transcoder.rows;
  for (const part of rest) yield part;
}

/** A DataView of the buffer last asked for, made again only when the buffer changes. */
class DataViewCache {
  private buffer: Buffer | undefined;
  private view: DataView | undefined;
  of(buffer: Buffer): DataView {
    if (this.buffer !== buffer) {
      this.buffer = buffer;
      this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.length);
    }
    return this.view!;
  }
}

/** The byte each simple JSON escape stands for, by the byte after the backslash (0: not simple). */
const SIMPLE_ESCAPES = new Uint8Array(256);
for (const [after, byte] of [
  ['"', 0x22],
  ['\\', 0x5c],
  ['/', 0x2f],
  ['b', 0x08],
  ['f', 0x0c],
  ['n', 0x0a],
  ['r', 0x0d],
  ['t', 0x09],
] as const)
  SIMPLE_ESCAPES[after.charCodeAt(0)] = byte;

/** The first byte of a string's decoded text (of simpleEscapes). */
function decodedFirst(buf: Buffer, start: number): number {
  const b = buf[start]!;
  return b === BACKSLASH ? SIMPLE_ESCAPES[buf[start + 1]!]! : b;
}

function isWhitespace(b: number): boolean {
  return b === 0x20 || b === LF || b === CR || b === 0x09;
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

/** `dddd-dd-dd dd:dd:dd` */
function isOxDate(buf: Buffer, s: number): boolean {
  return (
    isDigit(buf[s]!) &&
    isDigit(buf[s + 1]!) &&
    isDigit(buf[s + 2]!) &&
    isDigit(buf[s + 3]!) &&
    buf[s + 4] === 0x2d &&
    isDigit(buf[s + 5]!) &&
    isDigit(buf[s + 6]!) &&
    buf[s + 7] === 0x2d &&
    isDigit(buf[s + 8]!) &&
    isDigit(buf[s + 9]!) &&
    buf[s + 10] === 0x20 &&
    isDigit(buf[s + 11]!) &&
    isDigit(buf[s + 12]!) &&
    buf[s + 13] === COLON &&
    isDigit(buf[s + 14]!) &&
    isDigit(buf[s + 15]!) &&
    buf[s + 16] === COLON &&
    isDigit(buf[s + 17]!) &&
    isDigit(buf[s + 18]!)
  );
}

/** End of a number, literal, object or array value starting at `i`; -1 when beyond the buffer. */
function skipOtherValue(buf: Buffer, i: number): number {
  const n = buf.length;
  const first = buf[i]!;
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    let j = i;
    while (j < n) {
      const c = buf[j]!;
      if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || isWhitespace(c)) return j;
      j++;
    }
    return -1;
  }
  let depth = 0;
  let inString = false;
  for (let j = i; j < n; j++) {
    const c = buf[j]!;
    if (inString) {
      if (c === BACKSLASH) j++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return -1;
}

/** A non-string raw value as the OX client turns it into a string. */
function coerce(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** `2026-11-01 12:00:00` (OX, UTC) → `2026-11-01T12:00:00Z`; epoch ms → ISO; anything else as is. */
export function isoDate(value: string): string {
  const ox = OX_DATE.exec(value);
  if (ox) return `${ox[1]}T${ox[2]}Z`;
  if (/^\d{10,}$/.test(value)) {
    const date = new Date(Number(value));
    // Past what a Date holds (8.64e15 ms, the year 275760) it is no time OX wrote: kept as it came.
    if (!Number.isNaN(date.getTime())) return date.toISOString().replace('.000Z', 'Z');
  }
  return value;
}

/** A cell as csv-stringify quoted it: when it holds the delimiter, `"`, CR or LF; `"` doubled. */
export function csvField(value: string, delimiter: string): string {
  if (value === '') return value;
  if (value.includes(delimiter) || value.includes('"') || value.includes('\r') || value.includes('\n')) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

function describeByte(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? `"${String.fromCharCode(byte)}"` : `byte 0x${byte.toString(16)}`;
}
