/**
 * `jsonl` format: one JSON object per line (LF), straight from OX's raw export. Values stay as
 * OX sent them (strings); keys come in OX's column order, limited to the chosen columns.
 */
import { OX_FEEDBACK_COLUMNS, type FeedbackColumn } from './feedback-columns.js';

/** Lines joined per chunk: small enough (~40 KB) to die young in V8's heap (see normalised-csv.ts). */
const BATCH_ROWS = 128;

export async function* jsonLines(
  records: AsyncIterable<Record<string, unknown>>,
  columns: readonly FeedbackColumn[] | undefined,
  counter: { rows: number },
): AsyncGenerator<string> {
  let batch = '';
  let inBatch = 0;
  for await (const record of records) {
    batch += `${JSON.stringify(columns ? pick(record, columns) : inOxOrder(record))}\n`;
    counter.rows += 1;
    if (++inBatch === BATCH_ROWS) {
      yield batch;
      batch = '';
      inBatch = 0;
    }
  }
  if (batch) yield batch;
}

function pick(record: Record<string, unknown>, columns: readonly FeedbackColumn[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const column of columns) picked[column.key] = record[column.key] ?? '';
  return picked;
}

/** OX leaves the raw key order undefined; a stable order makes files diffable. */
function inOxOrder(record: Record<string, unknown>): Record<string, unknown> {
  const ordered: Record<string, unknown> = {};
  for (const { key } of OX_FEEDBACK_COLUMNS) if (key in record) ordered[key] = record[key];
  for (const key of Object.keys(record)) if (!(key in ordered)) ordered[key] = record[key];
  return ordered;
}
