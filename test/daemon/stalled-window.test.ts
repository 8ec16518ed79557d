import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/connection.js';
import type { Queue } from 'bullmq';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { silentLogger } from '../../src/log/logger.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { enqueueWindows } from '../../src/queue/enqueue.js';
import { createQueue, JOB_QUEUE, type JobData } from '../../src/queue/queues.js';
import { windowJobId } from '../../src/queue/job-ids.js';
import { deleteKeys, plainRedis, testConfig, testPrefix, waitFor } from './helpers.js';
import { testKinds, windowNoop } from './test-jobs.js';

const DAY = 86_400_000;

/**
 * A job whose worker died twice (stalled more than maxStalledCount) is failed by BullMQ itself
 * when the next worker fetches it: the processor never runs, so the window's ledger record must
 * not stay `running` (status, failed-window metrics and `--wait` all read the ledger).
 */
describe('a window job BullMQ fails for stalling too often', () => {
  const prefix = testPrefix();
  const schedules = {
    s: {
      job: 'test.window',
      cron: '0 2 * * *',
      tz: 'UTC',
      window: '1d',
      lag: 0,
      catchUp: 1,
      startAt: '2026-01-01',
      retryFailedAfter: '1s',
    },
  };
  // The worker runs only windows of schedules its config has (queue/job-data.ts).
  const config = testConfig(prefix, { schedules });
  let redis: RedisClient;
  let queue: Queue<JobData>;
  let daemon: Daemon | undefined;
  beforeAll(() => {
    redis = plainRedis();
    queue = createQueue<JobData>(JOB_QUEUE, config, redis, silentLogger());
  });
  afterAll(async () => {
    await daemon?.stop({ graceMs: 100 });
    await queue.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it("is recorded as failed in the ledger with BullMQ's reason (a done window is left alone), and the retry clock brings it back", async () => {
    const ledger = new RedisLedger(redis, prefix);
    const stalled = { start: Date.UTC(2026, 0, 1), end: Date.UTC(2026, 0, 1) + DAY };
    const done = { start: stalled.end, end: stalled.end + DAY };
    await enqueueWindows(
      { queue, ledger, config },
      [stalled, done].map((window) => ({ scheduleId: 's', kind: windowNoop, window, params: {}, attempts: 3 })),
    );
    // What the killed workers left: the window marked running, the job flagged by BullMQ's stalled check.
    await ledger.markRunning({ scheduleId: 's', ...stalled }, windowNoop.name, 2);
    await ledger.markDone({ scheduleId: 's', ...done }, windowNoop.name, { rows: 1 });
    for (const window of [stalled, done]) {
      await redis.hset(`${prefix}:${JOB_QUEUE}:${windowJobId('s', window)}`, 'defa', 'job stalled more than allowable limit');
    }

    daemon = await Daemon.start({ config, kinds: testKinds, role: 'worker', port: null, log: silentLogger() });
    await waitFor(async () => (await queue.getFailedCount()) === 2, 'both jobs failed by BullMQ');
    await waitFor(
      async () => (await ledger.getWindow({ scheduleId: 's', ...stalled }))?.state === 'failed',
      'stalled window failed in the ledger',
      5_000,
    );
    expect((await ledger.getWindow({ scheduleId: 's', ...stalled }))?.lastError).toMatch(/stalled more than allowable limit/);
    expect(await ledger.failedCount('s')).toBe(1);
    expect(await ledger.getWindow({ scheduleId: 's', ...done })).toMatchObject({ state: 'done', result: { rows: 1 } });
    expect(await redis.get(`${prefix}:test:runs:s:${stalled.start}`)).toBeNull();

    // Stalled twice is not failed for good: the retry clock of a scheduler brings it back.
    expect((await ledger.getWindow({ scheduleId: 's', ...stalled }))?.permanent).toBeUndefined();
    const scheduler = await Daemon.start({
      config,
      kinds: testKinds,
      role: 'scheduler',
      port: null,
      log: silentLogger(),
      retryCheckIntervalMs: 200,
    });
    try {
      const record = await waitFor(
        async () => {
          const r = await ledger.getWindow({ scheduleId: 's', ...stalled });
          return r?.state === 'done' ? r : undefined;
        },
        'the stalled window done after its retry round',
        20_000,
        100,
      );
      expect(record.retryRounds).toBe(1);
      expect(await redis.get(`${prefix}:test:runs:s:${stalled.start}`)).toBe('1');
    } finally {
      await scheduler.stop({ graceMs: 100 });
    }
  }, 40_000);
});
