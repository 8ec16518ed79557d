/**
 * The ledger's Redis commands, one Lua script per file beside this one, named like BullMQ's
 * (`<name>-<number of keys>.lua`, a KEYS/ARGV/returns header in each) and defined on a client by
 * name through ioredis' `defineCommand`: `redis.flagReexport(key1, key2, arg1, …)`. A file
 * without a key count (`updateWindows.lua`, `trimDone.lua`) takes a varying number of keys: the
 * caller passes the count first.
 *
 * Two directives, each a line of its own, are resolved here before a script is defined:
 *   --- @include "includes/name"   the shared Lua piece includes/name.lua (a path relative to the
 *                                  including file, as in BullMQ); every piece appears once per
 *                                  script, at its top, after the pieces it includes itself
 *   --- @function "markDone-5"     the command markDone-5.lua as `local function markDone(KEYS,
 *                                  ARGV)`: its body runs as it does alone, on the KEYS and ARGV it
 *                                  is handed (how updateWindows.lua applies a batch of transitions)
 * The build copies the scripts next to the compiled module (scripts/copy-lua.mjs).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from '../../redis/connection.js';
import { packageRoot } from '../../package-root.js';

const FILE = /^([A-Za-z]+)(?:-(\d+))?\.lua$/;
const INCLUDE = /^--- @include "([^"]+)"\s*$/;
const FUNCTION = /^--- @function "([^"]+)"\s*$/;

/** Beside this module (src/ or dist/src/); from a bundle elsewhere, the package's own copy. */
function scriptDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, 'flagReexport-2.lua'))) return here;
  const root = packageRoot();
  for (const dir of ['dist/src/ledger/commands', 'src/ledger/commands'].map((d) => join(root, d))) {
    if (existsSync(join(dir, 'flagReexport-2.lua'))) return dir;
  }
  throw new Error(`the ledger's Lua scripts are missing (looked beside ${here} and in ${root})`);
}

export interface LedgerCommand {
  name: string;
  /** Undefined: the caller passes the key count first. */
  numberOfKeys: number | undefined;
  /** The script with its directives resolved. */
  lua: string;
}

/**
 * Resolves the directives of `file`: returns its body (a `@function` expanded in place) and adds
 * the pieces it includes, depth first, to `included` (path → text, in the order they must appear).
 */
function expand(file: string, included: Map<string, string>, including: readonly string[]): string {
  if (including.includes(file)) throw new Error(`Lua include cycle: ${[...including, file].join(' -> ')}`);
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: string[] = [];
  for (const line of lines) {
    const include = INCLUDE.exec(line);
    const fn = FUNCTION.exec(line);
    if (include) {
      const path = join(dirname(file), `${include[1]}.lua`);
      if (!included.has(path)) {
        const text = expand(path, included, [...including, file]);
        included.set(path, text);
      }
    } else if (fn) {
      const path = join(dirname(file), `${fn[1]}.lua`);
      const name = FILE.exec(basename(path))?.[1];
      if (!name) throw new Error(`@function "${fn[1]}" in ${file} names no command file`);
      out.push(`local function ${name}(KEYS, ARGV)`, expand(path, included, [...including, file]), 'end');
    } else {
      out.push(line);
    }
  }
  return out.join('\n');
}

/** One command's script: the pieces it includes first, then its own body. */
export function preprocess(file: string): string {
  const included = new Map<string, string>();
  const body = expand(file, included, []);
  return [...included.values(), body].join('\n');
}

let commands: LedgerCommand[] | undefined;

export function loadCommands(): LedgerCommand[] {
  const dir = scriptDir();
  return (commands ??= readdirSync(dir).flatMap((file) => {
    const m = FILE.exec(file);
    return m ? [{ name: m[1]!, numberOfKeys: m[2] === undefined ? undefined : Number(m[2]), lua: preprocess(join(dir, file)) }] : [];
  }));
}

/** The commands as callable methods of a client (defined once per client). */
export type LedgerCommands = Record<string, (...args: Array<string | number>) => Promise<unknown>>;

export function ledgerCommands(redis: RedisClient): LedgerCommands {
  for (const command of loadCommands()) {
    if (!(command.name in redis)) {
      redis.defineCommand(
        command.name,
        command.numberOfKeys === undefined ? { lua: command.lua } : { numberOfKeys: command.numberOfKeys, lua: command.lua },
      );
    }
  }
  return redis as unknown as LedgerCommands;
}
