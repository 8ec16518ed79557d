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
/** Bytes of a long cell looked at one by one before the native indexOf takes over. */
const SHORT_LOOK = 12;
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
  /** The run of short cells from App to Browser (-1: this header has none), and its quotes. */
  private runStart = -1;
  private runEnd = -1;
  private runQuotes = 0;
  private readonly runs = new RunCache();
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
    const runStart = this.runStart;
    let runHash = 0;
    let runCheck = 0;
    let runFrom = -1;
    let pos = start;
    for (let column = 0; column <= last; column++) {
      if (pos >= end || b[pos] !== QUOTE) return false;
      const cell = pos + 1;
      const kind = kinds[column]!;
      let close: number;
      if (column === runStart) {
        // App .. Browser in one loop: the combination is looked up as one value (see RunCache).
        let hash = FNV_OFFSET;
        let check = 0;
        let quotes = this.runQuotes;
        let at = cell;
        for (; at < end; at++) {
          const byte = b[at]!;
          if (byte === QUOTE && --quotes === 0) break;
          hash = Math.imul(hash ^ byte, FNV_PRIME);
          check = Math.imul(check + byte, GOLDEN);
        }
        if (at >= end) return false;
        const found = this.runs.find(hash, check, at - cell);
        if (found >= 0) {
          const ids = this.runs.ids;
          app = ids[found]!;
          os = ids[found + 1]!;
          browser = ids[found + 2]!;
          pos = at + skip;
          column = this.runEnd;
          continue;
        }
        runHash = hash;
        runCheck = check;
        runFrom = cell;
      }
      if (kind === SKIP_LONG || kind === COMMENT) {
        // Most comments are empty or short: a few bytes in a loop, then the native search.
        close = cell;
        const near = Math.min(end, cell + SHORT_LOOK);
        while (close < near && b[close] !== QUOTE) close++;
        if (close === near) close = b.indexOf(QUOTE, close);
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
      if (column === this.runEnd && runFrom >= 0) this.runs.add(runHash, runCheck, close - runFrom, app, os, browser);
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
    // OX's App, Entry Point, Operating System, Browser: short cells side by side.
    const app = this.kinds.indexOf(APP);
    const browser = this.kinds.indexOf(BROWSER);
    const between = this.kinds.slice(app, browser + 1);
    if (app >= 0 && browser > app && between.every((k) => k === APP || k === OS || k === BROWSER || k === SKIP_SHORT)
      && between.filter((k) => k === APP || k === OS || k === BROWSER).length === 3) {
      this.runStart = app;
      this.runEnd = browser;
      // Cells after the first: each has an opening and a closing quote; the first only its closing one.
      this.runQuotes = 2 * (browser - app) + 1;
    }
    // Columns this OX does not send count as "" (a row always has an app, even an empty one).
    const orEmpty = (key: string, interner: Interner) => (keys.includes(key) ? 0 : interner.id(''));
    this.defaults.app = orEmpty('app', this.digest.apps);
    this.defaults.os = orEmpty('operatingsystem', this.digest.operatingSystems);
    this.defaults.browser = orEmpty('browser', this.digest.browsers);
    this.defaults.language = orEmpty('language', this.digest.languages);
  }
}

/**
 * (app, os, browser) ids by the bytes of the cells from App to Browser, keyed like ByteInterner.
 * Real feedback has a few thousand such combinations; one lookup replaces three and the loop
 * over four cells runs without per-cell set-up. When full, new combinations take the per-cell path.
 */
class RunCache {
  private readonly table = new Int32Array(16384).fill(-1);
  private readonly keys = new Int32Array(3 * 8192);
  readonly ids = new Int32Array(3 * 8192);
  private size = 0;

  /** Offset of the ids in `ids`, or -1. */
  find(hash: number, check: number, length: number): number {
    const mask = this.table.length - 1;
    for (let at = hash & mask, entry = this.table[at]!; entry !== -1; at = (at + 1) & mask, entry = this.table[at]!) {
      const k = 3 * entry;
      if (this.keys[k] === hash && this.keys[k + 1] === check && this.keys[k + 2] === length) return k;
    }
    return -1;
  }

  add(hash: number, check: number, length: number, app: number, os: number, browser: number): void {
    if (this.size * 3 >= this.keys.length) return;
    const mask = this.table.length - 1;
    let at = hash & mask;
    while (this.table[at] !== -1) at = (at + 1) & mask;
    const k = 3 * this.size;
    this.table[at] = this.size++;
    this.keys[k] = hash;
    this.keys[k + 1] = check;
    this.keys[k + 2] = length;
    this.ids[k] = app;
    this.ids[k + 1] = os;
    this.ids[k + 2] = browser;
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
