/**
 * The closed-window rule through the real CLI: an operator running, enqueueing or backfilling
 * today's still-open window (or a future one) is refused with exit 2 and one line naming the
 * window and when it closes; nothing reaches the ledger, the queue or the archive. A preview
 * (`run --open`) is archived apart and never counts as the window's copy: the purge that follows
 * deletes nothing of the open window.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../../src/redis/connection.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { clockEnv, testToday } from '../helpers/clock.js';
import { filesBelow } from '../export/helpers/export-env.js';
import { deleteKeys, plainRedis, REDIS_URL, testPrefix } from '../daemon/helpers.js';

const DAY = 86_400_000;
// The CLI runs on the pinned test clock: today's window stays open for the whole file.
const today = testToday();
const iso = (ms: number) => new Date(ms).toISOString();
const isoDay = (ms: number) => iso(ms).slice(0, 10);

let cli: { entry: string; dispose(): void };
let sim: OxSimulator;
let redis: RedisClient;
let prefix: string;
let dir: string;
let archiveDir: string;
let configFile: string;

function run(args: string[]) {
  return runCli(cli.entry, ['--config', configFile, ...args], { LOG_LEVEL: 'warn', ...clockEnv() });
}

beforeAll(async () => {
  cli = await bundleCli();
  sim = await OxSimulator.start();
  // Feedback in the closed days and in today's open window (some of it "arrives" later).
  sim.addFeedback([
    { date: today - 2 * DAY + 3_600_000, contextId: 1, userId: 1, score: 4, comment: 'two days ago' },
    { date: today - DAY + 3_600_000, contextId: 1, userId: 2, score: 5, comment: 'yesterday' },
    { date: today + 60_000, contextId: 1, userId: 3, score: 3, comment: 'today, early' },
  ]);
  redis = plainRedis();
  prefix = testPrefix();
  dir = mkdtempSync(join(tmpdir(), 'oxbt-closed-'));
  archiveDir = join(dir, 'archive');
  configFile = join(dir, 'config.yaml');
  writeFileSync(
    configFile,
    [
      `ox: { url: "${sim.url}", user: oxadmin, password: secret }`,
      `redis: { url: "${REDIS_URL}", prefix: ${prefix} }`,
      `archive: { kind: fs, dir: "${archiveDir}" }`,
      `spool: { dir: "${join(dir, 'spool')}" }`,
      'schedules:',
      '  feedback-daily:',
      '    job: feedback.export',
      '    cron: "0 2 * * *"',
      '    window: 1d',
      '    lag: 15m',
      `    startAt: ${isoDay(today - 2 * DAY)}`,
      '  feedback-purge:',
      '    job: feedback.purge',
      '    cron: "0 4 * * *"',
      '    params: { retention: 1ms }',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
  await sim.close();
  cli.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('the closed-window rule, through the CLI', () => {
  it("run, enqueue and backfill refuse today's open window and future ones: exit 2, one line, nothing changed", async () => {
    const closesAt = iso(today + DAY + 15 * 60_000);
    const attempts = [
      ['run', 'feedback-daily', '--start', isoDay(today), '--end', isoDay(today + DAY)],
      ['run', 'feedback-daily', '--start', isoDay(today), '--end', isoDay(today + DAY), '--force'],
      ['enqueue', 'feedback-daily', '--start', isoDay(today), '--end', isoDay(today + DAY)],
      // A range that ends in the future: refused as a whole, the closed days are not queued either.
      ['backfill', 'feedback-daily', '--from', isoDay(today - 2 * DAY), '--to', isoDay(today + DAY)],
    ];
    // Independent refusals: run side by side (each is its own process).
    const outs = await Promise.all(attempts.map((args) => run(args)));
    for (const [i, args] of attempts.entries()) {
      const out = outs[i]!;
      expect(out.code, `${args.join(' ')}: ${out.stderr}`).toBe(2);
      const lines = out.stderr.trim().split('\n');
      expect(lines, out.stderr).toHaveLength(1);
      expect(lines[0]).toContain(
        `feedback-daily window ${iso(today)}..${iso(today + DAY)} is still open: it closes at ${closesAt} (end + lag 15m)`,
      );
    }
    const [future, futureJob] = await Promise.all([
      run(['run', 'feedback-daily', '--start', isoDay(today + 3 * DAY), '--end', isoDay(today + 4 * DAY), '--open']),
      run(['run', 'feedback.export', '--start', isoDay(today + 3 * DAY), '--end', isoDay(today + 4 * DAY)]),
    ]);
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/lies in the future/);
    expect(futureJob.code).toBe(2);
    expect(futureJob.stderr).toMatch(/feedback\.export window .* lies in the future/);

    expect(await new RedisLedger(redis, prefix).listWindows('feedback-daily')).toEqual([]);
    expect(await redis.exists(`${prefix}:jobs:wait`, `${prefix}:jobs:id`)).toBe(0);
    expect(await filesBelow(archiveDir).catch(() => [])).toEqual([]);
    expect(sim.requests.filter((r) => r.path.includes('/export/'))).toHaveLength(0);
  }, 60_000);

  it('--open previews the open window apart; the purge after it keeps everything of that window', async () => {
    const preview = await run(['run', 'feedback-daily', '--open']);
    expect(preview.code, preview.stderr).toBe(0);
    const outcome = JSON.parse(preview.stdout.toString()) as {
      status: string;
      result: { rows: number; preview: boolean; archive: { key: string } };
    };
    expect(outcome).toMatchObject({ status: 'preview', result: { rows: 1, preview: true } });
    expect(outcome.result.archive.key).toMatch(
      new RegExp(
        `^preview/feedback-daily/default/star-rating-v1/.*_${isoDay(today).replace(/-/g, '')}T000000Z_.*\\.open-\\d{8}T\\d{6}Z\\.csv$`,
      ),
    );
    expect(await new RedisLedger(redis, prefix).listWindows('feedback-daily')).toEqual([]);

    // The two closed days archived for real, then the purge: only they may go.
    const closed = await run(['run', 'feedback-daily', '--start', isoDay(today - 2 * DAY), '--end', isoDay(today)]);
    expect(closed.code, closed.stderr).toBe(0);
    const purge = await run(['run', 'feedback-purge']);
    expect(purge.code, purge.stderr).toBe(0);
    const purged = JSON.parse(purge.stdout.toString()) as { result: { cutoff: string; limitedBy: string } };
    expect(purged.result).toMatchObject({ cutoff: iso(today), limitedBy: 'archive' });
    expect(sim.feedbackCount()).toBe(1);
    expect(sim.feedbackCount({ start: today, end: today + DAY })).toBe(1);
  }, 60_000);
});
