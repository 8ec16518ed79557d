/**
 * Decides the purge cutoff: the earlier of `now - retention` and the verified archive watermark,
 * or a refusal when nothing guards the purge. Pure: the job gathers the facts, this decides.
 */
import { RefusedError } from '../errors.js';
import { isoUtc } from '../time/parse-time.js';
import type { VerifiedWatermark, WatermarkStop } from './verified-watermark.js';

export interface PurgeFacts {
  target: string;
  now: number;
  retentionMs: number;
  /** The guard schedule's verified watermark; absent when there is no guard schedule. */
  guard?: VerifiedWatermark;
  /** Why there is no guard (shown in the refusal). */
  noGuardReason?: string;
  /** OX holds feedback dated before the guard's startAt: never archived by the guard. */
  feedbackBeforeStartAt?: boolean;
  allowUnarchived: boolean;
}

export interface PurgePlan {
  /**
   * DELETE with end = cutoff: feedback dated strictly before it goes. Verified: the end of a
   * guard window (the last one ending by now - retention, or the watermark).
   */
  cutoff: number;
  retentionCutoff: number;
  /** `verified`: every deleted row lies in a verified archive window. `unarchived`: retention alone. */
  mode: 'verified' | 'unarchived';
  limitedBy: 'retention' | 'archive';
  /** Why an unarchived purge was allowed, or why the archive stopped the cutoff early. */
  warnings: string[];
  /** The retention cutoff lies before anything the guard covers and OX holds nothing there. */
  nothingToDelete?: boolean;
}

export function planPurge(facts: PurgeFacts): PurgePlan {
  const retentionCutoff = facts.now - facts.retentionMs;
  // A young deployment: nothing is old enough yet, and OX holds nothing before the guard's
  // start. Refusing here ("empty archive") would only raise an alarm every day until it is.
  if (facts.guard && !facts.feedbackBeforeStartAt && retentionCutoff <= facts.guard.startAt) {
    return { cutoff: retentionCutoff, retentionCutoff, mode: 'verified', limitedBy: 'retention', warnings: [], nothingToDelete: true };
  }
  const refusal = refusalReason(facts);
  if (refusal !== undefined) {
    if (!facts.allowUnarchived) {
      throw new RefusedError(
        `feedback.purge ${facts.target}: refused: ${refusal}; nothing deleted (set allowUnarchived: true to purge by retention alone)`,
      );
    }
    return {
      cutoff: retentionCutoff,
      retentionCutoff,
      mode: 'unarchived',
      limitedBy: 'retention',
      warnings: [`UNARCHIVED PURGE: allowUnarchived is set, deleting by retention alone although ${refusal}`],
    };
  }
  const guard = facts.guard!;
  if (facts.allowUnarchived) {
    const warnings =
      guard.watermark < retentionCutoff
        ? [
            `UNARCHIVED PURGE: allowUnarchived is set, feedback from ${isoUtc(guard.watermark)} to ${isoUtc(retentionCutoff)} is deleted without a verified archive${stopText(guard.stoppedAt)}`,
          ]
        : [];
    return { cutoff: retentionCutoff, retentionCutoff, mode: 'unarchived', limitedBy: 'retention', warnings };
  }
  if (guard.watermark < retentionCutoff) {
    return {
      cutoff: guard.watermark,
      retentionCutoff,
      mode: 'verified',
      limitedBy: 'archive',
      warnings: [`cutoff held back to the verified archive watermark ${isoUtc(guard.watermark)}${stopText(guard.stoppedAt)}`],
    };
  }
  // A verified purge deletes whole guard windows: the next purge can then compare what OX holds
  // in each window it reaches with what that window's archive holds (recount-windows.ts).
  const aligned = guard.windows.filter((w) => w.end <= retentionCutoff).at(-1)?.end ?? guard.startAt;
  return { cutoff: aligned, retentionCutoff, mode: 'verified', limitedBy: 'retention', warnings: [] };
}

function refusalReason(facts: PurgeFacts): string | undefined {
  if (!facts.guard) return facts.noGuardReason ?? 'no export schedule guards this purge';
  if (facts.feedbackBeforeStartAt && facts.guard.trimmed) {
    return `OX holds feedback dated before ${isoUtc(facts.guard.startAt)}, where the windows the ledger keeps for guard schedule ${facts.guard.scheduleId} begin: the older ones were trimmed (ledger.keepDone) before a purge deleted their feedback, so their archive cannot be re-verified (keep ledger.keepDone above the purge retention)`;
  }
  if (facts.feedbackBeforeStartAt) {
    return `OX holds feedback dated before ${isoUtc(facts.guard.startAt)}, the startAt of guard schedule ${facts.guard.scheduleId}: it was never archived by it`;
  }
  if (facts.guard.windows.length === 0) {
    return `the archive of guard schedule ${facts.guard.scheduleId} has no verified window from ${isoUtc(facts.guard.startAt)}${stopText(facts.guard.stoppedAt)}`;
  }
  return undefined;
}

function stopText(stop: WatermarkStop | undefined): string {
  if (!stop) return '';
  const window = stop.end === undefined ? isoUtc(stop.start) : `${isoUtc(stop.start)} .. ${isoUtc(stop.end)}`;
  return ` (window ${window}: ${stop.reason})`;
}
