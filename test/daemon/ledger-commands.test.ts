/**
 * The ledger's Lua commands (src/ledger/commands/): each file says what it takes and answers,
 * every reply code it writes is one `LedgerReply` names, the include directives resolve, and a
 * transition applied in the per-turn batch (updateWindows.lua) does exactly what it does alone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/connection.js';
import { ledgerCommands, loadCommands, type LedgerCommands } from '../../src/ledger/commands/index.js';
import { LedgerReply } from '../../src/ledger/replies.js';
import { packageRoot } from '../../src/package-root.js';
import { deleteKeys, plainRedis, testPrefix } from './helpers.js';

const DIR = join(packageRoot(), 'src', 'ledger', 'commands');
const commandFiles = readdirSync(DIR).filter((f) => f.endsWith('.lua'));
const includeFiles = readdirSync(join(DIR, 'includes')).filter((f) => f.endsWith('.lua'));
const source = (file: string) => readFileSync(join(DIR, file), 'utf8');

describe('ledger command files', () => {
  it('each names its KEYS (as many as its file name says), its ARGV and its output in a header', () => {
    expect(commandFiles.length).toBeGreaterThan(10);
    for (const file of commandFiles) {
      const header = /^--\[\[([\s\S]*?)\]\]/.exec(source(file))?.[1];
      expect(header, file).toBeDefined();
      expect(header, file).toMatch(/Input:[\s\S]*KEYS[\s\S]*ARGV[\s\S]*Output:/);
      const keyCount = /-(\d+)\.lua$/.exec(file)?.[1];
      if (keyCount === undefined) continue; // a varying number of keys: the caller passes the count
      const named = [...header!.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      expect(Math.max(...named), file).toBe(Number(keyCount));
    }
  });

  it('answers only reply codes that LedgerReply names', () => {
    const codes = new Set<string>(Object.values(LedgerReply));
    for (const file of [...commandFiles, ...includeFiles.map((f) => join('includes', f))]) {
      const body = source(file).replace(/^--\[\[[\s\S]*?\]\]/, '');
      for (const m of body.matchAll(/return \{ '([A-Za-z]+)'/g)) expect(codes, `${file}: '${m[1]}'`).toContain(m[1]);
    }
  });

  it('includes every shared piece once per script, before the code that calls it', () => {
    const batch = loadCommands().find((c) => c.name === 'updateWindows')!;
    expect(batch.lua).not.toMatch(/^--- @(include|function)/m);
    for (const name of ['readWindow', 'setWindowState', 'inTrimmedRange', 'invalidateWatermark', 'beginRefusal']) {
      expect(batch.lua.match(new RegExp(`local function ${name}\\(`, 'g')), name).toHaveLength(1);
      expect(batch.lua.indexOf(`local function ${name}(`), name).toBeLessThan(batch.lua.indexOf('local function markQueued(KEYS, ARGV)'));
    }
    // The trim (its own command) shares the trimmed range's reading with the transitions.
    expect(loadCommands().find((c) => c.name === 'trimDone')!.lua).toContain('local function readTrimmedRange(');
  });
});

describe('ledger commands in Redis', () => {
  let redis: RedisClient;
  let commands: LedgerCommands;
  const prefix = testPrefix();
  beforeAll(() => {
    redis = plainRedis();
    commands = ledgerCommands(redis);
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('every script compiles', async () => {
    for (const command of loadCommands()) {
      await expect(redis.script('LOAD', command.lua), command.name).resolves.toMatch(/^[0-9a-f]{40}$/);
    }
  });

  it('a transition in the batch answers and writes what it does alone', async () => {
    const keysOf = (run: string) => [
      `${prefix}:${run}:ledger:w:s:1000`,
      `${prefix}:${run}:ledger:idx:s`,
      `${prefix}:${run}:ledger:failed:s`,
      `${prefix}:${run}:ledger:wm:s`,
      `${prefix}:${run}:ledger:schedules`,
    ];
    const common = ['s', '1000', '2000', 'test.noop', '5000'];
    const steps: Array<[name: string, args: string[]]> = [
      ['markQueued', [...common, 'job-1', '0']],
      ['beginWindow', [...common, '1', '0', '9000', 'worker:a']],
      ['beginManual', [...common, '0', '9000', 'run:b']],
      ['markFailed', [...common, 'OX answered 503', '0']],
      ['markRetryRound', [...common, 'job-2']],
      ['markDone', [...common, '{"rows":[]}']],
      ['beginWindow', [...common, '2', '0', '', '']],
      ['beginManual', [...common, '1', '9500', 'run:c']],
    ];
    const alone: unknown[] = [];
    for (const [name, args] of steps) alone.push(await commands[name]!(...keysOf('alone'), ...args));
    const batchArgs = steps.flatMap(([name, args]) => [name, '5', String(args.length), ...args]);
    const batched = await commands.updateWindows!(5 * steps.length, ...steps.flatMap(() => keysOf('batch')), ...batchArgs);
    expect(batched).toEqual(alone);
    expect(alone).toEqual([
      ['applied'],
      ['started', ''],
      ['busy', 'worker:a', '9000', '5000'],
      ['applied'],
      ['round', 1],
      ['applied'],
      ['done', '{"rows":[]}'],
      ['started', '2', '{"rows":[]}'],
    ]);
    const written = async (run: string) => {
      const [window, idx, failed, wm, schedules] = keysOf(run) as [string, string, string, string, string];
      return [
        await redis.hgetall(window),
        await redis.zrange(idx, '0', '-1', 'WITHSCORES'),
        await redis.zrange(failed, '0', '-1', 'WITHSCORES'),
        await redis.hgetall(wm),
        await redis.smembers(schedules),
      ];
    };
    expect(await written('batch')).toEqual(await written('alone'));
    expect((await written('alone'))[0]).toMatchObject({ state: 'running', attempts: '2', owner: 'run:c', retryRounds: '1' });
  });

  it('an update the batch cannot apply answers an error of its own; the others are applied', async () => {
    const keys = [
      `${prefix}:x:ledger:w:s:1000`,
      `${prefix}:x:ledger:idx:s`,
      `${prefix}:x:ledger:failed:s`,
      `${prefix}:x:ledger:wm:s`,
      `${prefix}:x:ledger:schedules`,
    ];
    const args = ['s', '1000', '2000', 'test.noop', '5000', 'null'];
    const replies = (await commands.updateWindows!(
      10,
      ...keys,
      ...keys,
      'markDoneTwice',
      '5',
      '6',
      ...args,
      'markDone',
      '5',
      '6',
      ...args,
    )) as unknown[];
    expect(replies).toEqual([[LedgerReply.Error, 'no window transition named markDoneTwice'], [LedgerReply.Applied]]);
    expect(await redis.hget(keys[0]!, 'state')).toBe('done');
  });
});
