/**
 * Catch-up now, not at the next trigger: real daemon processes (child processes) with a daily
 * 02:00 cron whose trigger does not fire during the test. What a schedule owes is queued and run
 * within seconds of the daemon starting (two replicas: each window once), of `ox-batch resume`
 * (the real CLI), and of Redis coming back after an outage under a running daemon.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/connection.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { ScheduleState } from '../../src/queue/schedule-state.js';
import {
  deleteKeys,
  plainRedis,
  REDIS_URL,
  runCli,
  startChildDaemon,
  startPrivateRedis,
  testPrefix,
  waitFor,
  type Child,
} from './helpers.js';
import { clockEnv, testNow, testToday } from '../helpers/clock.js';

const DAY = 86_400_000;
// The daemons and the CLI run on the test clock (noon UTC): no midnight, no 02:00 trigger mid-test.
const today = testToday;

function overrides(prefix: string, schedules: Record<string, unknown>, url = REDIS_URL) {
  return {
    redis: { url, prefix },
    logging: { level: 'silent' },
    http: { host: '127.0.0.1', port: 0 },
    worker: { concurrency: 4, backoffMs: 100, shutdownGraceMs: 2_000, closeTimeoutMs: 2_000 },
    schedules,
  };
}

/** A daily export-like schedule whose cron (02:00 UTC) stays silent during the test. */
function daily(startAt: number, extra: Record<string, unknown> = {}) {
  return {
    job: 'test.window',
    cron: '0 2 * * *',
    tz: 'UTC',
    window: '1d',
    lag: 0,
    startAt: new Date(startAt).toISOString(),
    params: { sleepMs: 50 },
    ...extra,
  };
}

describe('catch-up now', () => {
  let redis: RedisClient;
  const prefixes: string[] = [];
  const children: Child[] = [];
  beforeAll(() => {
    redis = plainRedis();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGTERM');
      await c.exited;
    }
  });
  afterAll(async () => {
    for (const p of prefixes) await deleteKeys(redis, p);
    await redis.quit();
  });
  const prefixed = () => {
    const p = testPrefix();
    prefixes.push(p);
    return p;
  };
  const runsOf = (client: RedisClient, prefix: string, schedule: string, start: number) =>
    client.get(`${prefix}:test:runs:${schedule}:${start}`).then(Number);
  const doneList = (client: RedisClient, prefix: string) => client.lrange(`${prefix}:test:done`, 0, -1);

  it('a daemon started after a six-day outage runs the six missed windows within seconds; two replicas run each once', async () => {
    const prefix = prefixed();
    const startAt = today() - 6 * DAY;
    const schedules = { nightly: daily(startAt) };
    const started = Date.now();
    const [a, b] = await Promise.all([
      startChildDaemon(overrides(prefix, schedules), clockEnv()),
      startChildDaemon(overrides(prefix, schedules), clockEnv()),
    ]);
    children.push(a, b);
    const ready = Date.now();
    const ledger = new RedisLedger(redis, prefix);
    await waitFor(async () => (await ledger.watermark('nightly', startAt)) === today(), 'six windows done', 30_000, 100);
    const tookMs = Date.now() - started;
    const sinceReady = Date.now() - ready;
    // Both replicas are ready (the startup catch-up is queued), and no window ran twice.
    for (const child of [a, b])
      expect(((await (await fetch(`${child.url}/readyz`)).json()) as { checks: Record<string, unknown> }).checks.caughtUp).toBe(true);
    await new Promise((r) => setTimeout(r, 1_000));
    const done = await doneList(redis, prefix);
    expect(done).toHaveLength(6);
    for (let d = 0; d < 6; d++) expect(await runsOf(redis, prefix, 'nightly', startAt + d * DAY)).toBe(1);
    expect(tookMs).toBeLessThan(25_000); // not at 02:00 tomorrow
    console.log(
      `six-day outage: 6 windows done ${tookMs} ms after two daemon processes were spawned, ${sinceReady} ms after both said ready (a daemon says ready once its startup catch-up is queued)`,
    );
  }, 60_000);

  it('pause, time passes, resume: what the schedule missed runs within seconds of `ox-batch resume`', async () => {
    const prefix = prefixed();
    const startAt = today() - 3 * DAY;
    await new ScheduleState(redis, prefix).setPaused('nightly', true);
    const child = await startChildDaemon(overrides(prefix, { nightly: daily(startAt) }), clockEnv());
    children.push(child);
    // Paused: the startup catch-up queues nothing (and the daemon is ready all the same).
    await waitFor(async () => (await fetch(`${child.url}/readyz`)).status === 200, 'ready', 15_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await doneList(redis, prefix)).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'oxb-resume-'));
    try {
      const file = join(dir, 'config.yaml');
      writeFileSync(
        file,
        `redis: { url: "${REDIS_URL}", prefix: ${prefix} }\nlogging: { level: warn }\nschedules:\n  nightly: { job: feedback.export, cron: "0 2 * * *", tz: UTC, window: 1d }\n`,
      );
      const resumed = Date.now();
      const out = await runCli(['--config', file, 'resume', 'nightly'], clockEnv());
      expect(out.code, out.stderr).toBe(0);
      const cliExited = Date.now();
      expect(out.stderr).toMatch(/nightly: resumed; a running scheduler queues what it missed now/);
      const ledger = new RedisLedger(redis, prefix);
      await waitFor(async () => (await ledger.watermark('nightly', startAt)) === today(), 'three windows done', 20_000, 100);
      const tookMs = Date.now() - resumed;
      const afterExit = Date.now() - cliExited;
      expect(await doneList(redis, prefix)).toHaveLength(3);
      console.log(`pause → resume: 3 windows done ${tookMs} ms after ox-batch resume was spawned, ${afterExit} ms after it exited`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('Redis restarted under a running daemon: the window that closed during the outage runs as soon as Redis is back', async () => {
    const own = await startPrivateRedis();
    const client = plainRedis(own.url);
    try {
      const prefix = testPrefix();
      const startAt = today() - 4 * DAY;
      // Yesterday's window closes (end + lag) during the outage: late enough that a daemon slow to
      // start on a loaded machine has done the three earlier windows before it closes.
      const closesAt = testNow() + 15_000;
      const lag = closesAt - today();
      const child = await startChildDaemon(overrides(prefix, { nightly: daily(startAt, { lag }) }, own.url), clockEnv());
      children.push(child);
      const ledger = new RedisLedger(client, prefix);
      await waitFor(
        async () => (await ledger.watermark('nightly', startAt)) === today() - DAY,
        'the three closed windows done',
        Math.max(1_000, closesAt - testNow() - 2_000),
        100,
      );
      await own.stop();
      await new Promise((r) => setTimeout(r, Math.max(0, closesAt - testNow()) + 1_000));
      await own.start();
      const back = Date.now();
      await waitFor(
        async () => (await ledger.watermark('nightly', startAt).catch(() => 0)) === today(),
        'the window that closed during the outage done',
        20_000,
        100,
      );
      const tookMs = Date.now() - back;
      expect(await doneList(client, prefix)).toHaveLength(4);
      for (let d = 0; d < 4; d++) expect(await runsOf(client, prefix, 'nightly', startAt + d * DAY)).toBe(1);
      console.log(`Redis restart: the window that closed during the outage done ${tookMs} ms after Redis was back`);
    } finally {
      client.disconnect();
      for (const c of children.splice(0)) {
        c.process.kill('SIGTERM');
        await c.exited;
      }
      await own.close();
    }
  }, 60_000);
});
