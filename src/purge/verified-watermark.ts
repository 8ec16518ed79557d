/**
 * The verified archive watermark: how far back feedback may be deleted because a verified copy
 * of it sits in the archive. It is the end of the contiguous run of export windows (from the
 * guard schedule's startAt) that are done in the ledger AND whose archived data object and
 * manifest still check out in the store right now. The ledger alone is not enough: an object
 * can be removed or damaged after the export verified it, and deleting from OX is final.
 */
import type { TrimmedRange, WindowRecord } from '../ledger/types.js';
import type { ArchiveStore } from '../delivery/types.js';
import { isoUtc } from '../time/parse-time.js';
import { completeCopyOf } from '../export/archived-copy.js';

/** What feedback.export records under `result.archive` of a done window. */
export interface ArchivedObject {
  key: string;
  manifestKey: string;
  bytes: number;
  sha256: string;
  verifiedAt?: unknown;
  location?: string;
}

export interface GuardWindow {
  start: number;
  end: number;
  key: string;
  rows?: number;
  bytes: number;
  /** `verified`: re-read just now; `already-purged`: before the previous verified purge, not re-read. */
  check: 'verified' | 'already-purged';
}

/** The window that ends the run, and why: a person reads this in the log and the ledger. */
export interface WatermarkStop {
  start: number;
  end?: number;
  reason: string;
}

export interface VerifiedWatermark {
  scheduleId: string;
  startAt: number;
  /** End of the last good window; `startAt` when none is good. */
  watermark: number;
  windows: GuardWindow[];
  /** Absent when the run reaches `until`. */
  stoppedAt?: WatermarkStop;
  /** Done windows before `startAt` whose records `ledger.keepDone` removed: not re-read, not walked. */
  trimmed?: TrimmedRange;
}

interface Candidate {
  record: WindowRecord;
  archive: ArchivedObject;
}

/** `result.archive` of an export window, when it has one that looks complete. */
export function archivedObjectOf(result: unknown): ArchivedObject | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const archive = (result as { archive?: unknown }).archive;
  if (typeof archive !== 'object' || archive === null) return undefined;
  const a = archive as Partial<ArchivedObject>;
  if (typeof a.key !== 'string' || typeof a.manifestKey !== 'string') return undefined;
  if (typeof a.bytes !== 'number' || typeof a.sha256 !== 'string') return undefined;
  return a as ArchivedObject;
}

function rowsOf(result: unknown): number | undefined {
  const rows = (result as { rows?: unknown } | undefined)?.rows;
  return typeof rows === 'number' ? rows : undefined;
}

/** The feed a purge deletes from: only archives of this feed are a copy of it. */
export interface Feed {
  contextGroup: string;
  type: string;
}

/** `group/type` of an export window's result when it names another feed than `feed`. */
function otherFeedOf(result: unknown, feed: Feed | undefined): string | undefined {
  if (!feed || typeof result !== 'object' || result === null) return undefined;
  const { contextGroup, type } = result as { contextGroup?: unknown; type?: unknown };
  const group = typeof contextGroup === 'string' ? contextGroup : feed.contextGroup;
  const kind = typeof type === 'string' ? type : feed.type;
  return group !== feed.contextGroup || kind !== feed.type ? `${group}/${kind}` : undefined;
}

/**
 * Walks the ledger (no archive access): the windows from `startAt` that are done with an
 * archived object, without gaps, until one covers `until`. Stops at a gap, a window that is not
 * done, a done window that has no archive (e.g. delivered by mail only), one that archived
 * another feed than `feed` (the guard schedule's contextGroup or type was changed since), or one
 * whose archive is a partial copy (archived-copy.ts).
 */
export function contiguousArchivedRun(
  records: readonly WindowRecord[],
  startAt: number,
  until: number,
  feed?: Feed,
): { candidates: Candidate[]; stoppedAt?: WatermarkStop } {
  const sorted = [...records].sort((a, b) => a.start - b.start);
  const candidates: Candidate[] = [];
  let cursor = startAt;
  for (const record of sorted) {
    if (cursor >= until) break;
    if (record.end <= cursor) continue;
    if (record.start > cursor) {
      return {
        candidates,
        stoppedAt: {
          start: cursor,
          end: record.start,
          reason: `no export window in the ledger for ${isoUtc(cursor)} .. ${isoUtc(record.start)} (gap)`,
        },
      };
    }
    if (record.state !== 'done') {
      const why = record.lastError ? `: ${record.lastError.split('\n')[0]}` : '';
      return { candidates, stoppedAt: { start: record.start, end: record.end, reason: `export window is ${record.state}${why}` } };
    }
    const archive = archivedObjectOf(record.result);
    if (!archive) {
      return {
        candidates,
        stoppedAt: {
          start: record.start,
          end: record.end,
          reason: 'export window is done but recorded no archive object (deliver without archive?)',
        },
      };
    }
    const other = otherFeedOf(record.result, feed);
    if (other) {
      return {
        candidates,
        stoppedAt: {
          start: record.start,
          end: record.end,
          reason: `export window archived ${other}, not ${feed!.contextGroup}/${feed!.type} (the schedule's params were changed since)`,
        },
      };
    }
    // What the window's export recorded it holds, not today's config: a --param run of some
    // columns, or a csv that had no column for a key OX sent, is no copy to delete by.
    const copy = completeCopyOf(record.result);
    if (!copy.complete) {
      return {
        candidates,
        stoppedAt: { start: record.start, end: record.end, reason: `export window archived a partial copy: ${copy.reason}` },
      };
    }
    candidates.push({ record, archive });
    cursor = record.end;
  }
  if (cursor < until)
    return { candidates, stoppedAt: { start: cursor, reason: `not exported yet: no export window from ${isoUtc(cursor)} in the ledger` } };
  return { candidates };
}

/** Checks one archived window in the store: the data object (size + SHA-256) and its manifest. */
export async function checkArchivedWindow(store: ArchiveStore, candidate: Candidate, signal?: AbortSignal): Promise<string | undefined> {
  const { archive, record } = candidate;
  const data = await store.verify(archive.key, { bytes: archive.bytes, sha256: archive.sha256 }, { signal });
  if (!data.ok) return `archive object ${store.describe(archive.key)}: ${data.reason ?? 'verification failed'}`;
  let manifest: unknown;
  try {
    manifest = await store.readJson(archive.manifestKey, { signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    return `manifest ${store.describe(archive.manifestKey)}: unreadable (${(err as Error).message.split('\n')[0]})`;
  }
  if (manifest === null || manifest === undefined) return `manifest ${store.describe(archive.manifestKey)}: missing`;
  const m = manifest as { bytes?: unknown; sha256?: unknown; window?: { start?: unknown; end?: unknown }; copy?: { complete?: unknown } };
  if (m.copy && m.copy.complete !== true)
    return `manifest ${store.describe(archive.manifestKey)}: the object is a partial copy of the feed`;
  if (m.sha256 !== archive.sha256 || m.bytes !== archive.bytes) {
    return `manifest ${store.describe(archive.manifestKey)}: does not match the ledger (bytes ${String(m.bytes)} / ${archive.bytes}, sha256 ${String(m.sha256).slice(0, 12)} / ${archive.sha256.slice(0, 12)})`;
  }
  if (m.window && (!sameInstant(m.window.start, record.start) || !sameInstant(m.window.end, record.end))) {
    return `manifest ${store.describe(archive.manifestKey)}: covers another window (${String(m.window.start)} .. ${String(m.window.end)})`;
  }
  return undefined;
}

function sameInstant(value: unknown, ms: number): boolean {
  if (typeof value === 'number') return value === ms;
  if (typeof value === 'string') return Date.parse(value) === ms;
  return false;
}

export interface VerifiedWatermarkOptions {
  scheduleId: string;
  startAt: number;
  /** No need to look further: the retention cutoff. */
  until: number;
  /**
   * Windows ending at or before this instant were purged from OX by an earlier verified purge:
   * re-reading their archives cannot change what this purge deletes, so they are only walked in
   * the ledger, not re-read (a year of daily windows would otherwise be re-read every day).
   */
  alreadyPurgedThrough?: number;
  /** Archive objects re-read at once. */
  concurrency?: number;
  /** The feed being purged: windows that archived another one are no copy of it. */
  feed?: Feed;
  signal?: AbortSignal;
}

export async function verifiedWatermark(
  records: readonly WindowRecord[],
  store: ArchiveStore,
  options: VerifiedWatermarkOptions,
): Promise<VerifiedWatermark> {
  const { candidates, stoppedAt: ledgerStop } = contiguousArchivedRun(records, options.startAt, options.until, options.feed);
  const purgedThrough = options.alreadyPurgedThrough ?? Number.NEGATIVE_INFINITY;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const windows: GuardWindow[] = [];
  let watermark = options.startAt;

  for (let i = 0; i < candidates.length; i += concurrency) {
    const batch = candidates.slice(i, i + concurrency);
    const problems = await Promise.all(
      batch.map((c) => (c.record.end <= purgedThrough ? Promise.resolve(undefined) : checkArchivedWindow(store, c, options.signal))),
    );
    for (let j = 0; j < batch.length; j += 1) {
      const { record, archive } = batch[j]!;
      const problem = problems[j];
      if (problem !== undefined) {
        return {
          scheduleId: options.scheduleId,
          startAt: options.startAt,
          watermark,
          windows,
          stoppedAt: { start: record.start, end: record.end, reason: problem },
        };
      }
      windows.push({
        start: record.start,
        end: record.end,
        key: archive.key,
        rows: rowsOf(record.result),
        bytes: archive.bytes,
        check: record.end <= purgedThrough ? 'already-purged' : 'verified',
      });
      watermark = record.end;
    }
  }
  return { scheduleId: options.scheduleId, startAt: options.startAt, watermark, windows, stoppedAt: ledgerStop };
}
