/**
 * `jsonl` format: one JSON object per line (LF), straight from OX's raw export. Values stay as
 * OX sent them (strings). OX leaves the key order undefined, so keys are written in a stable
 * order that makes files diffable: the type's known keys in OX's column order, then any other
 * key (a newer OX) in order of first appearance; with `columns:`, only the chosen keys.
 */
import type { RawColumns } from './raw-columns.js';
import type { RecordCounter } from './record-counter.js';

/** Lines joined per chunk: small enough (~40 KB) to die young in V8's heap (a big string lands in large-object space, which only a full GC frees). */
const BATCH_ROWS = 128;

export async function* jsonLines(
  records: AsyncIterable<Record<string, unknown>>,
  columns: RawColumns,
  chosen: boolean,
  counter: RecordCounter,
): AsyncGenerator<string> {
  let batch = '';
  let inBatch = 0;
  for await (const record of records) {
    columns.admit(record);
    counter.onRecord?.(record);
    const ordered: Record<string, unknown> = {};
    for (const { key } of columns.columns) {
      // Chosen columns are written on every line ("" when absent); otherwise the keys OX sent.
      if (key in record) ordered[key] = record[key];
      else if (chosen) ordered[key] = '';
    }
    batch += `${JSON.stringify(ordered)}\n`;
    counter.rows += 1;
    if (++inBatch === BATCH_ROWS) {
      yield batch;
      batch = '';
      inBatch = 0;
    }
  }
  if (batch) yield batch;
}
