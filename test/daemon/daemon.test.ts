import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../../src/redis/connection.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { silentLogger } from '../../src/log/logger.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { enqueueWindows } from '../../src/queue/enqueue.js';
import { createQueue, JOB_QUEUE, type JobData } from '../../src/queue/queues.js';
import { resolveSchedules } from '../../src/queue/schedules.js';
import { InputError } from '../../src/errors.js';
import { METRIC_NAMES } from '../../src/http/metrics.js';
import { deleteKeys, plainRedis, runCli, startPrivateRedis, testConfig, testPrefix, waitFor, type PrivateRedis } from './helpers.js';
import { badInputJob, testKinds, windowNoop } from './test-jobs.js';

const DAY = 86_400_000;

describe('daemon in process: worker path, retries, unrecoverable errors, health and metrics', () => {
  // A daemon of its own for every test: each runs the windows it checks, alone or in any order.
  let prefix: string;
  let redis: RedisClient;
  let daemon: Daemon;
  beforeEach(async () => {
    prefix = testPrefix();
    redis = plainRedis();
    daemon = await Daemon.start({
      config: testConfig(prefix, { worker: { concurrency: 2, backoffMs: 50 } }),
      kinds: testKinds,
      role: 'all',
      port: 0,
      log: silentLogger(),
    });
  });
  afterEach(async () => {
    await daemon.stop({ graceMs: 100 });
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  /** A window that fails twice then succeeds, and one refused with an input error; both settled. */
  const flakyAndRefused = async () => {
    const ledger = new RedisLedger(redis, prefix);
    const ctx = { queue: daemon.jobsQueue, ledger, config: daemon.config };
    const flaky = { start: Date.UTC(2026, 0, 1), end: Date.UTC(2026, 0, 1) + DAY };
    const refused = { start: flaky.end, end: flaky.end + DAY };
    await enqueueWindows(ctx, [
      { scheduleId: windowNoop.name, kind: windowNoop, window: flaky, params: { failTimes: 2, rows: 5 }, attempts: 4 },
      { scheduleId: badInputJob.name, kind: badInputJob, window: refused, params: {}, attempts: 4 },
    ]);
    await waitFor(async () => (await ledger.getWindow({ scheduleId: windowNoop.name, ...flaky }))?.state === 'done', 'flaky window done');
    await waitFor(
      async () => (await ledger.getWindow({ scheduleId: badInputJob.name, ...refused }))?.state === 'failed',
      'refused window failed',
    );
    return { ledger, flaky, refused };
  };

  it('retries a failing window with backoff until it succeeds, and stops at once on an input error', async () => {
    const { ledger, flaky, refused } = await flakyAndRefused();
    expect(await ledger.getWindow({ scheduleId: windowNoop.name, ...flaky })).toMatchObject({ attempts: 3, result: { rows: 5, run: 3 } });
    const failed = await ledger.getWindow({ scheduleId: badInputJob.name, ...refused });
    expect(failed).toMatchObject({ attempts: 1, lastError: 'InputError: catalog.csv: row 3: context id "x" is not a number' });
    const job = (await daemon.jobsQueue.getFailed())[0]!;
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toMatch(/catalog\.csv/);
    const progress = await redis.hget(`${prefix}:${JOB_QUEUE}:${(await daemon.jobsQueue.getCompleted())[0]!.id}`, 'progress');
    expect(progress).toBe('50');
  });

  it('serves /healthz, /readyz and /metrics with the agreed metric names', async () => {
    await flakyAndRefused();
    const base = daemon.http!.url;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, checks: { redis: true, jobWorker: true, tickWorker: true } });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/oxb_job_runs_total\{kind="test.window",schedule="test.window",result="retry"\} 2/);
    expect(text).toMatch(/oxb_job_runs_total\{kind="test.window",schedule="test.window",result="done"\} 1/);
    expect(text).toMatch(/oxb_job_runs_total\{kind="test.bad-input",schedule="test.bad-input",result="failed"\} 1/);
    expect(text).toMatch(/oxb_job_rows_total\{kind="test.window",schedule="test.window"\} 5/);
    expect(text).toMatch(/oxb_queue_jobs\{queue="jobs",state="failed"\} 1/);
    for (const name of METRIC_NAMES) expect(text).toContain(`# TYPE ${name} `);
  });
});

describe('schedule triggers', () => {
  it('upserts one trigger per schedule, removes triggers of schedules no longer configured, and re-creates a vanished one', async () => {
    const prefix = testPrefix();
    const redis = plainRedis();
    const schedules = {
      hourly: { job: 'test.window', cron: '5 * * * *', tz: 'UTC', window: '1h', params: {} },
      sync: { job: 'test.plain', every: '1h', params: {} },
    };
    const first = await Daemon.start({
      config: testConfig(prefix, { schedules }),
      kinds: testKinds,
      role: 'scheduler',
      port: null,
      log: silentLogger(),
    });
    try {
      await first.ticksQueue.upsertJobScheduler(
        'tick.retired',
        { every: 3_600_000 },
        { name: 'tick', data: { type: 'tick', scheduleId: 'retired' } },
      );
      await first.upsertSchedulers();
      const ids = (await first.ticksQueue.getJobSchedulers(0, -1)).map((s) => s.id ?? s.key).sort();
      expect(ids).toEqual(['tick.hourly', 'tick.sync']);
      const hourly = await first.ticksQueue.getJobScheduler('tick.hourly');
      expect(hourly).toMatchObject({ pattern: '5 * * * *', tz: 'UTC' });
      await first.ticksQueue.removeJobScheduler('tick.sync');
      await first.checkSchedulers();
      expect(await first.ticksQueue.getJobScheduler('tick.sync')).toMatchObject({ every: 3_600_000 });
    } finally {
      await first.stop({ graceMs: 100 });
      await deleteKeys(redis, prefix);
      await redis.quit();
    }
  });
});

describe('schedule triggers during a rolling deploy', () => {
  it('the newest scheduler manages the triggers: an older replica neither brings back a dropped schedule nor removes a new one', async () => {
    const prefix = testPrefix();
    const redis = plainRedis();
    const schedule = (job: string) =>
      job === 'test.plain' ? { job, every: '1h', params: {} } : { job, cron: '5 * * * *', tz: 'UTC', window: '1h', params: {} };
    const ids = async (d: Daemon) => (await d.ticksQueue.getJobSchedulers(0, -1)).map((s) => s.id ?? s.key).sort();
    const start = (schedules: Record<string, unknown>) =>
      Daemon.start({
        config: testConfig(prefix, { schedules }),
        kinds: testKinds,
        role: 'scheduler',
        port: null,
        log: silentLogger(),
        watchdogIntervalMs: 3_600_000,
      });
    // The old release has `dropped` and `kept`; the new one drops `dropped` and adds `added`.
    const old = await start({ dropped: schedule('test.window'), kept: schedule('test.plain') });
    let fresh: Daemon | undefined;
    try {
      expect(await old.checkSchedulers()).toBe(true);
      fresh = await start({ kept: schedule('test.plain'), added: schedule('test.window') });
      expect(await ids(fresh)).toEqual(['tick.added', 'tick.kept']);
      // The old replica's watchdog runs while both are up: it leaves the triggers alone.
      expect(await old.checkSchedulers()).toBe(false);
      expect(await ids(old)).toEqual(['tick.added', 'tick.kept']);
      // The new one repairs what breaks and removes what it does not know.
      await fresh.ticksQueue.removeJobScheduler('tick.kept');
      await fresh.ticksQueue.upsertJobScheduler(
        'tick.orphan',
        { every: 3_600_000 },
        { name: 'tick', data: { type: 'tick', scheduleId: 'orphan' } },
      );
      expect(await fresh.checkSchedulers()).toBe(true);
      expect(await ids(fresh)).toEqual(['tick.added', 'tick.kept']);
      // Once the new one is gone (say the deploy is rolled back), the old one takes over.
      await fresh.stop({ graceMs: 100 });
      fresh = undefined;
      expect(await old.checkSchedulers()).toBe(true);
      expect(await ids(old)).toEqual(['tick.dropped', 'tick.kept']);
    } finally {
      await fresh?.stop({ graceMs: 100 });
      await old.stop({ graceMs: 100 });
      await deleteKeys(redis, prefix);
      await redis.quit();
    }
  });
});

describe('a Redis restart during a run', () => {
  let server: PrivateRedis;
  beforeEach(async () => {
    server = await startPrivateRedis();
  });
  afterEach(async () => {
    await server.close();
  });

  it('reconnects, reports not ready while Redis is down, and finishes the job', async () => {
    const url = server.url;
    const prefix = testPrefix();
    const config = testConfig(prefix, { redis: { url, prefix }, worker: { concurrency: 1 } });
    const daemon = await Daemon.start({ config, kinds: testKinds, role: 'worker', port: 0, log: silentLogger() });
    const redis = plainRedis(url);
    try {
      const ledger = new RedisLedger(redis, prefix);
      const producer = createQueue<JobData>(JOB_QUEUE, config, redis, silentLogger());
      const window = { start: Date.UTC(2026, 6, 1), end: Date.UTC(2026, 6, 2) };
      await enqueueWindows({ queue: producer, ledger, config }, [
        { scheduleId: windowNoop.name, kind: windowNoop, window, params: { sleepMs: 2500 }, attempts: 3 },
      ]);
      await producer.close();
      await waitFor(async () => (await ledger.getWindow({ scheduleId: windowNoop.name, ...window }))?.state === 'running', 'job running');
      expect((await fetch(`${daemon.http!.url}/readyz`)).status).toBe(200);
      await server.stop();
      await waitFor(
        async () => (await fetch(`${daemon.http!.url}/readyz`)).status === 503,
        'readyz false while Redis is down',
        10_000,
        100,
      );
      // /metrics still answers (process and OX metrics) instead of waiting out the Redis retries.
      const metrics = await fetch(`${daemon.http!.url}/metrics`, { signal: AbortSignal.timeout(8_000) });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/oxb_process_/);
      await server.start();
      await waitFor(async () => (await fetch(`${daemon.http!.url}/readyz`)).status === 200, 'readyz true again', 15_000, 100);
      await waitFor(
        async () => (await ledger.getWindow({ scheduleId: windowNoop.name, ...window }).catch(() => null))?.state === 'done',
        'job done after the restart',
        20_000,
        200,
      );
      expect(Number(await redis.get(`${prefix}:test:runs:test.window:${window.start}`))).toBe(1);
    } finally {
      await daemon.stop({ graceMs: 100 });
      redis.disconnect();
    }
  }, 45_000);
});

describe('bad schedule config', () => {
  const check = (schedule: Record<string, unknown>) => () =>
    resolveSchedules(
      {
        timezone: 'UTC',
        schedules: { nightly: { lag: 0, catchUp: 1, overlap: 'skip', attempts: 1, paused: false, params: {}, ...schedule } as never },
      },
      testKinds,
    );

  it('names the schedule and the field: unknown job, bad cron, unknown zone, window rules, params', () => {
    expect(check({ job: 'test.nope', cron: '0 2 * * *', window: '1d' })).toThrow(/^schedule nightly: job: unknown job kind "test.nope"/);
    expect(check({ job: 'test.window', cron: '0 25 * * *', window: '1d' })).toThrow(
      /^schedule nightly: cron: "0 25 \* \* \*" is not a cron pattern/,
    );
    expect(check({ job: 'test.window', cron: '0 2 * *', window: '1d' })).toThrow(/^schedule nightly: cron: "0 2 \* \*" has 4 fields/);
    expect(check({ job: 'test.window', cron: '0 2 * * *', tz: 'Europe/Berln', window: '1d' })).toThrow(
      /^schedule nightly: tz: unknown time zone "Europe\/Berln"/,
    );
    expect(check({ job: 'test.window', cron: '0 2 * * *' })).toThrow(/^schedule nightly: window: /);
    expect(check({ job: 'test.plain', cron: '0 2 * * *', window: '1d' })).toThrow(
      /^schedule nightly: window: job test.plain does not work on time windows/,
    );
    expect(check({ job: 'test.window', cron: '0 2 * * *', window: '1d', params: { sleepMs: -1 } })).toThrow(
      /^schedule nightly: params\.sleepMs: /,
    );
    expect(check({ job: 'test.window', cron: '0 2 * * *', window: '1d', startAt: 'yesterday' })).toThrow(/^schedule nightly: startAt: /);
    expect(check({ job: 'test.window', cron: '0 2 * * *', window: '1d', params: { sleepMs: -1 } })).toThrow(InputError);
  });

  it('`ox-batch start` exits 2 with one line naming schedule and field, before connecting anywhere', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oxb-cfg-'));
    try {
      const cases: Array<[string, RegExp]> = [
        [
          'schedules:\n  nightly: { job: feedback.exprot, cron: "0 2 * * *", window: 1d }\n',
          /schedule nightly: job: unknown job kind "feedback.exprot"/,
        ],
        [
          'schedules:\n  nightly: { job: feedback.export, cron: "0 25 * * *", window: 1d }\n',
          /schedules\.nightly\.cron.*not a cron pattern/,
        ],
      ];
      for (const [yaml, message] of cases) {
        const file = join(dir, 'bad.yaml');
        // An unreachable Redis proves validation happens before any connection.
        writeFileSync(file, `redis: { url: "redis://127.0.0.1:1", prefix: oxbt-bad }\n${yaml}`);
        const out = await runCli(['--config', file, 'start', '--port', '0']);
        expect(out.code, out.stderr).toBe(2);
        expect(out.stderr).toMatch(message);
        expect(out.stderr.trim().split('\n')).toHaveLength(1);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
