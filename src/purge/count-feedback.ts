/**
 * Counts feedback rows OX holds in a window by streaming its raw export (constant memory).
 * `stopAfter` ends the stream early: "is there any feedback before X" costs one row.
 */
import type { OxApi } from '../ox/types.js';

export async function countFeedback(
  ox: OxApi,
  query: { contextGroup: string; type: string; start?: number; end: number; signal?: AbortSignal },
  stopAfter = Number.POSITIVE_INFINITY,
): Promise<number> {
  // OX reads end=0 as "no end": never let a zero end count (or mean) everything.
  if (query.end <= 0 || (query.start !== undefined && query.start >= query.end)) return 0;
  let rows = 0;
  for await (const _row of ox.exportRaw(query)) {
    rows += 1;
    if (rows >= stopAfter) break;
  }
  return rows;
}
