/**
 * Gathers what the purge decision needs about its guard: which export schedule guards the feed,
 * how far its archive is verified right now (re-read from the store), and whether OX still holds
 * feedback older than anything the guard ever archived.
 */
import type { Services } from '../job-kind.js';
import { countFeedback } from './count-feedback.js';
import { findGuardSchedule, guardStartAt } from './guard-schedule.js';
import { previousVerifiedCutoff } from './previous-purge.js';
import { verifiedWatermark, type VerifiedWatermark } from './verified-watermark.js';

export interface GuardFacts {
  guard?: VerifiedWatermark;
  noGuardReason?: string;
  feedbackBeforeStartAt: boolean;
  /** The cutoff of the previous verified purge under this guard (its windows are cleared). */
  previousCutoff?: number;
}

export interface GuardQuery {
  contextGroup: string;
  type: string;
  archiveSchedule?: string;
  /** The purge's own schedule id: its earlier runs tell which windows are already purged. */
  purgeScheduleId: string;
  retentionCutoff: number;
  reverifyAll: boolean;
  signal?: AbortSignal;
}

export async function gatherGuardFacts(services: Services, query: GuardQuery): Promise<GuardFacts> {
  const lookup = findGuardSchedule(services.config, query);
  if ('noGuardReason' in lookup) return { noGuardReason: lookup.noGuardReason, feedbackBeforeStartAt: false };

  const { id } = lookup.guard;
  const [listed, trimmed] = await Promise.all([
    services.ledger.listWindows(id, { to: query.retentionCutoff }),
    services.ledger.trimmedRange(id),
  ]);
  // ledger.keepDone removed the oldest done windows with their archive records: the walk begins
  // at the oldest window kept, and OX must hold nothing older (feedbackBeforeStartAt refuses).
  const records = trimmed ? listed.filter((r) => r.start >= trimmed.through) : listed;
  let startAt = guardStartAt(lookup.guard, services.config.timezone, records);
  if (trimmed && (startAt === undefined || (startAt >= trimmed.from && startAt < trimmed.through))) startAt = trimmed.through;
  if (startAt === undefined) {
    return { noGuardReason: `guard schedule ${id} has no startAt and no export window in the ledger yet`, feedbackBeforeStartAt: false };
  }
  const previousCutoff = await previousVerifiedCutoff(services.ledger, query.purgeScheduleId, id);
  const alreadyPurgedThrough = query.reverifyAll ? undefined : previousCutoff;
  const guard = await verifiedWatermark(records, services.archive, {
    scheduleId: id,
    startAt,
    until: query.retentionCutoff,
    alreadyPurgedThrough,
    signal: query.signal,
    feed: { contextGroup: query.contextGroup, type: query.type },
  });
  if (trimmed && trimmed.through <= startAt) guard.trimmed = trimmed;
  const older = await countFeedback(
    services.ox,
    { contextGroup: query.contextGroup, type: query.type, end: startAt, signal: query.signal },
    1,
  );
  return { guard, feedbackBeforeStartAt: older > 0, ...(previousCutoff !== undefined ? { previousCutoff } : {}) };
}
