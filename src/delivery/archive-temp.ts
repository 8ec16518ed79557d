/**
 * Temp names of the fs archive: `.<file>.tmp-<writer>.<n>` beside the object `<file>`, where
 * `<writer>` is the writing process (process-identity.ts) and `<n>` counts its writes. The name
 * is fixed per key and process (two writers of one key never share a temp), and it says whose it
 * is: when a key is written, the temps of that key left by dead writers are removed first, so a
 * process SIGKILLed mid-write leaves nothing behind once the key is written again.
 *
 * A temp name never is an object: the fs archive refuses keys whose file name looks like one
 * (`isTempName`), and a temp of one key never matches the temps of another (`tempOwnerOf`).
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { IDENTITY_TOKEN_SOURCE, identityToken, liveness, parseIdentityToken } from './process-identity.js';

const MARK = '.tmp-';
const OWNER = new RegExp(`^(${IDENTITY_TOKEN_SOURCE})\\.(\\d+)$`);
/** Temp names of this version and of earlier ones (`.<file>.tmp-<8 hex>`, random). */
const ANY_TEMP = new RegExp(`^\\..+\\.tmp-(?:${IDENTITY_TOKEN_SOURCE}\\.\\d+|[0-9a-f]{8})$`);
const LEGACY = /^[0-9a-f]{8}$/;

let writes = 0;

export function tempNameFor(fileName: string, token: string, n: number): string {
  return `.${fileName}${MARK}${token}.${n}`;
}

/** This process's temp name for its next write of `fileName`. */
export function nextTempName(fileName: string): string {
  writes += 1;
  return tempNameFor(fileName, identityToken(), writes);
}

/**
 * The writer of `name` when it is a temp of `fileName`: its token, `legacy` for the random names
 * of earlier versions, undefined when `name` is no temp of that file.
 */
export function tempOwnerOf(name: string, fileName: string): string | undefined {
  const head = `.${fileName}${MARK}`;
  if (!name.startsWith(head)) return undefined;
  const rest = name.slice(head.length);
  if (LEGACY.test(rest)) return 'legacy';
  const m = OWNER.exec(rest);
  return m && parseIdentityToken(m[1]!) ? m[1] : undefined;
}

/** True for file names that are (or look like) archive temps: never the name of an object. */
export function isTempName(name: string): boolean {
  return ANY_TEMP.test(name);
}

/**
 * Removes the temps of `fileName` in `folder` whose writer is dead (this host), or whose writer
 * cannot be checked (another host, an earlier version) and that are older than `staleAfterMs`.
 * Returns the names removed. A live writer's temp is never touched.
 */
export async function sweepTempsOf(folder: string, fileName: string, staleAfterMs: number, now = Date.now()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const owner = tempOwnerOf(name, fileName);
    if (owner === undefined) continue;
    const identity = owner === 'legacy' ? undefined : parseIdentityToken(owner);
    const state = identity ? liveness(identity) : 'unknown';
    if (state === 'alive') continue;
    if (state === 'unknown') {
      const info = await lstat(join(folder, name)).catch(() => undefined);
      if (!info || now - info.mtimeMs < staleAfterMs) continue;
    }
    await rm(join(folder, name), { force: true });
    removed.push(name);
  }
  return removed;
}
