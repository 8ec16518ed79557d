/**
 * Which export schedule's archive guards a purge: the one named by `archiveSchedule`, else the
 * only configured `feedback.export` schedule that archives the same context group and type.
 * Also where its contiguous run starts: its `startAt` (aligned to its windows), or earlier when
 * windows before it were backfilled.
 */
import type { Config, ScheduleConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import type { WindowRecord } from '../ledger/types.js';
import { parseInstant } from '../time/parse-time.js';
import { windowContaining } from '../time/windows.js';
import { knownColumns, selectColumns } from '../export/feedback-columns.js';

const EXPORT_JOB = 'feedback.export';

export interface GuardSchedule {
  id: string;
  schedule: ScheduleConfig;
}

export type GuardLookup = { guard: GuardSchedule } | { noGuardReason: string };

function feedOf(schedule: ScheduleConfig): { contextGroup: string; type: string; archives: boolean } {
  const params = schedule.params as { contextGroup?: unknown; type?: unknown; deliver?: unknown };
  return {
    contextGroup: typeof params.contextGroup === 'string' ? params.contextGroup : 'default',
    type: typeof params.type === 'string' ? params.type : 'star-rating-v1',
    archives: listParam(params.deliver, ['archive']).includes('archive'),
  };
}

function listParam(value: unknown, fallback: string[]): string[] {
  if (value === undefined) return fallback;
  if (typeof value === 'string')
    return value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
  return Array.isArray(value) ? value.map(String) : fallback;
}

/**
 * An export of only some columns (format csv or jsonl with `columns`) is no copy of what the
 * purge deletes: deleting would lose the other columns for good.
 */
export function partialCopyReason(id: string, schedule: ScheduleConfig): string | undefined {
  const params = schedule.params as { format?: unknown; columns?: unknown };
  if (params.format === undefined || params.format === 'ox-csv') return undefined;
  const chosen = listParam(params.columns, []);
  if (chosen.length === 0) return undefined;
  const { type } = feedOf(schedule);
  let keys: Set<string>;
  try {
    keys = new Set(selectColumns(chosen, type)!.map((c) => c.key));
  } catch {
    return `archive schedule ${id} names columns the export does not know (${chosen.join(', ')})`;
  }
  const missing = knownColumns(type)
    .filter((c) => !keys.has(c.key))
    .map((c) => c.header);
  return missing.length === 0
    ? undefined
    : `archive schedule ${id} exports only some columns (without ${missing.join(', ')}): its archive is not a full copy`;
}

export function findGuardSchedule(config: Config, target: { contextGroup: string; type: string; archiveSchedule?: string }): GuardLookup {
  const feed = `${target.contextGroup}/${target.type}`;
  if (target.archiveSchedule !== undefined) {
    const schedule = config.schedules[target.archiveSchedule];
    if (!schedule) throw new InputError(`param archiveSchedule: "${target.archiveSchedule}" is not a configured schedule`);
    if (schedule.job !== EXPORT_JOB)
      throw new InputError(`param archiveSchedule: schedule "${target.archiveSchedule}" runs ${schedule.job}, not ${EXPORT_JOB}`);
    const guarded = feedOf(schedule);
    if (`${guarded.contextGroup}/${guarded.type}` !== feed) {
      throw new InputError(
        `param archiveSchedule: schedule "${target.archiveSchedule}" exports ${guarded.contextGroup}/${guarded.type}, not ${feed}`,
      );
    }
    if (!guarded.archives)
      return { noGuardReason: `archive schedule ${target.archiveSchedule} does not deliver to the archive (deliver has no "archive")` };
    const partial = partialCopyReason(target.archiveSchedule, schedule);
    if (partial) return { noGuardReason: partial };
    return { guard: { id: target.archiveSchedule, schedule } };
  }
  const matches = Object.entries(config.schedules).filter(([, s]) => {
    if (s.job !== EXPORT_JOB) return false;
    const f = feedOf(s);
    return f.archives && `${f.contextGroup}/${f.type}` === feed;
  });
  if (matches.length === 0) return { noGuardReason: `no ${EXPORT_JOB} schedule archives ${feed} (set archiveSchedule, or configure one)` };
  if (matches.length > 1) {
    throw new InputError(
      `param archiveSchedule: several ${EXPORT_JOB} schedules archive ${feed} (${matches.map(([id]) => id).join(', ')}); name the one that guards this purge`,
    );
  }
  const [id, schedule] = matches[0]!;
  const partial = partialCopyReason(id, schedule);
  if (partial) return { noGuardReason: partial };
  return { guard: { id, schedule } };
}

/**
 * The instant the guard's contiguous run must start at: the start of the window holding the
 * schedule's `startAt`, or the earliest window in its ledger when that is older (backfilled).
 * `undefined` when the schedule has neither.
 */
export function guardStartAt(guard: GuardSchedule, defaultZone: string, records: readonly WindowRecord[]): number | undefined {
  const earliest = records.length > 0 ? Math.min(...records.map((r) => r.start)) : undefined;
  const { schedule } = guard;
  if (schedule.startAt === undefined) return earliest;
  const zone = schedule.tz ?? defaultZone;
  let startAt = parseInstant(schedule.startAt, zone, `schedules.${guard.id}.startAt`);
  if (schedule.window) startAt = windowContaining(schedule.window, zone, startAt).start;
  return earliest === undefined ? startAt : Math.min(startAt, earliest);
}

/**
 * The configured feedback.purge schedules whose guard is the export schedule `exportId`: what
 * that schedule archives is what they delete by.
 */
export function purgesGuardedBy(config: Config, exportId: string): string[] {
  const guarded: string[] = [];
  for (const [id, schedule] of Object.entries(config.schedules)) {
    if (schedule.job !== 'feedback.purge') continue;
    const params = schedule.params as { contextGroup?: unknown; type?: unknown; archiveSchedule?: unknown };
    try {
      const lookup = findGuardSchedule(config, {
        contextGroup: typeof params.contextGroup === 'string' ? params.contextGroup : 'default',
        type: typeof params.type === 'string' ? params.type : 'star-rating-v1',
        ...(typeof params.archiveSchedule === 'string' ? { archiveSchedule: params.archiveSchedule } : {}),
      });
      if ('guard' in lookup && lookup.guard.id === exportId) guarded.push(id);
    } catch {
      // A purge whose guard is misconfigured guards by nothing (it is refused when it runs).
    }
  }
  return guarded;
}
