/**
 * The cutoff of the newest successful, verified (not dry, not unarchived) purge of a schedule
 * under the same guard: feedback before it is already gone from OX, so the archive windows
 * before it need not be re-read again on every run.
 */
import type { Ledger } from '../ledger/types.js';

export async function previousVerifiedCutoff(
  ledger: Ledger,
  purgeScheduleId: string,
  guardScheduleId: string,
): Promise<number | undefined> {
  const runs = await ledger.lastAttempts(purgeScheduleId, 20);
  for (const run of runs) {
    if (run.state !== 'done') continue;
    const r = run.result as
      { dryRun?: unknown; mode?: unknown; cutoffMs?: unknown; ox?: unknown; guard?: { scheduleId?: unknown } } | undefined;
    if (!r || r.dryRun !== false || r.mode !== 'verified' || r.ox === undefined) continue;
    if (r.guard?.scheduleId !== guardScheduleId || typeof r.cutoffMs !== 'number') continue;
    return r.cutoffMs;
  }
  return undefined;
}
