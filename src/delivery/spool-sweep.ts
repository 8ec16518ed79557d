/**
 * Sweeping the spool folder of what crashed processes left there. A spool file holds a window's
 * feedback (personal data); one whose process was SIGKILLed, OOM-killed or lost its node is never
 * removed by that process. The daemon at start and `ox-batch run` at start remove:
 *  - files of a **dead** process of this host (pid gone, or the pid is another process now);
 *  - files of other hosts or containers sharing the folder, and names without an owner (older
 *    versions), only when untouched for `spool.staleAfter` — their liveness cannot be seen here.
 * A file of a live process of this host is never removed. The last sweep of each host and folder
 * and the last one that removed files are kept in Redis (`<prefix>:spool:sweeps`) for `ox-batch status`.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../redis/connection.js';
import { liveness, ownIdentity, parseIdentityToken, unescapeHost, type Liveness } from './process-identity.js';
import { SPOOL_FILE_PREFIX } from './spool.js';

export interface SweepReport {
  /** Epoch ms. */
  at: number;
  /** What swept: `daemon` (ox-batch start) or `run` (ox-batch run). */
  by: string;
  host: string;
  pid: number;
  dir: string;
  removed: number;
  removedBytes: number;
  /** Names of removed files (at most 20) and whose they were. */
  removedFiles: Array<{ name: string; owner: string; why: 'dead process' | 'stale' }>;
  /** Files of live processes of this host. */
  keptLive: number;
  /** Files of other hosts (or without an owner) younger than staleAfter. */
  keptOther: number;
  errors: string[];
}

export interface SweepOptions {
  by: string;
  /** Files whose owner cannot be checked are removed once untouched this long. */
  staleAfterMs: number;
  now?: number;
  /** Test seam: liveness of an owner. */
  liveness?: (token: string) => Liveness;
}

const MAX_LISTED = 20;

/** The spool folder of a config: `spool.dir`, else the OS temp dir. */
export function spoolDirOf(config: { spool: { dir?: string } }): string {
  return config.spool.dir || tmpdir();
}

export async function sweepSpool(dir: string, options: SweepOptions): Promise<SweepReport> {
  const me = ownIdentity();
  const now = options.now ?? Date.now();
  const report: SweepReport = {
    at: now,
    by: options.by,
    host: unescapeHost(me.host),
    pid: me.pid,
    dir,
    removed: 0,
    removedBytes: 0,
    removedFiles: [],
    keptLive: 0,
    keptOther: 0,
    errors: [],
  };
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      report.errors.push(`cannot list ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return report;
  }
  const livenessOf =
    options.liveness ??
    ((token: string) => {
      const owner = parseIdentityToken(token);
      return owner ? liveness(owner, me) : 'unknown';
    });
  for (const name of names) {
    if (!name.startsWith(SPOOL_FILE_PREFIX)) continue;
    const path = join(dir, name);
    let info;
    try {
      info = await lstat(path);
    } catch {
      continue; // removed meanwhile (its process finished, or another sweep)
    }
    if (!info.isFile()) continue;
    const token = ownerToken(name);
    const state = token ? livenessOf(token) : 'unknown';
    if (state === 'alive') {
      report.keptLive++;
      continue;
    }
    if (state === 'unknown' && now - info.mtimeMs < options.staleAfterMs) {
      report.keptOther++;
      continue;
    }
    try {
      await rm(path, { force: true });
    } catch (err) {
      report.errors.push(`cannot remove ${name}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      continue;
    }
    report.removed++;
    report.removedBytes += info.size;
    if (report.removedFiles.length < MAX_LISTED) {
      const owner = token ? parseIdentityToken(token) : undefined;
      report.removedFiles.push({
        name,
        owner: owner ? `${unescapeHost(owner.host)} pid ${owner.pid}` : 'unknown (older version)',
        why: state === 'dead' ? 'dead process' : 'stale',
      });
    }
  }
  return report;
}

/** `<token>` of `.oxb-spool-<token>.<n>`; undefined for names of older versions. */
function ownerToken(name: string): string | undefined {
  const rest = name.slice(SPOOL_FILE_PREFIX.length);
  const dot = rest.lastIndexOf('.');
  if (dot <= 0 || !/^\d+$/.test(rest.slice(dot + 1))) return undefined;
  const token = rest.slice(0, dot);
  return parseIdentityToken(token) ? token : undefined;
}

function sweepsKey(prefix: string): string {
  return `${prefix}:spool:sweeps`;
}

/** The sweeps of one host and folder: the last one, and the last one that removed anything. */
export interface SweepHistory {
  host: string;
  dir: string;
  last: SweepReport;
  lastRemoval?: SweepReport;
}

/**
 * Keeps the report as the last sweep of its host and folder (one hash field each), and, when it
 * removed files, as the last removal too: a later sweep with nothing to do does not hide it.
 */
export async function recordSweep(redis: RedisClient, prefix: string, report: SweepReport): Promise<void> {
  const field = `${report.host}|${report.dir}`;
  const text = JSON.stringify(report);
  await redis.hset(
    sweepsKey(prefix),
    ...(report.removed > 0 ? [`last|${field}`, text, `removal|${field}`, text] : [`last|${field}`, text]),
  );
}

/** Every host and folder swept, the newest sweep first. */
export async function lastSweeps(redis: RedisClient, prefix: string): Promise<SweepHistory[]> {
  const all = await redis.hgetall(sweepsKey(prefix));
  const byField = new Map<string, SweepHistory>();
  for (const [key, text] of Object.entries(all)) {
    const bar = key.indexOf('|');
    const which = key.slice(0, bar);
    const field = key.slice(bar + 1);
    const report = JSON.parse(text) as SweepReport;
    const entry = byField.get(field) ?? { host: report.host, dir: report.dir, last: report };
    if (which === 'last') entry.last = report;
    else if (which === 'removal') entry.lastRemoval = report;
    byField.set(field, entry);
  }
  return [...byField.values()].sort((a, b) => b.last.at - a.last.at);
}

/** One line for the log: what went and what stayed. */
export function sweepLine(report: SweepReport): string {
  const kept = `kept ${report.keptLive} of live processes, ${report.keptOther} of other hosts`;
  return report.removed > 0
    ? `spool sweep of ${report.dir}: removed ${report.removed} file(s), ${report.removedBytes} bytes, left by crashed processes; ${kept}`
    : `spool sweep of ${report.dir}: nothing to remove; ${kept}`;
}

export interface StartSweepContext {
  config: { spool: { dir?: string; staleAfter: number }; redis: { prefix: string } };
  redis: RedisClient;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  by: string;
}

/**
 * The sweep a process does when it starts: never fatal (a folder it cannot read is logged), the
 * report logged and recorded for `ox-batch status`.
 */
export async function sweepSpoolAtStart(context: StartSweepContext): Promise<SweepReport | undefined> {
  const dir = spoolDirOf(context.config);
  try {
    const report = await sweepSpool(dir, { by: context.by, staleAfterMs: context.config.spool.staleAfter });
    const fields = {
      spoolSweep: {
        dir,
        removed: report.removed,
        removedBytes: report.removedBytes,
        keptLive: report.keptLive,
        keptOther: report.keptOther,
        files: report.removedFiles,
      },
    };
    if (report.errors.length > 0) context.log.warn({ ...fields, errors: report.errors }, sweepLine(report));
    else context.log.info(fields, sweepLine(report));
    await recordSweep(context.redis, context.config.redis.prefix, report);
    return report;
  } catch (err) {
    context.log.warn({ err, dir }, 'spool sweep failed; leftover spool files stay until the next start');
    return undefined;
  }
}
