/**
 * Count before you delete. OX exports from its global database's read-only replica and deletes
 * on the writable primary, and each row's date comes from the clock of the OX node that stored
 * it: a window can hold rows now that its export never saw (replication lag, a node clock
 * behind the others by more than the schedule's lag). Right before the DELETE, the purge counts
 * what OX holds in every guard window it is about to delete from (streamed, constant memory) and
 * compares it with what the window's archive holds: the cutoff stops at the first window where
 * OX holds more.
 */
import type { OxApi } from '../ox/types.js';
import { countFeedback } from './count-feedback.js';
import type { GuardWindow } from './verified-watermark.js';

export interface RecountedWindow {
  start: number;
  end: number;
  archivedRows: number;
  oxRows: number;
}

export interface Recount {
  /** Windows counted (those the DELETE reaches that an earlier purge has not cleared). */
  counted: number;
  /** Windows where OX holds more rows than the archive, oldest first. */
  excess: RecountedWindow[];
}

export async function recountWindows(
  ox: OxApi,
  query: { contextGroup: string; type: string; signal?: AbortSignal },
  windows: readonly GuardWindow[],
  range: { after: number; before: number },
  concurrency = 4,
): Promise<Recount> {
  const reached = windows.filter((w) => w.end > range.after && w.start < range.before);
  const excess: RecountedWindow[] = [];
  for (let i = 0; i < reached.length; i += concurrency) {
    const batch = reached.slice(i, i + concurrency);
    const counts = await Promise.all(batch.map((w) => countFeedback(ox, { ...query, start: w.start, end: w.end })));
    batch.forEach((w, j) => {
      // A window without a recorded row count cannot be compared: it counts as incomplete.
      const archivedRows = w.rows ?? -1;
      if (counts[j]! > archivedRows) excess.push({ start: w.start, end: w.end, archivedRows, oxRows: counts[j]! });
    });
  }
  return { counted: reached.length, excess };
}
