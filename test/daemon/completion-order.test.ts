/**
 * The worker writes a window's done mark without waiting for Redis' answer, on the connection
 * BullMQ completes the job on: Redis runs one connection's commands in order, so the window is
 * done before the job is completed (backfill --wait and the purge read the ledger then).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../src/redis/connection.js';
import { Queue } from 'bullmq';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { silentLogger } from '../../src/log/logger.js';
import { createJobProcessor } from '../../src/queue/job-processor.js';
import { JOB_QUEUE, type JobData } from '../../src/queue/queues.js';
import { resolveSchedules } from '../../src/queue/schedules.js';
import { createServices, type ClosableServices } from '../../src/services.js';
import { deleteKeys, plainRedis, testConfig, testPrefix, waitFor } from './helpers.js';
import { windowNoop } from './test-jobs.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 1);

describe('the done mark on the worker connection', () => {
  const prefix = testPrefix();
  const config = testConfig(prefix, { schedules: { order: { job: 'test.window', cron: '0 2 * * *', window: '1d' } } });
  const schedules = resolveSchedules(config, [windowNoop]);
  let redis: RedisClient;
  let workerConnection: RedisClient;
  let queue: Queue<JobData>;
  let services: ClosableServices;
  beforeAll(() => {
    redis = plainRedis();
    workerConnection = plainRedis();
    queue = new Queue<JobData>(JOB_QUEUE, { connection: redis, prefix });
    services = createServices(config, { log: silentLogger(), redis });
  });
  afterAll(async () => {
    await queue.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
    workerConnection.disconnect();
  });

  const windowJob = (n: number) =>
    queue.add(
      'test.window',
      { type: 'window', scheduleId: 'order', job: 'test.window', start: T0 + n * DAY, end: T0 + (n + 1) * DAY, params: {} },
      { attempts: 1 },
    );

  it('is in Redis before any later command on that connection, without waiting for the reply', async () => {
    const processor = createJobProcessor({
      services,
      kinds: [windowNoop],
      schedules,
      log: silentLogger(),
      isShuttingDown: () => false,
      completionLedger: new RedisLedger(workerConnection, prefix),
    });
    for (let n = 0; n < 20; n++) {
      const job = await windowJob(n);
      const outcome = await processor(job, undefined, new AbortController().signal);
      expect(outcome).toMatchObject({ status: 'done', result: { rows: 1 } });
      // What BullMQ does next: its completion goes out on the same connection.
      expect(await workerConnection.hget(`${prefix}:ledger:w:order:${T0 + n * DAY}`, 'state')).toBe('done');
    }
  });

  it('is written again on the services connection when the worker connection fails it', async () => {
    const dead = new Redis({ lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    dead.on('error', () => undefined);
    const processor = createJobProcessor({
      services,
      kinds: [windowNoop],
      schedules,
      log: silentLogger(),
      isShuttingDown: () => false,
      completionLedger: new RedisLedger(dead, prefix),
    });
    const job = await windowJob(30);
    await processor(job, undefined, new AbortController().signal);
    const key = { scheduleId: 'order', start: T0 + 30 * DAY, end: T0 + 31 * DAY };
    const record = await waitFor(
      async () => {
        const r = await services.ledger.getWindow(key);
        return r?.state === 'done' ? r : undefined;
      },
      'the done mark written again',
      5_000,
    );
    expect(record.result).toMatchObject({ rows: 1 });
    dead.disconnect();
  });
});
