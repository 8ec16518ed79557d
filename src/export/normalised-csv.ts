/**
 * `csv` format: RFC 4180 CSV built from the raw export with csv-stringify — CRLF row ends,
 * quotes doubled, a cell quoted when it holds the delimiter, a quote or any line break, OX's
 * header names, dates as ISO 8601 UTC. Every column OX sent is kept (raw-columns.ts) unless
 * `columns:` chose some. Cells get the same spreadsheet formula guard as OX's own CSV (a leading
 * = + - @ | gets a `'`), and also a leading TAB or CR (which some spreadsheets skip before reading
 * a formula), unless switched off, because these files end up in spreadsheets.
 */
import { stringify, type Options as StringifyOptions } from 'csv-stringify/sync';
import type { FeedbackColumn } from './feedback-columns.js';
import type { RawColumns } from './raw-columns.js';

export interface NormalisedCsvOptions {
  columns: RawColumns;
  delimiter: string;
  header: boolean;
  formulaGuard: boolean;
}

/**
 * Rows stringified together: amortises per-call overhead. 128 rows (~40 KB) stay below V8's
 * large-object size (~128 KB); bigger batches land in large-object space, which only a full GC
 * frees, and a 1M-row export then peaks ~35 MB higher.
 */
const BATCH_ROWS = 128;
/** = + - @ | TAB CR: what spreadsheets read as (the start of) a formula. */
const FORMULA_START = new Set([0x3d, 0x2b, 0x2d, 0x40, 0x7c, 0x09, 0x0d]);
/** OX's raw `date`: `yyyy-MM-dd HH:mm:ss` in UTC. */
const OX_DATE = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/;

/**
 * CSV text in chunks of rows; counts records into `counter.rows`. The header waits for the first
 * record (whose unknown keys become columns); throws ColumnsGrew at the end when a later record
 * brought a key the header lacks.
 */
export async function* normalisedCsv(
  records: AsyncIterable<Record<string, unknown>>,
  options: NormalisedCsvOptions,
  counter: { rows: number },
): AsyncGenerator<string> {
  const { columns } = options;
  let settings: StringifyOptions | undefined;
  const start = function* (): Generator<string> {
    settings = {
      columns: columns.columns.map((c, i) => ({ key: String(i), header: c.header })),
      delimiter: options.delimiter,
      record_delimiter: 'windows',
      // csv-stringify quotes only for its own record delimiter; RFC 4180 wants any CR or LF quoted.
      quoted_match: /[\r\n]/,
    };
    if (options.header) yield stringify([], { ...settings, header: true });
  };
  let batch: string[][] = [];
  let writing = true;
  for await (const record of records) {
    counter.rows += 1;
    // Too narrow a header: read on to learn every key, write nothing more (see raw-columns.ts).
    if (!columns.admit(record)) writing = false;
    if (!writing) continue;
    if (!settings) yield* start();
    batch.push(columns.columns.map((column) => cell(record, column, options.formulaGuard)));
    if (batch.length === BATCH_ROWS) {
      yield stringify(batch, settings!);
      batch = [];
    }
  }
  columns.finish();
  if (!settings) yield* start();
  if (batch.length > 0) yield stringify(batch, settings!);
}

function cell(record: Record<string, unknown>, column: FeedbackColumn, formulaGuard: boolean): string {
  const value = record[column.key];
  const raw = value === undefined || value === null ? '' : typeof value === 'string' ? value : String(value);
  const text = column.key === 'date' ? isoDate(raw) : raw;
  return formulaGuard && FORMULA_START.has(text.charCodeAt(0)) ? `'${text}` : text;
}

/** `2026-11-01 12:00:00` (OX, UTC) → `2026-11-01T12:00:00Z`; epoch ms → ISO; anything else as is. */
export function isoDate(value: string): string {
  const ox = OX_DATE.exec(value);
  if (ox) return `${ox[1]}T${ox[2]}Z`;
  if (/^\d{10,}$/.test(value)) return new Date(Number(value)).toISOString().replace('.000Z', 'Z');
  return value;
}
