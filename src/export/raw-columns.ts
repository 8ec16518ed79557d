/**
 * Which columns a raw-based export (csv, jsonl) writes, and which raw keys OX sent.
 *
 * OX's raw export leaves the key order undefined and a newer OX may add keys, while a CSV header
 * goes first. So, with no `columns:` chosen, the columns are the type's known columns in OX's
 * order, then every other key of the FIRST record (a newer OX sends its keys on every row, so in
 * practice the header is complete from row one). A key that first appears in a later row widens
 * the columns after the header is written: the pass goes on reading (writing nothing more) to
 * learn every key of the window, then the export starts again with the wider header
 * (`ColumnsGrew`), so no key is ever dropped and every row has the same cells.
 */
import { OxBatchError, type OxBatchErrorCode } from '../errors.js';
import type { FeedbackColumn } from './feedback-columns.js';
import { columnOfKey } from './feedback-columns.js';

/** Thrown at the end of a pass that met keys its header lacks; the export restarts with them. */
export class ColumnsGrew extends OxBatchError {
  override readonly name = 'ColumnsGrew';
  readonly code: OxBatchErrorCode = 'OXB_COLUMNS_GREW';
  /** The export runs again with the wider header (export-feedback.ts does so itself). */
  readonly retryable = true;
  constructor(readonly extraKeys: readonly string[]) {
    super(`OX sent raw keys after the header was written (${extraKeys.join(', ')}): export again with the wider header`);
  }
}

export class RawColumns {
  /** Every raw key seen in this pass, in order of first appearance. */
  private readonly seen = new Set<string>();
  private readonly columnKeys: Set<string>;
  private grew: string[] | undefined;
  private fixed: boolean;

  /**
   * `chosen`: exactly these columns (nothing is ever added). Otherwise `known` plus `extraKeys`
   * (learnt by an earlier pass), plus the first record's other keys; `growAnytime` (JSON lines,
   * which has no header): plus any record's other keys, in order of first appearance.
   */
  constructor(
    private readonly known: readonly FeedbackColumn[],
    private readonly chosen: readonly FeedbackColumn[] | undefined,
    extraKeys: readonly string[] = [],
    private readonly growAnytime = false,
  ) {
    this.columns = chosen ? [...chosen] : [...known, ...extraKeys.filter((k) => !known.some((c) => c.key === k)).map(columnOfKey)];
    this.columnKeys = new Set(this.columns.map((c) => c.key));
    this.index = new Map(this.columns.map((c, i) => [c.key, i]));
    this.fixed = chosen !== undefined;
  }

  private readonly index: Map<string, number>;

  readonly columns: FeedbackColumn[];

  /** Takes the record's keys into account; false once the header is known to be too narrow. */
  admit(record: Readonly<Record<string, unknown>>): boolean {
    for (const key in record) this.columnOf(key);
    return this.endRecord();
  }

  /**
   * The column `key` is written in (its index in `columns`), or -1 when it is not written (not
   * chosen, or first seen after the header was fixed). Notes every key seen.
   */
  columnOf(key: string): number {
    const known = this.index.get(key);
    if (!this.seen.has(key)) {
      this.seen.add(key);
      if (known === undefined && !this.chosen) {
        if (!this.fixed) {
          this.columns.push(columnOfKey(key));
          this.columnKeys.add(key);
          this.index.set(key, this.columns.length - 1);
          return this.columns.length - 1;
        }
        (this.grew ??= []).push(key);
      }
    }
    return known ?? -1;
  }

  hasSeen(key: string): boolean {
    return this.seen.has(key);
  }

  /** After each record: the first one fixes the columns (not for JSON lines); false once too narrow. */
  endRecord(): boolean {
    this.fixed = !this.growAnytime;
    return this.grew === undefined;
  }

  /** After the last record: throws ColumnsGrew when the header turned out too narrow. */
  finish(): void {
    if (this.grew) throw new ColumnsGrew([...this.columns.slice(this.known.length).map((c) => c.key), ...this.grew]);
  }

  get keysSeen(): string[] {
    return [...this.seen];
  }

  /** Keys OX sent that the written columns do not hold (only with chosen columns). */
  get keysLeftOut(): string[] {
    return this.keysSeen.filter((k) => !this.columnKeys.has(k));
  }
}
