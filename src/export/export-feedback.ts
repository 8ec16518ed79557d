/**
 * One pass from OX into a spool file, in the chosen format: OX's CSV bytes untouched (`ox-csv`),
 * RFC 4180 CSV (`csv`) or JSON lines (`jsonl`) built from the raw export, optionally gzipped.
 * Rows, bytes and SHA-256 are known when the spool is complete; memory stays constant.
 */
import { spoolStream, type SpooledArtifact } from '../delivery/spool.js';
import type { OxApi } from '../ox/types.js';
import { selectColumns } from './feedback-columns.js';
import { jsonLines } from './jsonl.js';
import { KeysSeen } from './keys-seen.js';
import { normalisedCsv } from './normalised-csv.js';
import { OxCsvRowCounter } from './ox-csv-row-counter.js';

export const EXPORT_FORMATS = ['ox-csv', 'csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface FeedbackExportSpec {
  contextGroup: string;
  type: string;
  format: ExportFormat;
  gzip: boolean;
  window: { start: number; end: number };
  /** csv/jsonl: raw keys or OX header names; default all of OX's columns. */
  columns?: readonly string[];
  /** ox-csv: sent to OX (it uses the first character); csv: the field separator. */
  delimiter?: string;
  /** csv: write the header row. */
  header?: boolean;
  /** csv: prefix cells starting with = + - @ | with `'`. */
  formulaGuard?: boolean;
  spoolDir?: string;
  signal?: AbortSignal;
  /** Bytes received so far, about once a second. */
  onProgress?: (bytes: number) => void;
}

/** The spooled export and what it holds of what OX sent. */
export interface ExportedFeedback extends SpooledArtifact {
  /** The columns written: OX's header names for ox-csv and csv, raw keys for jsonl (`*`: all). */
  readonly columns: string[];
  /** csv/jsonl: every raw key OX sent in the window, in the order first seen. */
  readonly keysSeen?: string[];
}

export async function exportFeedback(ox: OxApi, spec: FeedbackExportSpec): Promise<ExportedFeedback> {
  const query = { contextGroup: spec.contextGroup, type: spec.type, start: spec.window.start, end: spec.window.end, signal: spec.signal };
  const spool = { dir: spec.spoolDir, gzip: spec.gzip, signal: spec.signal, onProgress: spec.onProgress };
  if (spec.format === 'ox-csv') {
    const body = await ox.exportCsv({ ...query, delimiter: spec.delimiter });
    const rowCounter = new OxCsvRowCounter((spec.delimiter ?? ';').charAt(0));
    const spooled = await spoolStream(body, { ...spool, rowCounter });
    return Object.assign(spooled, { columns: rowCounter.columns });
  }
  const counter = { rows: 0, update() {} };
  const keysSeen = new KeysSeen();
  const records = keysSeen.tap(ox.exportRaw(query));
  const chosen = spec.format === 'csv' || spec.columns?.length ? selectColumns(spec.columns) : undefined;
  const text = spec.format === 'csv'
    ? normalisedCsv(records, {
      columns: chosen!,
      delimiter: spec.delimiter ?? ',',
      header: spec.header ?? true,
      formulaGuard: spec.formulaGuard ?? true,
    }, counter)
    : jsonLines(records, chosen, counter);
  const spooled = await spoolStream(text, { ...spool, rowCounter: counter });
  const columns = chosen ? chosen.map((c) => (spec.format === 'csv' ? c.header : c.key)) : ['*'];
  return Object.assign(spooled, { columns, keysSeen: keysSeen.list() });
}

/** File extension and MIME type of an artifact as stored and attached. */
export function artifactFileType(format: ExportFormat, gzip: boolean): { ext: string; contentType: string } {
  const ext = format === 'jsonl' ? 'jsonl' : 'csv';
  if (gzip) return { ext, contentType: 'application/gzip' };
  return { ext, contentType: format === 'jsonl' ? 'application/x-ndjson; charset=utf-8' : 'text/csv; charset=utf-8' };
}
