/**
 * The archive as a local (or mounted) folder. Files appear atomically: bytes go to a hidden temp
 * name beside the target, are fsynced, then renamed, and the folder is fsynced so the rename
 * survives a crash. A reader listing the folder never sees half a file. Temp names say which
 * process writes them (archive-temp.ts): those of dead writers are removed when the key is next
 * written, so a crash mid-write leaves nothing behind beside the finished object.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import { copyFile, link, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { assertSafeKey } from './archive-key.js';
import { isTempName, nextTempName, sweepTempsOf } from './archive-temp.js';
import { hashFile } from './hash-file.js';
import type { ArchiveObjectInfo, ArchiveStore, VerifyOptions, VerifyResult } from './types.js';

/** Temps whose writer cannot be checked (another host, an older version) go once this old. */
const FOREIGN_TEMP_MAX_AGE_MS = 86_400_000;

export class FsArchive implements ArchiveStore {
  readonly kind = 'fs' as const;
  private readonly root: string;
  private readonly foreignTempMaxAgeMs: number;

  constructor(dir: string, options: { foreignTempMaxAgeMs?: number } = {}) {
    this.root = resolve(dir);
    this.foreignTempMaxAgeMs = options.foreignTempMaxAgeMs ?? FOREIGN_TEMP_MAX_AGE_MS;
  }

  describe(key: string): string {
    return this.pathOf(key);
  }

  async putFile(
    key: string,
    filePath: string,
    options: { contentType: string; bytes: number; sha256: string; signal?: AbortSignal; immutable?: boolean },
  ): Promise<ArchiveObjectInfo> {
    const target = this.pathOf(key);
    await this.writeAtomically(target, options.signal, async (temp) => {
      if (!options.immutable || !(await hardLink(filePath, temp))) {
        // A copy where the source may still change, so the archive never changes with it;
        // FICLONE makes it a copy-on-write clone where the file system can (XFS, Btrfs).
        await copyFile(filePath, temp, fsConstants.COPYFILE_FICLONE);
      }
      const { size } = await stat(temp);
      if (size !== options.bytes) throw new Error(`archive copy of ${basename(filePath)} has ${size} bytes, expected ${options.bytes}`);
    });
    return { key, bytes: options.bytes, sha256: options.sha256 };
  }

  async putJson(key: string, value: unknown, options: { signal?: AbortSignal } = {}): Promise<ArchiveObjectInfo> {
    const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
    await this.writeAtomically(this.pathOf(key), options.signal, async (temp) => {
      const handle = await open(temp, 'wx', 0o640);
      try {
        await handle.writeFile(body);
      } finally {
        await handle.close();
      }
    });
    return { key, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
  }

  async readJson<T = unknown>(key: string): Promise<T | null> {
    try {
      return JSON.parse(await readFile(this.pathOf(key), 'utf8')) as T;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async verify(key: string, expected: { bytes: number; sha256: string }, options: VerifyOptions = {}): Promise<VerifyResult> {
    const path = this.pathOf(key);
    let stored: Stats;
    try {
      stored = await stat(path);
    } catch (err) {
      if (isMissing(err)) return { ok: false, reason: 'missing' };
      throw err;
    }
    const size = stored.size;
    if (size !== expected.bytes) return { ok: false, reason: `size ${size} != ${expected.bytes}`, bytes: size };
    // The archive file IS the spool (putFile hard-linked it, writeAtomically fsynced it): its
    // SHA-256 was taken while the bytes were written; reading them back would prove nothing more.
    if (options.localCopy !== undefined && (await sameInode(stored, options.localCopy))) {
      return { ok: true, verifiedBy: 'same-inode', bytes: size, sha256: expected.sha256 };
    }
    const { sha256 } = await hashFile(path, options.signal);
    if (sha256 !== expected.sha256) return { ok: false, reason: 'sha256 mismatch', bytes: size, sha256 };
    return { ok: true, verifiedBy: 'read-back', bytes: size, sha256 };
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.pathOf(key));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async presignGet(key: string, _ttlMs?: number): Promise<string> {
    throw new InputError(`archive.kind is fs: a download link for ${key} needs archive.kind s3`);
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    assertSafeKey(key);
    // A key named like a temp file could be taken for a crashed write and swept.
    if (isTempName(basename(key))) throw new InputError(`archive key "${key}" has the form of an archive temp file name`);
    return join(this.root, key);
  }

  /** Writes through `fill(tempPath)`, fsyncs, renames over `target` and fsyncs the folder. */
  private async writeAtomically(target: string, signal: AbortSignal | undefined, fill: (temp: string) => Promise<void>): Promise<void> {
    signal?.throwIfAborted();
    const folder = dirname(target);
    await mkdir(folder, { recursive: true });
    // What a crashed writer of this key left goes first; a live writer's temp stays.
    await sweepTempsOf(folder, basename(target), this.foreignTempMaxAgeMs);
    // Hidden and beside the target: same file system, so the rename is atomic.
    const temp = join(folder, nextTempName(basename(target)));
    try {
      await fill(temp);
      await fsyncPath(temp, 'r+');
      signal?.throwIfAborted();
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    await fsyncPath(folder, 'r');
  }
}

/**
 * A multi-GB spool on the archive's file system becomes the archive file without a copy.
 * False where links cannot work (another file system, no link support): then we copy.
 */
async function hardLink(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (err) {
    if (['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK'].includes((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
}

async function sameInode(stored: Stats, localCopy: string): Promise<boolean> {
  try {
    const local = await stat(localCopy);
    return local.ino === stored.ino && local.dev === stored.dev && local.size === stored.size;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

async function fsyncPath(path: string, flags: string): Promise<void> {
  const handle = await open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}
