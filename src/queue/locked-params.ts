/**
 * Params a schedule's runs must take from its configuration (JobKind.lockedParams): a run or a
 * queued window whose params differ there is refused (exit 2, nothing changed). Checked in the
 * paths every run takes, enqueueWindow and executeAttempt, on validated params.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema.js';
import { LockedParamError } from '../errors.js';
import type { LockedParams, AnyJobKind } from '../job-kind.js';
import { validateParams } from './schedules.js';

/** What a schedule locks, worked out once per loaded configuration (it never changes). */
const lockedBySchedule = new WeakMap<Config, Map<string, { locked: LockedParams; expected: Record<string, unknown> } | null>>();

function lockOf(kind: AnyJobKind, config: Config, scheduleId: string): { locked: LockedParams; expected: Record<string, unknown> } | null {
  let perSchedule = lockedBySchedule.get(config);
  if (!perSchedule) lockedBySchedule.set(config, (perSchedule = new Map()));
  const cached = perSchedule.get(scheduleId);
  if (cached !== undefined) return cached;
  const configured = config.schedules[scheduleId];
  const locked = configured && configured.job === kind.name ? kind.lockedParams?.(scheduleId, config) : undefined;
  const lock = locked
    ? { locked, expected: validateParams(kind, configured!.params, `schedule ${scheduleId}`) as Record<string, unknown> }
    : null;
  perSchedule.set(scheduleId, lock);
  return lock;
}

export function assertParamsAsConfigured(kind: AnyJobKind, config: Config, scheduleId: string, params: unknown): void {
  const lock = lockOf(kind, config, scheduleId);
  if (!lock) return;
  const { locked, expected } = lock;
  const given = (params ?? {}) as Record<string, unknown>;
  for (const key of locked.keys) {
    const compared = locked.compare?.[key] ?? ((value: unknown) => value);
    if (isDeepStrictEqual(compared(given[key]), compared(expected[key]))) continue;
    throw new LockedParamError(
      `schedule ${scheduleId}: params.${key} = ${JSON.stringify(given[key]) ?? 'unset'} differs from its configuration (${JSON.stringify(expected[key]) ?? 'unset'}): ` +
        `refused because ${locked.why}; change ${key} in the configuration, or run the job kind ${kind.name} without the schedule`,
    );
  }
}
