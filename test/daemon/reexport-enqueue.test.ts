/**
 * A window the purge flagged for re-export is only ever queued as that re-export: by the tick
 * that sees the flag, and also by whatever else queues it (the retry clock after the re-export
 * failed, a backfill), whose plain export would find the archive intact and different.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../src/redis/connection.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { silentLogger } from '../../src/log/logger.js';
import { createQueue, JOB_QUEUE, type JobData } from '../../src/queue/queues.js';
import { enqueueWindow } from '../../src/queue/enqueue.js';
import { reexportJobId } from '../../src/queue/job-ids.js';
import type { Config } from '../../src/config/schema.js';
import { deleteKeys, plainRedis, testConfig, testPrefix } from './helpers.js';
import { windowNoop } from './test-jobs.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1);

describe('re-export flags in enqueueWindow', () => {
  const prefix = testPrefix();
  let redis: RedisClient;
  let config: Config;
  let queue: Queue<JobData>;
  let ledger: RedisLedger;
  beforeAll(() => {
    redis = plainRedis();
    config = testConfig(prefix, { schedules: { daily: { job: 'test.window', cron: '0 2 * * *', window: '1d', lag: 0 } } });
    queue = createQueue<JobData>(JOB_QUEUE, config, redis, silentLogger());
    ledger = new RedisLedger(redis, prefix);
  });
  afterAll(async () => {
    await queue.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('a flagged window, done or failed, is queued as its re-export job (forced, once per flag)', async () => {
    const window = { start: T0, end: T0 + DAY };
    const key = { scheduleId: 'daily', ...window };
    const request = { scheduleId: 'daily', kind: windowNoop, window, params: {}, attempts: 3 };
    const ctx = { queue, ledger, config };
    await ledger.markRunning(key, 'test.window', 1);
    await ledger.markDone(key, 'test.window', { rows: 2 });
    expect(await ledger.flagReexport(key, { flaggedAt: 1234, oxRows: 3, archivedRows: 2, by: 'purge' })).toBe(true);
    expect((await ledger.getWindow(key))?.reexport).toEqual({ flaggedAt: 1234, oxRows: 3, archivedRows: 2, by: 'purge' });

    const first = await enqueueWindow(ctx, request);
    expect(first).toMatchObject({ status: 'queued', jobId: reexportJobId('daily', window, 1234) });
    const job = await queue.getJob(first.jobId);
    expect(job?.data).toMatchObject({ force: true, reexport: 1234 });
    // Again (the next tick, a backfill): the same job, nothing added.
    expect(await enqueueWindow(ctx, request)).toMatchObject({ status: 'pending', jobId: first.jobId });

    // The re-export failed: the retry clock's plain request still becomes the re-export.
    await job!.remove();
    await ledger.markFailed(key, 'test.window', 'OX 503');
    expect(await enqueueWindow(ctx, request)).toMatchObject({ status: 'queued', jobId: first.jobId });

    // Done and cleared: a plain request is a plain one again.
    await ledger.markDone(key, 'test.window', { rows: 3 });
    expect(await ledger.clearReexport(key, 1234)).toBe(true);
    expect(await enqueueWindow(ctx, request)).toMatchObject({ status: 'done' });
  });
});
