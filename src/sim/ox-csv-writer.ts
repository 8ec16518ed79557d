/**
 * OX's feedback export byte formats: the CSV of `export/{group}/{type}` and the JSON array of
 * `.../raw`. Rows are produced as string chunks so a million-row export streams in constant memory.
 *
 * CSV rules (from OX's exporter): BOM; every cell quoted; delimiter = first char of `delimiter`
 * (default `;`); each row, the last included, ends with a lone CR; inside a cell line breaks become
 * CRLF, `"` becomes `'`, a leading `= + - @ |` gets a `'` in front and every further `|` becomes `\|`;
 * Date is `yyyy-MM-dd HH:mm:ss` UTC.
 */
import { CSV_HEADERS, RAW_KEYS } from './feedback-fields.js';

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

export function csvHeaderLine(delimiter: string): string {
  return CSV_HEADERS.map(csvCell).join(delimiter) + CSV_ROW_END;
}

/** How a stored value is written into a row; sources cache encoded values per `kind`. */
export interface CellEncoding {
  readonly kind: 'csv' | 'json';
  encode(value: string): string;
}
export const CSV_ENCODING: CellEncoding = { kind: 'csv', encode: csvCell };
export const JSON_ENCODING: CellEncoding = { kind: 'json', encode: (v) => JSON.stringify(v) };

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
}

export function formatUtcDate(ms: number): string {
  return new UtcDateFormatter().format(ms);
}

/** Turns (date, 13 encoded cells) into one output row. */
export interface RowFormat {
  readonly encoding: CellEncoding;
  /** Text before the first row (BOM + header, or `[`). */
  readonly prologue: string;
  /** Text after the last row. */
  readonly epilogue: string;
  row(date: number, cells: readonly string[], first: boolean): string;
}

export function csvRowFormat(delimiter: string): RowFormat {
  const dates = new UtcDateFormatter();
  return {
    encoding: CSV_ENCODING,
    prologue: UTF8_BOM + csvHeaderLine(delimiter),
    epilogue: '',
    row(date, cells) {
      let line = `"${dates.format(date)}"`;
      for (let i = 0; i < cells.length; i++) line += delimiter + cells[i];
      return line + CSV_ROW_END;
    },
  };
}

const JSON_KEY_PREFIXES = RAW_KEYS.slice(1).map((k) => `,${JSON.stringify(k)}:`);

/** Raw export: a JSON array of objects whose values are all strings. */
export function rawJsonRowFormat(): RowFormat {
  const dates = new UtcDateFormatter();
  return {
    encoding: JSON_ENCODING,
    prologue: '[',
    epilogue: ']',
    row(date, cells, first) {
      let obj = `${first ? '' : ','}{"date":"${dates.format(date)}"`;
      for (let i = 0; i < cells.length; i++) obj += JSON_KEY_PREFIXES[i] + cells[i]!;
      return `${obj}}`;
    },
  };
}
