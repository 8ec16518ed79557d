/**
 * One pass from OX into a spool file, in the chosen format: OX's CSV bytes untouched (`ox-csv`),
 * RFC 4180 CSV (`csv`) or JSON lines (`jsonl`) built from the raw export, optionally gzipped.
 * Rows, bytes and SHA-256 are known when the spool is complete; memory stays constant. A `csv`
 * export whose header turned out too narrow (a raw key first seen after it) runs once more with
 * the wider header (raw-columns.ts).
 */
import { spoolStream, type SpooledArtifact } from '../delivery/spool.js';
import type { Readable } from 'node:stream';
import { JsonArrayFormatError } from '../ox/json-array-stream.js';
import { OxError } from '../ox/ox-error.js';
import type { OxApi } from '../ox/types.js';
import { knownColumns, selectColumns } from './feedback-columns.js';
import { jsonLines } from './jsonl.js';
import { rawJsonCsv, type RawJsonCsvOptions } from './raw-json-csv.js';
import { OxCsvRowCounter } from './ox-csv-row-counter.js';
import { ColumnsGrew, RawColumns } from './raw-columns.js';

export const EXPORT_FORMATS = ['ox-csv', 'csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface FeedbackExportSpec {
  contextGroup: string;
  type: string;
  format: ExportFormat;
  gzip: boolean;
  /** gzip: zlib level 1..9 (default 6). */
  compressionLevel?: number;
  window: { start: number; end: number };
  /** csv/jsonl: raw keys or OX header names; default every column OX sends. */
  columns?: readonly string[];
  /** ox-csv: sent to OX (it uses the first character); csv: the field separator. */
  delimiter?: string;
  /** csv: write the header row. */
  header?: boolean;
  /** csv: prefix cells starting with = + - @ | TAB CR with `'`. */
  formulaGuard?: boolean;
  spoolDir?: string;
  signal?: AbortSignal;
  /** Bytes received so far, about once a second. */
  onProgress?: (bytes: number) => void;
  /** Sees every row in the same pass (the digest): OX's CSV rows for ox-csv, raw records for jsonl. */
  observer?: ExportRowObserver;
}

export interface ExportRowObserver {
  /** A read of the export begins (again, after OX's answer broke off): forget what was seen. */
  restart(): void;
  /** One row of OX's CSV, header first: `bytes[start, end)` without its CR (see OxCsvRowCounter). */
  oxCsvRow(bytes: Buffer, start: number, end: number, cut: boolean): void;
  record(record: Readonly<Record<string, unknown>>): void;
  /** This export cannot show the observer its rows (csv: transcoded from OX's bytes, no records). */
  unsupported(reason: string): void;
}

/** The spooled export, what it holds of what OX sent, and how often OX's answer had to be requested again. */
export interface ExportedFeedback extends SpooledArtifact {
  /**
   * The columns written, in order: csv and ox-csv their header names (ox-csv: OX's own header
   * row; csv: also when `header` is off), jsonl the keys written.
   */
  readonly columns: string[];
  /** csv/jsonl: every raw key OX sent in the window, in order of first appearance. */
  readonly keysSeen?: string[];
  /** csv/jsonl: keys of `keysSeen` the artifact does not hold (only when `columns:` chose some). */
  readonly keysLeftOut?: string[];
  /** csv: passes over the window (2 when a key first seen after the header widened it). */
  readonly passes: number;
  /** Retries of the export (a body cut mid-way, a 503): each try started from the beginning. */
  readonly oxRetries: number;
}

/** Passes a csv export may take before OX's answers are taken to be unstable. */
const MAX_CSV_PASSES = 3;

/**
 * A body that breaks off mid-way is requested again from the beginning (OX's export is an
 * idempotent GET), under the OX client's retry policy: each try spools into a new file with a
 * new hash, row count and key list, and a failed try's file is removed by `spoolStream`.
 */
export async function exportFeedback(ox: OxApi, spec: FeedbackExportSpec): Promise<ExportedFeedback> {
  const query = { contextGroup: spec.contextGroup, type: spec.type, start: spec.window.start, end: spec.window.end, signal: spec.signal };
  const spool = { dir: spec.spoolDir, gzip: spec.gzip, gzipLevel: spec.compressionLevel, signal: spec.signal, onProgress: spec.onProgress };
  if (spec.format === 'ox-csv') {
    const observer = spec.observer;
    const { value, retries } = await ox.readExportCsv({ ...query, delimiter: spec.delimiter }, async (body) => {
      observer?.restart();
      const rowCounter = new OxCsvRowCounter(
        (spec.delimiter ?? ';').charAt(0),
        observer ? (bytes, start, end, cut) => observer.oxCsvRow(bytes, start, end, cut) : undefined,
      );
      const spooled = await spoolStream(body, { ...spool, rowCounter });
      return { ...spooled, columns: rowCounter.columns };
    });
    return { ...value, passes: 1, oxRetries: retries };
  }
  const known = knownColumns(spec.type);
  const chosen = selectColumns(spec.columns, spec.type);
  let extraKeys: readonly string[] = [];
  for (let pass = 1; ; pass++) {
    try {
      const spoolPass = async (text: AsyncIterable<Buffer | string>, columns: RawColumns, counter: { rows: number; update(): void }) => {
        const spooled = await spoolStream(text, { ...spool, rowCounter: counter });
        const written = spec.format === 'csv' ? columns.columns.map((c) => c.header) : writtenKeys(columns, chosen !== undefined);
        return { ...spooled, columns: written, keysSeen: columns.keysSeen, keysLeftOut: columns.keysLeftOut, passes: pass };
      };
      // Each try of a pass starts afresh: new columns, row count and spool.
      const fresh = () => {
        spec.observer?.restart();
        const onRecord = spec.observer ? (r: Readonly<Record<string, unknown>>) => spec.observer!.record(r) : undefined;
        return { columns: new RawColumns(known, chosen, extraKeys, spec.format === 'jsonl'), counter: { rows: 0, update() {}, onRecord } };
      };
      const { value, retries } =
        spec.format === 'csv'
          ? await ox.readExportRawBody(query, (body) => {
              const { columns, counter } = fresh();
              const csvOptions = {
                columns,
                delimiter: spec.delimiter ?? ',',
                header: spec.header ?? true,
                formulaGuard: spec.formulaGuard ?? true,
                ...(counter.onRecord ? { onRecord: { keys: DIGEST_KEYS, record: counter.onRecord } } : {}),
              };
              return spoolPass(csvFromRaw(body, csvOptions, counter), columns, counter);
            })
          : await ox.readExportRaw(query, (records) => {
              const { columns, counter } = fresh();
              return spoolPass(jsonLines(records, columns, chosen !== undefined, counter), columns, counter);
            });
      return { ...value, oxRetries: retries };
    } catch (err) {
      if (!(err instanceof ColumnsGrew)) throw err;
      if (pass === MAX_CSV_PASSES) {
        throw new OxError({
          operation: 'feedback.raw',
          kind: 'protocol',
          retryable: true,
          reason: `the raw export brought raw keys not seen before on each of ${pass} passes over the window (last: ${err.extraKeys.join(', ')}): OX's answer keeps changing`,
        });
      }
      extraKeys = err.extraKeys;
    }
  }
}

/**
 * The csv transcoder over OX's raw bytes; malformed JSON is OX's protocol error, as in the OX
 * client. The body may fail before the spool starts reading it (the spool creates its folder
 * first, and a generator's body runs only when it is first read): the listener goes on at once,
 * and the error, kept by the stream, is thrown by the first read instead of going unheard.
 */
/** The raw keys the digest reads of a row (digest-accumulator.ts, addRecord). */
const DIGEST_KEYS = ['date', 'score', 'questionid', 'comment', 'app', 'operating_system', 'browser', 'language'];

function csvFromRaw(body: Readable, options: RawJsonCsvOptions, counter: { rows: number }): AsyncGenerator<Buffer> {
  body.on('error', () => undefined);
  return (async function* () {
    try {
      yield* rawJsonCsv(body, options, counter);
    } catch (err) {
      if (!(err instanceof JsonArrayFormatError)) throw err;
      throw new OxError({
        operation: 'feedback.raw',
        kind: 'protocol',
        retryable: false,
        reason: `malformed answer: ${err.message}`,
        cause: err,
      });
    } finally {
      body.destroy();
    }
  })();
}

/** jsonl: the keys written, in order: every chosen one (on every line), else those OX sent. */
function writtenKeys(columns: RawColumns, chosen: boolean): string[] {
  const keys = columns.columns.map((c) => c.key);
  if (chosen) return keys;
  const seen = new Set(columns.keysSeen);
  return keys.filter((key) => seen.has(key));
}

/** File extension and MIME type of an artifact as stored and attached. */
export function artifactFileType(format: ExportFormat, gzip: boolean): { ext: string; contentType: string } {
  const ext = format === 'jsonl' ? 'jsonl' : 'csv';
  if (gzip) return { ext, contentType: 'application/gzip' };
  return { ext, contentType: format === 'jsonl' ? 'application/x-ndjson; charset=utf-8' : 'text/csv; charset=utf-8' };
}
