/**
 * The last look before a verified purge's DELETE (see recount-windows.ts for why):
 *  - the DELETE starts where the previous verified purge stopped (or the guard's startAt), so
 *    rows that arrive later with an older date are never deleted unarchived;
 *  - every guard window the DELETE reaches is counted in OX and compared with its archive; the
 *    cutoff stops at the first window where OX holds more rows;
 *  - rows OX holds before that start arrived after their window was purged (dated in the past):
 *    one count reports them; they stay in OX, never deleted by ox-batch.
 * Each window found is flagged in the ledger for re-export (the guard schedule's tick queues it,
 * `ox-batch status` lists it); a dry run only reports.
 */
import type { Services } from '../job-kind.js';
import { isoUtc } from '../time/parse-time.js';
import { countFeedback } from './count-feedback.js';
import { recountWindows, type RecountedWindow } from './recount-windows.js';
import type { VerifiedWatermark } from './verified-watermark.js';

/** OX's DELETE bounds, half-open [start, end) in ms; no start: everything before end. */
export interface DeleteRange {
  start?: number;
  end: number;
}

export interface RecountReport {
  /** Guard windows counted in OX right before the DELETE. */
  counted: number;
  /** Windows where OX holds rows their archive does not, flagged for re-export. */
  unarchived: Array<{ start: string; end: string; oxRows: number; archivedRows: number }>;
  /** Rows OX holds dated before the DELETE's start (arrived after their window was purged): kept. */
  lateRowsKept: number;
}

export interface BeforeDeleteQuery {
  contextGroup: string;
  type: string;
  signal?: AbortSignal;
  guard: VerifiedWatermark;
  cutoff: number;
  previousCutoff?: number;
  purgeScheduleId: string;
  dryRun: boolean;
}

export async function checkBeforeDelete(
  services: Pick<Services, 'ox' | 'ledger' | 'now' | 'log' | 'requestTick'>,
  query: BeforeDeleteQuery,
): Promise<{ range: DeleteRange; report: RecountReport; warnings: string[] }> {
  const { guard, signal } = query;
  const feed = { contextGroup: query.contextGroup, type: query.type, signal };
  const start = Math.max(guard.startAt, query.previousCutoff ?? guard.startAt);
  const reached = await recountWindows(services.ox, feed, guard.windows, { after: start, before: query.cutoff });
  const lateRowsKept = start > guard.startAt ? await countFeedback(services.ox, { ...feed, start: guard.startAt, end: start }) : 0;

  const warnings: string[] = [];
  let end = query.cutoff;
  const first = reached.excess[0];
  if (first) {
    end = Math.min(end, first.start);
    warnings.push(
      `cutoff stopped at ${isoUtc(first.start)}: OX holds ${first.oxRows} rows in the window ${isoUtc(first.start)} .. ${isoUtc(first.end)}, its archive ${first.archivedRows}; queued for re-export`,
    );
  }
  if (lateRowsKept > 0) {
    warnings.push(
      `OX holds ${lateRowsKept} rows dated before ${isoUtc(start)}, where an earlier purge deleted everything: they arrived later, were never archived, and stay in OX (ox-batch deletes only from ${isoUtc(start)} on)`,
    );
  }
  const unarchived = reached.excess;
  if (!query.dryRun && unarchived.length > 0) {
    const flaggedAt = services.now();
    for (const w of unarchived) await flag(services, guard.scheduleId, w, flaggedAt, query.purgeScheduleId);
    // The guard schedule's tick queues flagged windows: ask for one now, not at its next trigger.
    await services.requestTick(guard.scheduleId, `reexport.${guard.scheduleId}.${flaggedAt.toString(36)}`);
  }
  return {
    range: { start, end },
    warnings,
    report: {
      counted: reached.counted,
      unarchived: unarchived.map((w) => ({ start: isoUtc(w.start), end: isoUtc(w.end), oxRows: w.oxRows, archivedRows: w.archivedRows })),
      lateRowsKept,
    },
  };
}

async function flag(
  services: Pick<Services, 'ledger' | 'log'>,
  scheduleId: string,
  w: RecountedWindow,
  flaggedAt: number,
  by: string,
): Promise<void> {
  const key = { scheduleId, start: w.start, end: w.end };
  const flagged = await services.ledger.flagReexport(key, { flaggedAt, oxRows: w.oxRows, archivedRows: w.archivedRows, by });
  services.log.warn(
    { schedule: scheduleId, window: `${isoUtc(w.start)}..${isoUtc(w.end)}`, oxRows: w.oxRows, archivedRows: w.archivedRows, flagged },
    `OX holds ${w.oxRows} rows in ${scheduleId} ${isoUtc(w.start)}..${isoUtc(w.end)} that its archive (${w.archivedRows} rows) may lack: not deleted, queued for re-export`,
  );
}
