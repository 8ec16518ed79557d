/**
 * An archive knows what it holds, and only a complete copy lets the purge delete: through the
 * real CLI, a guard schedule's windows archived with only some columns (before the configuration
 * was changed to a full copy) stop the purge, and a `--param` that would make a guard schedule
 * archive less than its configuration says is refused (exit 2, nothing changed).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../../src/redis/connection.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeCopyOf } from '../../src/export/archived-copy.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { deleteKeys, plainRedis, REDIS_URL, testPrefix } from '../daemon/helpers.js';

const DAY = 86_400_000;
const today = Math.floor(Date.now() / DAY) * DAY;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

let cli: { entry: string; dispose(): void };
let sim: OxSimulator;
let redis: RedisClient;
let prefix: string;
let dir: string;

function config(name: string, exportParams: string, withPurge: boolean): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `ox: { url: "${sim.url}", user: oxadmin, password: secret }`,
      `redis: { url: "${REDIS_URL}", prefix: ${prefix} }`,
      `archive: { kind: fs, dir: "${join(dir, 'archive')}" }`,
      'schedules:',
      '  feedback-daily:',
      '    job: feedback.export',
      '    cron: "0 2 * * *"',
      '    window: 1d',
      '    lag: 0',
      `    startAt: ${isoDay(today - 3 * DAY)}`,
      `    params: ${exportParams}`,
      ...(withPurge ? ['  feedback-purge:', '    job: feedback.purge', '    cron: "0 4 * * *"', '    params: { retention: 1d }'] : []),
      '',
    ].join('\n'),
  );
  return file;
}

beforeAll(async () => {
  cli = await bundleCli();
  sim = await OxSimulator.start();
  sim.addFeedback(
    [0, 1, 2].map((i) => ({ date: today - (3 - i) * DAY + 3_600_000, contextId: 1, userId: i + 1, score: 2 + i, comment: `comment ${i}` })),
  );
  redis = plainRedis();
  prefix = testPrefix();
  dir = mkdtempSync(join(tmpdir(), 'oxbt-partial-'));
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
  await sim.close();
  cli.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('only a complete copy guards a purge', () => {
  it('windows archived with some columns stop the purge after the configuration became a full copy', async () => {
    const partialConfig = config('partial', '{ format: csv, columns: [Date, Score] }', false);
    const exported = await runCli(cli.entry, [
      '--config',
      partialConfig,
      'run',
      'feedback-daily',
      '--start',
      isoDay(today - 3 * DAY),
      '--end',
      isoDay(today),
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    const [first] = JSON.parse(exported.stdout.toString()) as Array<{
      result: { copy: Record<string, unknown>; archive: { location: string } };
    }>;
    expect(first!.result.copy).toMatchObject({
      format: 'csv',
      columns: ['Date', 'Score'],
      complete: false,
      partial: 'only the columns Date, Score (params.columns)',
    });
    const manifest = JSON.parse(readFileSync(`${first!.result.archive.location}.manifest.json`, 'utf8')) as { copy: unknown };
    expect(manifest.copy).toMatchObject({ complete: false, rows: 1, header: true, formulaGuard: true });

    // Today's configuration says full csv, and a purge is guarded by it: the ledger says what
    // the windows really hold.
    const fullConfig = config('full', '{ format: csv }', true);
    const purge = await runCli(cli.entry, ['--config', fullConfig, 'run', 'feedback-purge']);
    expect(purge.code, purge.stdout.toString() + purge.stderr).toBe(2);
    expect(purge.stdout.toString()).toMatch(/export window archived a partial copy: only the columns Date, Score/);
    expect(sim.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
    expect(sim.feedbackCount()).toBe(3);
  }, 60_000);

  it('a --param that changes feed, format, columns or deliver of a guard schedule is refused: exit 2, nothing changed', async () => {
    const fullConfig = config('full', '{ format: csv }', true);
    const window = ['--start', isoDay(today - DAY), '--end', isoDay(today)];
    const ledgerBefore = await new RedisLedger(redis, prefix).listWindows('feedback-daily');
    const attempts = [
      ['run', 'columns=Date,Score', 'columns'],
      ['enqueue', 'columns=Date', 'columns'],
      ['run', 'format=jsonl', 'format'],
      ['enqueue', 'type=nps-v1', 'type'],
      ['run', 'deliver=mail', 'deliver'],
    ] as const;
    const outs = await Promise.all(
      attempts.map(([command, param]) =>
        runCli(cli.entry, ['--config', fullConfig, command, 'feedback-daily', ...window, '--param', param, '--force']),
      ),
    );
    for (const [i, [command, param, key]] of attempts.entries()) {
      {
        const out = outs[i]!;
        expect(out.code, `${command} --param ${param}: ${out.stderr}`).toBe(2);
        expect(out.stderr.trim().split('\n')).toHaveLength(1);
        expect(out.stderr).toContain(`schedule feedback-daily: params.${key} = `);
        expect(out.stderr).toContain('refused because its archive guards the purge feedback-purge');
      }
    }
    expect(await new RedisLedger(redis, prefix).listWindows('feedback-daily')).toEqual(ledgerBefore);
    expect(await redis.exists(`${prefix}:jobs:id`)).toBe(0);
    // Params that do not change what is archived are fine.
    const subject = await runCli(cli.entry, [
      '--config',
      fullConfig,
      'run',
      'feedback-daily',
      ...window,
      '--param',
      'subject=x',
      '--dry-run',
    ]);
    expect(subject.code, subject.stderr).toBe(0);
  }, 90_000);
});

describe('completeCopyOf (what a done window holds)', () => {
  it('reads the recorded copy; of windows archived before it was recorded only ox-csv counts', () => {
    expect(completeCopyOf({ copy: { complete: true } })).toEqual({ complete: true });
    expect(completeCopyOf({ copy: { complete: false, partial: 'x' } })).toEqual({ complete: false, reason: 'x' });
    expect(completeCopyOf({ format: 'ox-csv' })).toEqual({ complete: true });
    expect(completeCopyOf({})).toEqual({ complete: true });
    // csv and jsonl results of that time do not say whether `columns` left some out.
    expect(completeCopyOf({ format: 'jsonl' }).complete).toBe(false);
    expect(completeCopyOf({ format: 'csv', type: 'star-rating-v1' })).toMatchObject({
      complete: false,
      reason: expect.stringContaining('--force'),
    });
  });
});
