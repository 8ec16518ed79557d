/**
 * The digest of one exported window: an observer the export feeds in its single pass (raw records
 * for csv/jsonl, OX's CSV rows for ox-csv), then the figures with the comparison against the
 * schedule's earlier windows from the ledger (their `digest` results: no second export).
 */
import type { ExportRowObserver } from '../export/export-feedback.js';
import type { Ledger } from '../ledger/types.js';
import type { Logger } from '../log/logger.js';
import { isoUtc } from '../time/parse-time.js';
import { DigestAccumulator } from './digest-accumulator.js';
import { digestHistory } from './digest-history.js';
import type { FeedbackDigest } from './digest-types.js';
import { OxCsvDigestScanner } from './ox-csv-digest-scanner.js';

export interface DigestSettings {
  /** params.digest; default: when the window is mailed. */
  digest?: boolean;
  deliver: readonly string[];
  digestComments: number;
  type: string;
}

export function wantsDigest(params: DigestSettings): boolean {
  return params.digest ?? params.deliver.includes('mail');
}

export interface CompletedDigest {
  digest?: FeedbackDigest;
  /** Why there is no digest: a header the scanner cannot read, or a row count that differs from the export's. */
  unavailable?: string;
  /** For the manifest and the result: `digest`, or `digestUnavailable`. */
  fields: { digest: FeedbackDigest } | { digestUnavailable: string };
}

export interface DigestRun {
  readonly observer: ExportRowObserver;
  /** After the export: the digest, with its history when the ledger is given. */
  complete(rows: number, history?: { ledger: Pick<Ledger, 'listWindows'>; scheduleId: string; log?: Logger }): Promise<CompletedDigest>;
}

export function startDigest(params: DigestSettings, window: { start: number; end: number }): DigestRun {
  let accumulator = new DigestAccumulator(params.type, { comments: params.digestComments });
  let scanner: OxCsvDigestScanner | undefined;
  let unsupported: string | undefined;
  return {
    observer: {
      // OX's answer broke off and is read again from the start: count that read alone.
      restart() {
        accumulator = new DigestAccumulator(params.type, { comments: params.digestComments });
        scanner = undefined;
      },
      unsupported(reason) {
        unsupported = reason;
      },
      oxCsvRow(bytes, start, end, cut) {
        scanner ??= new OxCsvDigestScanner(accumulator);
        scanner.row(bytes, start, end, cut);
      },
      record: (record) => accumulator.addRecord(record),
    },
    async complete(rows, history) {
      const unavailable =
        unsupported ??
        scanner?.unavailable ??
        (accumulator.rows === rows ? undefined : `the digest counted ${accumulator.rows} rows, the export ${rows}`);
      if (unavailable !== undefined) {
        history?.log?.warn({ reason: unavailable }, 'no digest for this window');
        return { unavailable, fields: { digestUnavailable: unavailable } };
      }
      const figures = accumulator.figures();
      const digest: FeedbackDigest = { window: { start: isoUtc(window.start), end: isoUtc(window.end) }, ...figures };
      if (history) digest.history = await digestHistory(history.ledger, history.scheduleId, window, figures);
      return { digest, fields: { digest } };
    },
  };
}
