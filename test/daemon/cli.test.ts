import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../../src/redis/connection.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { windowsBetween } from '../../src/time/windows.js';
import { deleteKeys, plainRedis, REDIS_URL, runCli, testPrefix } from './helpers.js';

describe('daemon CLI against Redis (no workers running)', () => {
  const prefix = testPrefix();
  let redis: RedisClient;
  let dir: string;
  let file: string;
  beforeAll(() => {
    redis = plainRedis();
    dir = mkdtempSync(join(tmpdir(), 'oxb-cli-'));
    file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      [
        `redis: { url: "${REDIS_URL}", prefix: "${prefix}" }`,
        'logging: { level: warn }',
        'schedules:',
        '  feedback-daily:',
        '    job: feedback.export',
        '    cron: "30 2 * * *"',
        '    tz: Europe/Berlin',
        '    window: 1d',
        '    startAt: 2026-03-01',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backfill queues one job per Berlin day and skips the days the ledger has as done; schedules and pause show it', async () => {
    const ledger = new RedisLedger(redis, prefix);
    const days = windowsBetween('1d', 'Europe/Berlin', Date.parse('2026-03-28T00:00:00+01:00'), Date.parse('2026-04-01T00:00:00+02:00'));
    expect(days).toHaveLength(4); // 28, 29 (23 h), 30, 31 March
    await ledger.markDone({ scheduleId: 'feedback-daily', ...days[1]! }, 'feedback.export', { rows: 1 });

    const out = await runCli(['--config', file, 'backfill', 'feedback-daily', '--from', '2026-03-28', '--to', '2026-04-01']);
    expect(out.code, out.stderr).toBe(0);
    const summary = JSON.parse(out.stdout) as {
      queued: number;
      done: number;
      jobs: Array<{ jobId: string; status: string; start: string }>;
    };
    expect(summary).toMatchObject({ queued: 3, done: 1 });
    expect(summary.jobs.map((j) => [j.start, j.status])).toEqual([
      ['2026-03-27T23:00:00.000Z', 'queued'],
      ['2026-03-28T23:00:00.000Z', 'done'],
      ['2026-03-29T22:00:00.000Z', 'queued'],
      ['2026-03-30T22:00:00.000Z', 'queued'],
    ]);
    expect(summary.jobs[0]!.jobId).toBe('w.feedback-daily.20260327T230000Z.20260328T230000Z');
    expect(await redis.llen(`${prefix}:jobs:wait`)).toBe(3);

    const paused = await runCli(['--config', file, 'pause', 'feedback-daily']);
    expect(paused.code, paused.stderr).toBe(0);
    const listed = await runCli(['--config', file, 'schedules', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const [schedule] = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
    expect(schedule).toMatchObject({
      id: 'feedback-daily',
      job: 'feedback.export',
      tz: 'Europe/Berlin',
      window: '1d',
      paused: true,
      origin: '2026-02-28T23:00:00.000Z',
      watermark: '2026-02-28T23:00:00.000Z',
      failedWindows: 0,
    });

    // status lists the windows running now and who runs them.
    await ledger.beginWindow({ scheduleId: 'feedback-daily', ...days[2]! }, 'feedback.export', 1);
    await ledger.beginManual({ scheduleId: 'feedback-daily', ...days[3]! }, 'feedback.export', {
      owner: 'run:ops-host:4242',
      leaseUntil: Date.parse('2099-01-01T00:00:00Z'),
    });
    const status = await runCli(['--config', file, 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { running: unknown[] }).running).toEqual([
      {
        schedule: 'feedback-daily',
        window: '2026-03-29T22:00:00.000Z..2026-03-30T22:00:00.000Z',
        attempt: 1,
        since: expect.any(String),
        by: 'worker',
      },
      {
        schedule: 'feedback-daily',
        window: '2026-03-30T22:00:00.000Z..2026-03-31T22:00:00.000Z',
        attempt: 1,
        since: expect.any(String),
        by: 'run:ops-host:4242',
        leaseUntil: '2099-01-01T00:00:00.000Z',
      },
    ]);
    const table = await runCli(['--config', file, 'status']);
    expect(table.stdout).toMatch(/running windows[\s\S]*run:ops-host:4242/);

    const unknown = await runCli(['--config', file, 'backfill', 'feedback-weekly', '--from', '2026-03-01', '--to', '2026-03-02']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown schedule "feedback-weekly" \(configured: feedback-daily\)/);
  }, 60_000);
});
