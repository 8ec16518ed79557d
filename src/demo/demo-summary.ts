/**
 * The demo's closing report: what ran, what it produced and where to look. Also written as
 * var/demo/summary.json, which the demo test checks against the files on disk.
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface DemoSummary {
  ok: boolean;
  durationMs: number;
  prefix: string;
  paths: { archive: string; mail: string; log: string };
  windows: {
    schedule: string;
    zone: string;
    from: string;
    to: string;
    done: number;
    rows: number;
    keys: string[];
    historyDone: number;
    historyRows: number;
  };
  files: ArchiveCount;
  mails: { count: number; files: string[] };
  purge: {
    refusedFirst: boolean;
    refusal?: string;
    cutoff?: string;
    retention?: string;
    limitedBy?: string;
    rowsBefore: number;
    rowsDeleted: number;
    rowsLeft: number;
    guardWatermark?: string;
  };
  ads: { catalog: string; created?: number; updated?: number; deleted?: number; failed?: number; error?: string };
  audit: { window: string; usersChecked?: number; changes?: number; flaggedRows?: number; key?: string; error?: string };
}

export interface ArchiveCount {
  /** Data objects and manifests, relative to the archive root. */
  data: string[];
  manifests: string[];
}

/** Every file in the fs archive (temp files and the demo's marker excluded). */
export async function countArchive(root: string): Promise<ArchiveCount> {
  const data: string[] = [];
  const manifests: string[] = [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile() || entry.name.startsWith('.')) continue;
    const path = relative(root, join(entry.parentPath, entry.name));
    (path.endsWith('.manifest.json') ? manifests : data).push(path);
  }
  return { data: data.sort(), manifests: manifests.sort() };
}

export function formatSummary(s: DemoSummary, root: string): string {
  // Paths inside the package are shown relative to it (where `npm run demo` runs), others in full.
  const at = (p: string) => (p.startsWith(`${root}/`) ? relative(root, p) : p);
  const lines = [
    `Summary (${(s.durationMs / 1000).toFixed(1)} s, ${s.ok ? 'all steps succeeded' : 'SOME STEPS FAILED'})`,
    `  windows   ${s.windows.done} daily windows ${s.windows.from} .. ${s.windows.to} (${s.windows.zone}) of ${s.windows.schedule}, plus ${s.windows.historyDone} history windows archived for the purge guard`,
    `  rows      ${s.windows.rows} exported in the backfill, ${s.windows.historyRows} in the history`,
    `  files     ${s.files.data.length} archive files + ${s.files.manifests.length} manifests in ${at(s.paths.archive)}/`,
    `  mails     ${s.mails.count} in ${at(s.paths.mail)}/ (one per backfilled window, one audit report)`,
    s.purge.cutoff
      ? `  purged    feedback before ${s.purge.cutoff} (retention ${s.purge.retention}, limited by ${s.purge.limitedBy}; archive verified through ${s.purge.guardWatermark}): ${s.purge.rowsDeleted} of ${s.purge.rowsBefore} rows deleted; refused before the history was archived: ${s.purge.refusedFirst ? 'yes' : 'no'}`
      : `  purged    nothing${s.purge.refusal ? ` (${s.purge.refusal})` : ''}`,
    s.ads.error === undefined
      ? `  ads       applied from ${s.ads.catalog}: ${s.ads.created} created, ${s.ads.updated} updated, ${s.ads.deleted} deleted, ${s.ads.failed} failed`
      : `  ads       failed: ${s.ads.error}`,
    s.audit.error === undefined
      ? `  audit     ${s.audit.window}: ${s.audit.usersChecked} users checked, ${s.audit.changes} changes, ${s.audit.flaggedRows} flagged → ${at(s.paths.archive)}/${s.audit.key}`
      : `  audit     failed: ${s.audit.error}`,
    `  log       ${at(s.paths.log)} (daemon, JSON lines); summary ${at(join(s.paths.log, '..', 'summary.json'))}`,
    `  look at   ${at(s.paths.archive)}/${s.windows.keys.at(-1) ?? ''}  and  ${at(s.paths.mail)}/${s.mails.files.at(-1) ?? ''}`,
  ];
  return lines.join('\n');
}
