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

/** The spooled export, what it holds of what OX sent, and how often OX's answer had to be requested again. */
export interface ExportedFeedback extends SpooledArtifact {
  /** The columns written: OX's header names for ox-csv and csv, raw keys for jsonl (`*`: all). */
  readonly columns: string[];
  /** csv/jsonl: every raw key OX sent in the window, in the order first seen. */
  readonly keysSeen?: string[];
  /** Retries of the export (a body cut mid-way, a 503): each try started from the beginning. */
  readonly oxRetries: number;
}

/**
 * A body that breaks off mid-way is requested again from the beginning (OX's export is an
 * idempotent GET), under the OX client's retry policy: each try spools into a new file with a
 * new hash, row count and key list, and a failed try's file is removed by `spoolStream`.
 */
export async function exportFeedback(ox: OxApi, spec: FeedbackExportSpec): Promise<ExportedFeedback> {
  const query = { contextGroup: spec.contextGroup, type: spec.type, start: spec.window.start, end: spec.window.end, signal: spec.signal };
  const spool = { dir: spec.spoolDir, gzip: spec.gzip, signal: spec.signal, onProgress: spec.onProgress };
  if (spec.format === 'ox-csv') {
    const { value, retries } = await ox.readExportCsv({ ...query, delimiter: spec.delimiter }, async (body) => {
      const rowCounter = new OxCsvRowCounter((spec.delimiter ?? ';').charAt(0));
      const spooled = await spoolStream(body, { ...spool, rowCounter });
      return Object.assign(spooled, { columns: rowCounter.columns });
    });
    return Object.assign(value, { oxRetries: retries });
  }
  const chosen = spec.format === 'csv' || spec.columns?.length ? selectColumns(spec.columns) : undefined;
  const { value, retries } = await ox.readExportRaw(query, async (raw) => {
    const counter = { rows: 0, update() {} };
    const keysSeen = new KeysSeen();
    const records = keysSeen.tap(raw);
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
  });
  return Object.assign(value, { oxRetries: retries });
}

/** File extension and MIME type of an artifact as stored and attached. */
export function artifactFileType(format: ExportFormat, gzip: boolean): { ext: string; contentType: string } {
  const ext = format === 'jsonl' ? 'jsonl' : 'csv';
  if (gzip) return { ext, contentType: 'application/gzip' };
  return { ext, contentType: format === 'jsonl' ? 'application/x-ndjson; charset=utf-8' : 'text/csv; charset=utf-8' };
}
