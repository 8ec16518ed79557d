/**
 * Archive object keys: deterministic, so a retried or re-queued job writes the same object
 * again instead of a second one, and people can find a window's artifact by its date.
 * `[<prefix>/]<schedule>/<group>/<type>/<yyyy>/<mm>/<dd>/<type>_<start>_<end>.<ext>[.gz]`
 */
import { InputError } from '../errors.js';

export interface ArtifactNaming {
  /** Schedule id, or the job name for an unscheduled run. */
  schedule: string;
  /** Second path level: the context group for feedback, a comparable grouping for other jobs. */
  group: string;
  /** Third path level and file name stem: the feedback type, `passwd-changes`, ... */
  type: string;
  window: { start: number; end: number };
  /** `csv`, `jsonl`, ... without dot. */
  ext: string;
  gzip: boolean;
  /**
   * A preview of a window that was still open (`ox-batch run --open`), made at this instant:
   * stored under `preview/…` with `.open-<time>` in the name, apart from the window's real key.
   */
  previewAt?: number;
  /**
   * A re-export's revision (2, 3, …): `.r<n>` before the extension, beside the first object,
   * which is never replaced.
   */
  revision?: number;
}

export function artifactKey(naming: ArtifactNaming, prefix = ''): string {
  const start = new Date(naming.window.start);
  const day = [
    String(start.getUTCFullYear()).padStart(4, '0'),
    String(start.getUTCMonth() + 1).padStart(2, '0'),
    String(start.getUTCDate()).padStart(2, '0'),
  ];
  const open =
    (naming.previewAt === undefined ? '' : `.open-${compactUtc(naming.previewAt)}`) +
    (naming.revision === undefined ? '' : `.r${naming.revision}`);
  const file = `${naming.type}_${compactUtc(naming.window.start)}_${compactUtc(naming.window.end)}${open}.${naming.ext}${naming.gzip ? '.gz' : ''}`;
  const segments = [...(naming.previewAt === undefined ? [] : [PREVIEW_SEGMENT]), naming.schedule, naming.group, naming.type, ...day, file];
  for (const [name, value] of [
    ['schedule', naming.schedule],
    ['group', naming.group],
    ['type', naming.type],
    ['ext', naming.ext],
  ] as const) {
    if (!SAFE_SEGMENT.test(value))
      throw new InputError(`archive key: ${name} "${value}" is not usable in a path (letters, digits, . _ - only)`);
  }
  const trimmedPrefix = prefix.replace(/^\/+|\/+$/g, '');
  return trimmedPrefix ? `${trimmedPrefix}/${segments.join('/')}` : segments.join('/');
}

/** Top-level folder of previews: nothing under it is a window's archived copy. */
export const PREVIEW_SEGMENT = 'preview';

export function manifestKeyFor(key: string): string {
  return `${key}.manifest.json`;
}

/** `20261101T000000Z`: UTC, second precision, safe in file names on every OS. */
export function compactUtc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** The key's last segment: the file name for attachments and downloads. */
export function keyBaseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

const SAFE_SEGMENT = /^[A-Za-z0-9_.-]+$/;

/** Rejects keys that would escape the archive root or confuse object stores. */
export function assertSafeKey(key: string): void {
  const bad =
    key === '' ||
    key.startsWith('/') ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..');
  if (bad) throw new InputError(`archive key "${key}" is not a relative path of plain segments`);
}
