/**
 * `feedback.purge`: deletes old user feedback from OX (which keeps it forever otherwise), but
 * never anything that is not verifiably archived. The cutoff is the earlier of `now - retention`
 * and the verified archive watermark of the export schedule that guards this feed; the archive
 * objects and manifests are re-read right before the DELETE. Without a guard it refuses, unless
 * the schedule says `allowUnarchived: true`.
 */
import { z } from 'zod';
import { defineJob } from '../src/job-kind.js';
import { duration } from '../src/config/schema.js';
import { gatherGuardFacts } from '../src/purge/guard-facts.js';
import { planPurge } from '../src/purge/purge-plan.js';
import { countFeedback } from '../src/purge/count-feedback.js';
import { checkBeforeDelete, type DeleteRange } from '../src/purge/check-before-delete.js';
import { guardSummary, purgeLine, type PurgeResult } from '../src/purge/purge-report.js';
import { formatDuration } from '../src/time/format-duration.js';
import { isoUtc } from '../src/time/parse-time.js';

const purgeParams = z.object({
  contextGroup: z.string().min(1).default('default'),
  type: z.string().min(1).default('star-rating-v1'),
  /** How long feedback is kept, e.g. 90d. */
  retention: duration.refine((ms) => ms > 0, { message: 'retention must be longer than 0' }),
  /** The export schedule whose archive guards this purge; default: the one for the same feed. */
  archiveSchedule: z.string().min(1).optional(),
  /** Purge by retention alone when nothing (or not enough) is archived. Logged loudly. */
  allowUnarchived: z.boolean().default(false),
  dryRun: z.boolean().default(false),
  /** Re-read every guard window, also those an earlier verified purge already covered. */
  reverifyAll: z.boolean().default(false),
});

export const feedbackPurge = defineJob({
  name: 'feedback.purge',
  description: 'Delete feedback older than the retention, never past the verified archive of its export schedule',
  windowed: false,
  params: purgeParams,
  async run(job, services): Promise<PurgeResult> {
    const { contextGroup, type, retention, allowUnarchived } = job.params;
    const dryRun = job.dryRun || job.params.dryRun;
    const { signal } = job;
    const now = services.now();
    const retentionCutoff = now - retention;

    const facts = await gatherGuardFacts(services, {
      contextGroup,
      type,
      archiveSchedule: job.params.archiveSchedule,
      purgeScheduleId: job.scheduleId,
      retentionCutoff,
      reverifyAll: job.params.reverifyAll,
      signal,
    });
    const { guard } = facts;

    const plan = planPurge({ target: `${contextGroup}/${type}`, now, retentionMs: retention, ...facts, allowUnarchived });
    const result: PurgeResult = {
      contextGroup,
      type,
      dryRun,
      mode: plan.mode,
      cutoff: isoUtc(plan.cutoff),
      cutoffMs: plan.cutoff,
      retention: formatDuration(retention),
      retentionCutoff: isoUtc(plan.retentionCutoff),
      limitedBy: plan.limitedBy,
      warnings: plan.warnings,
      ...(guard ? { guard: guardSummary(guard) } : {}),
    };

    // A verified purge deletes from where the previous one stopped, after counting what OX
    // holds in each window it reaches: rows its export never saw stop the cutoff there.
    let range: DeleteRange = { end: plan.cutoff };
    if (plan.mode === 'verified' && guard && !plan.nothingToDelete) {
      const checked = await checkBeforeDelete(services, {
        contextGroup,
        type,
        signal,
        guard,
        cutoff: plan.cutoff,
        previousCutoff: facts.previousCutoff,
        purgeScheduleId: job.scheduleId,
        dryRun,
      });
      range = checked.range;
      result.recount = checked.report;
      result.warnings.push(...checked.warnings);
      result.cutoff = isoUtc(range.end);
      result.cutoffMs = range.end;
    }
    result.deleteRange = { ...(range.start !== undefined ? { start: isoUtc(range.start) } : {}), end: isoUtc(range.end) };

    // OX reads end=0 as "no end": a cutoff at or before the epoch must never reach DELETE.
    if (plan.nothingToDelete || (range.start !== undefined && range.end <= range.start)) {
      result.nothingToDelete = true;
    } else if (range.end <= 0) {
      result.warnings.push('cutoff is at or before 1970-01-01: nothing to delete');
    } else if (dryRun) {
      result.wouldDeleteRows = await countFeedback(services.ox, { contextGroup, type, ...range, signal });
    } else {
      result.ox = await services.ox.deleteFeedback({ contextGroup, type, ...range, signal });
    }

    const line = purgeLine(result);
    const logged = {
      cutoff: result.cutoff,
      mode: result.mode,
      limitedBy: result.limitedBy,
      dryRun,
      guard: result.guard?.scheduleId,
      watermark: result.guard?.watermark,
    };
    if (result.warnings.length > 0) job.log.warn({ purge: logged }, line);
    else job.log.info({ purge: logged }, line);
    return result;
  },
});
