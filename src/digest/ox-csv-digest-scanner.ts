/**
 * Feeds the digest from OX's own CSV bytes (format ox-csv) row by row, as OxCsvRowCounter finds
 * the rows in the spool's single pass, without parsing the file into records. OX quotes every
 * cell and never writes a `"` inside one (it becomes `'`), so a cell runs from a quote to the
 * next quote; the delimiter is whatever lies between two cells of the header row. Columns are
 * found by name in the header, so a newer OX with extra columns works too.
 *
 * Why not csv-parse: it builds every record (14 strings a row) and costs more than the whole
 * ox-csv export. This scanner walks a row only up to the last column the digest needs, jumps
 * over long cells (comment, user agent) with a native indexOf and a date by its fixed width,
 * hashes the short categorical cells in place and interns them by their bytes, and decodes a
 * comment only when it would get into the digest. `npm run bench` measures what it adds.
 */
import type { DigestAccumulator, Interner } from './digest-accumulator.js';

const QUOTE = 0x22;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;
const GOLDEN = 0x9e3779b1 | 0;
const QUOTES = 0x22222222;
const ONES = 0x01010101;
const HIGHS = 0x80808080 | 0;
const INVALID_SLOT = 11;

// What the scanner does with the cell of a column.
const SKIP_SHORT = 0;
const SKIP_LONG = 1;
const DATE = 2;
const SCORE = 3;
const QUESTION = 4;
const COMMENT = 5;
const APP = 6;
const OS = 7;
const BROWSER = 8;
const LANGUAGE = 9;

const COLUMN_KINDS: Readonly<Record<string, number>> = {
  date: DATE,
  score: SCORE,
  question: QUESTION,
  comment: COMMENT,
  app: APP,
  operatingsystem: OS,
  browser: BROWSER,
  language: LANGUAGE,
  // Short cells the digest skips: a byte loop beats a native call for them.
  entrypoint: SKIP_SHORT,
  browserversion: SKIP_SHORT,
  screenresolution: SKIP_SHORT,
};
/** Bytes of a long cell looked at one by one before the native indexOf takes over. */
const SHORT_LOOK = 12;
/** Slots of a column's value table (a power of two; half of them used at most). */
const VALUE_SLOTS = 4096;
/** `yyyy-MM-dd HH:mm:ss` */
const DATE_BYTES = 19;

export class OxCsvDigestScanner {
  /** Set when the header is not one the digest can read (then nothing is counted). */
  unavailable: string | undefined;
  /** Rows that did not have the header's shape (counted, with an invalid score). */
  unreadableRows = 0;
  private header = true;
  private kinds: number[] = [];
  /** Columns 0..last are walked; later ones are never looked at. */
  private last = -1;
  private delimiterBytes = 1;
  private readonly defaults = { app: 0, os: 0, browser: 0, language: 0 };
  private readonly apps: ByteInterner;
  private readonly questions: ByteInterner;
  private readonly oses: ByteInterner;
  private readonly browsers: ByteInterner;
  private readonly languages: ByteInterner;

  constructor(private readonly digest: DigestAccumulator) {
    this.apps = new ByteInterner(digest.apps);
    this.questions = new ByteInterner(digest.questions);
    this.oses = new ByteInterner(digest.operatingSystems);
    this.browsers = new ByteInterner(digest.browsers);
    this.languages = new ByteInterner(digest.languages);
  }

  /** One row, `bytes[start, end)` without its CR; the first one is the header. */
  row(bytes: Buffer, start: number, end: number, cut: boolean): void {
    if (this.header) {
      this.header = false;
      this.readHeader(bytes, start, end);
      return;
    }
    if (this.unavailable !== undefined) return;
    if (cut || !this.readRow(bytes, start, end)) {
      this.unreadableRows += 1;
      this.digest.addRow(INVALID_SLOT, -1, this.defaults.app, this.defaults.browser, this.defaults.os, this.defaults.language);
    }
  }

  /** False when the row does not have the header's shape. */
  private readRow(b: Buffer, start: number, end: number): boolean {
    let slot = INVALID_SLOT;
    let question = -1;
    let app = this.defaults.app;
    let os = this.defaults.os;
    let browser = this.defaults.browser;
    let language = this.defaults.language;
    let dateStart = -1;
    let commentStart = -1;
    let commentEnd = -1;
    const kinds = this.kinds;
    const last = this.last;
    const skip = this.delimiterBytes + 1;
    const view = this.viewOf(b);
    let pos = start;
    for (let column = 0; column <= last; column++) {
      if (pos >= end || b[pos] !== QUOTE) return false;
      const cell = pos + 1;
      const kind = kinds[column]!;
      let close: number;
      if (kind === SKIP_LONG) {
        close = b[cell] === QUOTE ? cell : b.indexOf(QUOTE, cell);
      } else if (kind === COMMENT) {
        // Most comments are empty or short: a few bytes in a loop, then the native search.
        close = cell;
        const near = Math.min(end, cell + SHORT_LOOK);
        while (close < near && b[close] !== QUOTE) close++;
        if (close === near) close = b.indexOf(QUOTE, close);
        commentStart = cell;
        commentEnd = close;
      } else if (
        kind === DATE &&
        b[cell + DATE_BYTES] === QUOTE &&
        b[cell + 4] === 0x2d &&
        b[cell + 13] === 0x3a &&
        b[cell + 16] === 0x3a
      ) {
        close = cell + DATE_BYTES;
        dateStart = cell;
      } else if (kind === SCORE) {
        let value = 0;
        let ok = b[cell] !== QUOTE;
        close = cell;
        for (let byte = b[close]!; byte !== QUOTE && close < end; byte = b[++close]!) {
          const digit = byte - 48;
          if (digit < 0 || digit > 9 || value > 1000) ok = false;
          else value = value * 10 + digit;
        }
        if (ok) slot = this.digest.scoreSlot(value);
      } else if (kind === SKIP_SHORT || kind === DATE) {
        close = this.scanCell(view, b, cell, end);
        if (kind === DATE) dateStart = cell;
      } else {
        close = this.scanCell(view, b, cell, end);
        if (close < 0) return false;
        const hash = this.hash;
        const check = this.check;
        if (kind === APP) app = this.apps.id(b, cell, close, hash, check);
        else if (kind === OS) os = this.oses.id(b, cell, close, hash, check);
        else if (kind === BROWSER) browser = this.browsers.id(b, cell, close, hash, check);
        else if (kind === LANGUAGE) language = this.languages.id(b, cell, close, hash, check);
        else question = this.questions.id(b, cell, close, hash, check);
      }
      if (close < 0 || close >= end) return false;
      pos = close + skip;
    }
    // UTF-8 bytes bound the characters from above and unescaping only shortens: a safe pre-check.
    if (commentEnd > commentStart && this.digest.comments.mightTake(slot, commentEnd - commentStart)) {
      this.offerComment(
        b,
        commentStart,
        commentEnd,
        dateStart >= 0 ? dateStart : end,
        dateStart >= 0 ? Math.min(dateStart + DATE_BYTES, end) : end,
        slot,
        question,
        app,
      );
    }
    this.digest.addRow(slot, question, app, browser, os, language);
    return true;
  }

  /** The hashes of the cell `scanCell` read last: two independent 32-bit hashes (see ByteInterner). */
  private hash = 0;
  private check = 0;
  private view: DataView = new DataView(new ArrayBuffer(0));
  private viewBytes: Buffer | undefined;

  /** A DataView over the row's buffer, made once per chunk (rows of one chunk share it). */
  private viewOf(b: Buffer): DataView {
    if (b !== this.viewBytes) {
      this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      this.viewBytes = b;
    }
    return this.view;
  }

  /**
   * Finds the closing quote of the cell starting at `from` (before `end`) four bytes at a time,
   * hashing the bytes before it into `hash`/`check`; -1 when there is none. Little-endian words
   * from the cell start: the same bytes always give the same hashes. A word holds a quote when
   * one of its bytes XOR 0x22 is zero; the lowest such byte is the first quote (the classic
   * has-zero-byte test, exact for its lowest byte).
   */
  private scanCell(view: DataView, b: Buffer, from: number, end: number): number {
    let hash = FNV_OFFSET;
    let check = 0;
    let at = from;
    for (; at + 4 <= end; at += 4) {
      const word = view.getInt32(at, true);
      const x = word ^ QUOTES;
      const zero = (x - ONES) & ~x & HIGHS;
      if (zero !== 0) {
        const bytes = (31 - Math.clz32(zero & -zero)) >> 3;
        if (bytes > 0) {
          const part = word & ((1 << (8 * bytes)) - 1);
          hash = Math.imul(hash ^ part, FNV_PRIME);
          check = Math.imul(check + part, GOLDEN);
        }
        this.hash = hash;
        this.check = check;
        return at + bytes;
      }
      hash = Math.imul(hash ^ word, FNV_PRIME);
      check = Math.imul(check + word, GOLDEN);
    }
    // The last 0-3 bytes before the row's end, packed like a partial word.
    let part = 0;
    for (let shift = 0; at < end; at++, shift += 8) {
      const byte = b[at]!;
      if (byte === QUOTE) {
        if (shift > 0) {
          hash = Math.imul(hash ^ part, FNV_PRIME);
          check = Math.imul(check + part, GOLDEN);
        }
        this.hash = hash;
        this.check = check;
        return at;
      }
      part |= byte << shift;
    }
    return -1;
  }

  /** Kept apart from readRow: rarely run, and readRow stays small enough to compile fast. */
  private offerComment(
    b: Buffer,
    start: number,
    end: number,
    dateStart: number,
    dateEnd: number,
    slot: number,
    question: number,
    app: number,
  ): void {
    const questionName = question >= 0 ? (this.digest.questions.names[question] ?? '(other)') : undefined;
    this.digest.comments.offer({
      slot,
      text: oxCsvText(b.toString('utf8', start, end)),
      app: this.digest.apps.names[app] ?? '(other)',
      date: b.toString('latin1', dateStart, dateEnd),
      ...(questionName === undefined ? {} : { question: questionName }),
    });
  }

  private readHeader(b: Buffer, start: number, end: number): void {
    let pos = start;
    // OX's body starts with a UTF-8 BOM.
    if (b[pos] === 0xef && b[pos + 1] === 0xbb && b[pos + 2] === 0xbf) pos += 3;
    const names: string[] = [];
    const gaps: number[] = [];
    while (pos < end) {
      const open = b.indexOf(QUOTE, pos);
      if (open < 0 || open >= end) break;
      if (names.length > 0) gaps.push(open - pos);
      const close = b.indexOf(QUOTE, open + 1);
      if (close < 0 || close >= end) break;
      names.push(oxCsvText(b.toString('utf8', open + 1, close)));
      pos = close + 1;
    }
    const keys = names.map((n) => n.toLowerCase().replace(/[\s_-]+/g, ''));
    const delimiter = gaps[0] ?? 1;
    if (!keys.includes('score') || gaps.some((g) => g !== delimiter)) {
      this.unavailable = `OX's CSV header is not one the digest can read (${names.slice(0, 20).join(', ') || 'no cells'})`;
      return;
    }
    this.delimiterBytes = delimiter;
    this.kinds = keys.map((k) => COLUMN_KINDS[k] ?? SKIP_LONG);
    this.kinds.forEach((kind, column) => {
      if (kind >= DATE) this.last = column;
    });
    // Columns this OX does not send count as "" (a row always has an app, even an empty one).
    const orEmpty = (key: string, interner: Interner) => (keys.includes(key) ? 0 : interner.id(''));
    this.defaults.app = orEmpty('app', this.digest.apps);
    this.defaults.os = orEmpty('operatingsystem', this.digest.operatingSystems);
    this.defaults.browser = orEmpty('browser', this.digest.browsers);
    this.defaults.language = orEmpty('language', this.digest.languages);
  }
}

/**
 * A cell's text as OX meant it: the formula guard's `'` before = + - @ | removed and `\|` back to
 * `|`. OX's `"` → `'` cannot be undone, nor told apart: a value that itself began with `'=` (a
 * pipe after a typed `'` is escaped, so `'|` is always the guard).
 */
export function oxCsvText(cell: string): string {
  let text = cell;
  if (text.length >= 2 && text.charCodeAt(0) === 0x27 && '=+-@|'.includes(text[1]!)) text = text.slice(1);
  if (text.includes('\\|')) text = text.replaceAll('\\|', '|');
  return text;
}

/**
 * Cell bytes to the interner's ids without decoding them each time: an open-addressed table keyed
 * by two independent 32-bit hashes the scanner computed (FNV-1a and a multiplicative one) and the
 * byte length. Two different values share all three with a chance of about n² / 2^65 (1e-13 for a
 * thousand values), and then merely count together — as if a client had sent the other value,
 * which these client-supplied fields allow anyway. Confirming byte by byte cost a quarter of the
 * scanner's time.
 */
class ByteInterner {
  // Open addressing with the key in the slot (typed arrays: int32 hashes would turn a JS array
  // into doubles and the scanner's compiled code would be thrown away).
  private readonly hashes = new Int32Array(VALUE_SLOTS);
  private readonly checks = new Int32Array(VALUE_SLOTS);
  /** Byte length + 1; 0 marks a free slot. */
  private readonly lengths = new Int32Array(VALUE_SLOTS);
  private readonly ids = new Int32Array(VALUE_SLOTS);
  private size = 0;

  constructor(private readonly target: Interner) {}

  id(source: Buffer, start: number, end: number, hash: number, check: number): number {
    const mask = VALUE_SLOTS - 1;
    const length = end - start + 1;
    let at = hash & mask;
    for (; this.lengths[at] !== 0; at = (at + 1) & mask) {
      if (this.hashes[at] === hash && this.checks[at] === check && this.lengths[at] === length) return this.ids[at]!;
    }
    return this.learn(source, start, end, hash, check, at);
  }

  /** A value not seen before: its name decides the id (two byte forms of one name share it). */
  private learn(source: Buffer, start: number, end: number, hash: number, check: number, at: number): number {
    const id = this.target.id(oxCsvText(source.toString('utf8', start, end)));
    // At most half full: further new values are only looked up by name.
    if (this.size < VALUE_SLOTS / 2) {
      this.size += 1;
      this.hashes[at] = hash;
      this.checks[at] = check;
      this.lengths[at] = end - start + 1;
      this.ids[at] = id;
    }
    return id;
  }
}
