/**
 * What a purge tells people: one log line a person can read, and the ledger record (cutoff, why,
 * OX's answer, the guard windows).
 */
import type { DeleteResult } from '../ox/types.js';
import type { RecountReport } from './check-before-delete.js';
import { isoUtc } from '../time/parse-time.js';
import type { PurgePlan } from './purge-plan.js';
import type { VerifiedWatermark } from './verified-watermark.js';

export interface PurgeResult {
  contextGroup: string;
  type: string;
  dryRun: boolean;
  mode: PurgePlan['mode'];
  /** ISO UTC; feedback dated strictly before it is deleted (OX's `end` is exclusive). */
  cutoff: string;
  cutoffMs: number;
  retention: string;
  retentionCutoff: string;
  limitedBy: PurgePlan['limitedBy'];
  warnings: string[];
  guard?: {
    scheduleId: string;
    startAt: string;
    watermark: string;
    /** Windows of the contiguous verified run; `reread` of them were re-read from the archive now. */
    windows: number;
    reread: number;
    alreadyPurged: number;
    first?: { start: string; end: string; key: string };
    last?: { start: string; end: string; key: string };
    /** The windows re-read now (the others were already purged by an earlier verified run). */
    verifiedNow: Array<{ start: string; end: string; key: string; rows?: number }>;
    stoppedAt?: { start: string; end?: string; reason: string };
    /** Done windows before startAt whose records ledger.keepDone removed. */
    trimmed?: { from: string; through: string; windows: number };
  };
  /** The retention cutoff is before the guard's startAt and OX holds nothing older: no DELETE sent. */
  nothingToDelete?: boolean;
  /** Dry run: rows OX holds before the cutoff that are not yet purged. */
  wouldDeleteRows?: number;
  /** OX's answer to DELETE (absent in a dry run). */
  ox?: DeleteResult;
  /** What the DELETE covers (verified: from where the previous purge stopped). */
  deleteRange?: { start?: string; end: string };
  /** The count right before the DELETE (check-before-delete.ts). */
  recount?: RecountReport;
}

export function guardSummary(guard: VerifiedWatermark): NonNullable<PurgeResult['guard']> {
  const first = guard.windows[0];
  const last = guard.windows.at(-1);
  const brief = (w: { start: number; end: number; key: string }) => ({ start: isoUtc(w.start), end: isoUtc(w.end), key: w.key });
  return {
    scheduleId: guard.scheduleId,
    startAt: isoUtc(guard.startAt),
    watermark: isoUtc(guard.watermark),
    windows: guard.windows.length,
    reread: guard.windows.filter((w) => w.check === 'verified').length,
    alreadyPurged: guard.windows.filter((w) => w.check === 'already-purged').length,
    ...(first ? { first: brief(first) } : {}),
    ...(last ? { last: brief(last) } : {}),
    verifiedNow: guard.windows
      .filter((w) => w.check === 'verified')
      .map((w) => ({ ...brief(w), ...(w.rows === undefined ? {} : { rows: w.rows }) })),
    ...(guard.stoppedAt
      ? {
          stoppedAt: {
            start: isoUtc(guard.stoppedAt.start),
            ...(guard.stoppedAt.end === undefined ? {} : { end: isoUtc(guard.stoppedAt.end) }),
            reason: guard.stoppedAt.reason,
          },
        }
      : {}),
    ...(guard.trimmed
      ? { trimmed: { from: isoUtc(guard.trimmed.from), through: isoUtc(guard.trimmed.through), windows: guard.trimmed.windows } }
      : {}),
  };
}

/** The one line a person reads in the log (and `ox-batch run` prints). */
export function purgeLine(result: PurgeResult): string {
  const target = `${result.contextGroup}/${result.type}`;
  const why =
    result.limitedBy === 'archive'
      ? `held back by the verified archive (retention ${result.retention} alone would allow ${result.retentionCutoff})`
      : `retention ${result.retention}`;
  const guard = result.guard
    ? `; archive of ${result.guard.scheduleId} verified through ${result.guard.watermark} (${result.guard.windows} windows, ${result.guard.reread} re-read now)`
    : '; no verified archive';
  const action = result.nothingToDelete
    ? `nothing to delete yet: no feedback dated before ${result.cutoff}`
    : result.dryRun
      ? `DRY RUN, nothing deleted: would delete ${result.wouldDeleteRows ?? '?'} feedback rows dated before ${result.cutoff}`
      : `deleted feedback dated before ${result.cutoff}`;
  const answer = result.ox ? `; OX answered successful=${result.ox.successful}${result.ox.message ? ` "${result.ox.message}"` : ''}` : '';
  const loud = result.warnings.length ? ` !! ${result.warnings.join(' !! ')}` : '';
  return `feedback.purge ${target}: ${action} (${why}${guard})${answer}${loud}`;
}
