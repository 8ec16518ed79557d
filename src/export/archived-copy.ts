/**
 * What an export's archive object holds of the feed, recorded in its manifest and in the
 * window's ledger result: the feed, the format, the columns written, header and formula guard,
 * the rows, and whether it is a complete copy of what OX sent. Only a complete copy lets the
 * purge delete the window from OX (purge/verified-watermark.ts): deleting on the strength of a
 * partial one would lose the rest for good.
 *
 * Complete: `ox-csv` (OX's own bytes); `csv` and `jsonl` without `columns` (they write every raw
 * key OX sent, known or not).
 */
import type { ExportedFeedback } from './export-feedback.js';
import type { FeedbackExportParams } from './export-params.js';

export interface ArchivedCopy {
  contextGroup: string;
  type: string;
  format: FeedbackExportParams['format'];
  compress: FeedbackExportParams['compress'];
  /** Column headers written (ox-csv: OX's header row; csv), or the raw keys written (jsonl). */
  columns: string[];
  /** csv: whether a header row was written; ox-csv: always (OX's). */
  header: boolean;
  /** Cells starting like a formula got a `'` (OX does so in ox-csv itself). */
  formulaGuard: boolean;
  rows: number;
  complete: boolean;
  /** Why it is not a complete copy of the feed. */
  partial?: string;
}

export function describeCopy(
  params: FeedbackExportParams,
  exported: Pick<ExportedFeedback, 'columns' | 'keysLeftOut' | 'rows'>,
): ArchivedCopy {
  const base = {
    contextGroup: params.contextGroup,
    type: params.type,
    format: params.format,
    compress: params.compress,
    columns: exported.columns,
    header: params.format === 'ox-csv' ? true : params.format === 'csv' ? params.header : false,
    formulaGuard: params.format === 'ox-csv' ? true : params.format === 'csv' ? params.formulaGuard : false,
    rows: exported.rows,
  };
  const partial = partialReason(params, exported);
  return partial === undefined ? { ...base, complete: true } : { ...base, complete: false, partial };
}

function partialReason(params: FeedbackExportParams, exported: Pick<ExportedFeedback, 'keysLeftOut'>): string | undefined {
  if (params.format === 'ox-csv') return undefined;
  if (params.columns && params.columns.length > 0) return `only the columns ${params.columns.join(', ')} (params.columns)`;
  // Without `columns`, csv and jsonl write every raw key OX sent (export/raw-columns.ts); the
  // export says what it left out all the same, and anything left out makes the copy partial.
  const dropped = exported.keysLeftOut ?? [];
  return dropped.length > 0 ? `the ${params.format} has no column for ${dropped.join(', ')}, which OX sent` : undefined;
}

/**
 * Whether a done window's ledger result is a complete copy of its feed: from its recorded
 * `copy`. A window archived before ox-batch recorded it counts only as `ox-csv` (OX's own bytes):
 * a csv or jsonl result of that time does not say whether `columns` left some out. Running such
 * a window again with --force records it (an identical export is not written again).
 */
export function completeCopyOf(result: unknown): { complete: boolean; reason?: string } {
  const r = (typeof result === 'object' && result !== null ? result : {}) as {
    copy?: { complete?: unknown; partial?: unknown };
    format?: unknown;
  };
  if (r.copy && typeof r.copy === 'object') {
    return r.copy.complete === true
      ? { complete: true }
      : { complete: false, reason: typeof r.copy.partial === 'string' ? r.copy.partial : 'recorded as a partial copy' };
  }
  const format = r.format ?? 'ox-csv';
  if (format === 'ox-csv') return { complete: true };
  return {
    complete: false,
    reason: `a ${String(format)} export archived before ox-batch recorded which columns it holds; run the window again with --force to record it`,
  };
}
