/**
 * The ledger's Redis commands, one Lua script per file beside this one, named like BullMQ's
 * (`<name>-<number of keys>.lua`, a KEYS/ARGV/returns header in each) and defined on a client by
 * name through ioredis' `defineCommand`: `redis.flagReexport(key1, key2, arg1, …)`.
 * The build copies the scripts next to the compiled module (scripts/copy-lua.mjs).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from '../../redis/connection.js';
import { packageRoot } from '../../package-root.js';

const FILE = /^([A-Za-z]+)-(\d+)\.lua$/;

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

interface LedgerCommand {
  name: string;
  numberOfKeys: number;
  lua: string;
}

let commands: LedgerCommand[] | undefined;

function loadCommands(): LedgerCommand[] {
  const dir = scriptDir();
  return (commands ??= readdirSync(dir).flatMap((file) => {
    const m = FILE.exec(file);
    return m ? [{ name: m[1]!, numberOfKeys: Number(m[2]), lua: readFileSync(join(dir, file), 'utf8') }] : [];
  }));
}

/** The commands as callable methods of a client (defined once per client). */
export type LedgerCommands = Record<string, (...args: Array<string | number>) => Promise<unknown>>;

export function ledgerCommands(redis: RedisClient): LedgerCommands {
  for (const command of loadCommands()) {
    if (!(command.name in redis)) redis.defineCommand(command.name, { numberOfKeys: command.numberOfKeys, lua: command.lua });
  }
  return redis as unknown as LedgerCommands;
}
