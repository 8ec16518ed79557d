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
    let pos = start;
    for (let column = 0; column <= last; column++) {
      if (pos >= end || b[pos] !== QUOTE) return false;
      const cell = pos + 1;
      const kind = kinds[column]!;
      let close: number;
      if (kind === SKIP_LONG || kind === COMMENT) {
        close = b[cell] === QUOTE ? cell : b.indexOf(QUOTE, cell);
        if (kind === COMMENT) {
          commentStart = cell;
          commentEnd = close;
        }
      } else if (kind === DATE && b[cell + DATE_BYTES] === QUOTE && b[cell + 4] === 0x2d && b[cell + 13] === 0x3a && b[cell + 16] === 0x3a) {
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
        close = cell;
        while (close < end && b[close] !== QUOTE) close++;
        if (kind === DATE) dateStart = cell;
      } else {
        // Two independent 32-bit hashes and the length name a value (see ByteInterner).
        let hash = FNV_OFFSET;
        let check = 0;
        close = cell;
        for (let byte = b[close]!; byte !== QUOTE && close < end; byte = b[++close]!) {
          hash = Math.imul(hash ^ byte, FNV_PRIME);
          check = Math.imul(check + byte, GOLDEN);
        }
        if (close >= end) return false;
        if (kind === APP) app = this.apps.id(b, cell, close, hash, check);
        else if (kind === OS) os = this.oses.id(b, cell, close, hash, check);
        else if (kind === BROWSER) browser = this.browsers.id(b, cell, close, hash, check);
        else if (kind === LANGUAGE) language = this.languages.id(b, cell, close, hash, check);
        else question = this.questions.id(b, cell, close, hash, check);
      }
      if (close < 0 || close >= end) return false;
      pos = close + skip;
    }
    if (commentEnd > commentStart && this.digest.comments.mightTake(slot, commentEnd - commentStart)) {
      // UTF-8 bytes bound the characters from above and unescaping only shortens: a safe pre-check.
      const questionName = question >= 0 ? this.digest.questions.names[question] ?? '(other)' : undefined;
      this.digest.comments.offer({
        slot,
        text: oxCsvText(b.toString('utf8', commentStart, commentEnd)),
        app: this.digest.apps.names[app] ?? '(other)',
        date: dateStart >= 0 ? b.toString('latin1', dateStart, Math.min(dateStart + DATE_BYTES, end)) : '',
        ...(questionName === undefined ? {} : { question: questionName }),
      });
    }
    this.digest.addRow(slot, question, app, browser, os, language);
    return true;
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
 * `|`. (OX's `"` → `'` cannot be undone.)
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
  private readonly table = new Int32Array(4096).fill(-1);
  private readonly hashes: number[] = [];
  private readonly checks: number[] = [];
  private readonly lengths: number[] = [];
  private readonly ids: number[] = [];

  constructor(private readonly target: Interner) {}

  id(source: Buffer, start: number, end: number, hash: number, check: number): number {
    const mask = this.table.length - 1;
    const length = end - start;
    let at = hash & mask;
    for (let entry = this.table[at]!; entry !== -1; entry = this.table[at]!) {
      if (this.hashes[entry] === hash && this.checks[entry] === check && this.lengths[entry] === length) return this.ids[entry]!;
      at = (at + 1) & mask;
    }
    const id = this.target.id(oxCsvText(source.toString('utf8', start, end)));
    // The table stays at most half full: further new values are only looked up by name.
    if (this.ids.length < this.table.length / 2) {
      this.table[at] = this.ids.length;
      this.hashes.push(hash);
      this.checks.push(check);
      this.lengths.push(length);
      this.ids.push(id);
    }
    return id;
  }
}
