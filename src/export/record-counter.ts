/** What the raw-export writers (csv, jsonl) report per record: the count, and each record to an observer (the digest). */
export interface RecordCounter {
  rows: number;
  onRecord?: (record: Readonly<Record<string, unknown>>) => void;
}
