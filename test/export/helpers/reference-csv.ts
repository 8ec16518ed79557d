/**
 * The `csv` format as built before its fast path: raw records (objects parsed from OX's raw
 * export) turned into RFC 4180 CSV by csv-stringify, kept verbatim from src/export/normalised-csv.ts
 * as of commit a102a31. The golden tests compare the fast path's bytes against this, for every
 * fixture and for random input: the output must stay byte for byte what it was.
 */
import { stringify, type Options as StringifyOptions } from 'csv-stringify/sync';
import type { FeedbackColumn } from '../../../src/export/feedback-columns.js';
import type { RawColumns } from '../../../src/export/raw-columns.js';

export interface ReferenceCsvOptions {
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
export async function* referenceCsv(
  records: AsyncIterable<Record<string, unknown>>,
  options: ReferenceCsvOptions,
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
  if (/^\d{10,}$/.test(value)) {
    // The csv-stringify implementation threw RangeError here for epoch ms past what a Date holds
    // (found by the seeded property, seed 884586620); both now keep such a value as it came.
    const date = new Date(Number(value));
    if (!Number.isNaN(date.getTime())) return date.toISOString().replace('.000Z', 'Z');
  }
  return value;
}
