/**
 * `ox-batch run` and the workers never run one window at the same time: a run holds its window
 * by a lease in the ledger (renewed while it runs), is refused a window running elsewhere, and
 * a worker puts a job for a held window back on the queue until the lease would end.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../../src/redis/connection.js';
import { Queue, Worker } from 'bullmq';
import { silentLogger } from '../../src/log/logger.js';
import { createJobProcessor } from '../../src/queue/job-processor.js';
import { JOB_QUEUE, type JobData } from '../../src/queue/queues.js';
import { resolveSchedules } from '../../src/queue/schedules.js';
import { WindowBusyError, executeAttempt, executeManualAttempt } from '../../src/queue/attempt.js';
import { createServices, type ClosableServices } from '../../src/services.js';
import { RefusedError } from '../../src/errors.js';
import type { Config } from '../../src/config/schema.js';
import { REDIS_URL, deleteKeys, plainRedis, testConfig, testPrefix, waitFor } from './helpers.js';
import { windowNoop } from './test-jobs.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 3, 1);
const windowOf = (n: number) => ({ start: T0 + n * DAY, end: T0 + (n + 1) * DAY });

describe('ox-batch run holds its window by a lease', () => {
  // Own prefix (ledger, queue, run counters) per test: each runs alone or in any order.
  let prefix: string;
  let config: Config;
  let redis: RedisClient;
  let services: ClosableServices;
  let queue: Queue<JobData>;
  beforeEach(() => {
    prefix = testPrefix();
    config = testConfig(prefix, { schedules: { lease: { job: 'test.window', cron: '0 2 * * *', window: '1d' } } });
    redis = plainRedis();
    services = createServices(config, { log: silentLogger(), redis });
    queue = new Queue<JobData>(JOB_QUEUE, { connection: redis, prefix });
  });
  afterEach(async () => {
    await queue.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });
  const runs = async (n: number) => Number((await redis.get(`${prefix}:test:runs:lease:${windowOf(n).start}`)) ?? 0);
  const keyOf = (n: number) => ({ scheduleId: 'lease', ...windowOf(n) });

  it('two runs of one window at once: one runs it, the other is refused (exit 2) and changes nothing', async () => {
    const outcomes = await Promise.all(
      [0, 1].map(() =>
        executeManualAttempt({ kind: windowNoop, services, scheduleId: 'lease', window: windowOf(0), params: { sleepMs: 300 } }),
      ),
    );
    expect(outcomes.map((o) => o.status).sort()).toEqual(['done', 'failed']);
    const refused = outcomes.find((o) => o.status === 'failed')!;
    expect(refused.exitCode).toBe(2);
    expect(refused.reason).toMatch(/is being run by ox-batch run \(run:[^:]+:\d+, lease until 20\d\d-/);
    await services.ledger.beginWindow(keyOf(6), 'test.window', 1);
    const busy = await executeAttempt({ kind: windowNoop, services, scheduleId: 'lease', window: windowOf(6), params: {} }).catch(
      (err: unknown) => err,
    );
    expect(busy).toBeInstanceOf(WindowBusyError);
    expect(busy).toBeInstanceOf(RefusedError);
    expect(await runs(0)).toBe(1);
    expect(await services.ledger.getWindow(keyOf(0))).toMatchObject({ state: 'done', attempts: 1 });
    expect((await services.ledger.getWindow(keyOf(0)))?.owner).toBeUndefined();
  });

  it('refuses a window a worker is running unless forced, and counts the attempt on from the record', async () => {
    await services.ledger.beginWindow(keyOf(1), 'test.window', 1);
    expect(await executeManualAttempt({ kind: windowNoop, services, scheduleId: 'lease', window: windowOf(1), params: {} })).toMatchObject({
      status: 'failed',
      exitCode: 2,
      reason: expect.stringMatching(/is running in a worker since 20\d\d-.*give --force/),
    });
    expect(await services.ledger.getWindow(keyOf(1))).toMatchObject({ state: 'running', attempts: 1 });
    expect(await runs(1)).toBe(0);
    const forced = await executeManualAttempt({
      kind: windowNoop,
      services,
      scheduleId: 'lease',
      window: windowOf(1),
      params: {},
      force: true,
    });
    expect(forced).toMatchObject({ status: 'done', attempt: 2 });
    expect(await services.ledger.getWindow(keyOf(1))).toMatchObject({ state: 'done', attempts: 2 });
  });

  it('renews the lease while it runs and lets go when done; a lease that ran out does not hold the window', async () => {
    const running = executeManualAttempt({
      kind: windowNoop,
      services,
      scheduleId: 'lease',
      window: windowOf(2),
      params: { sleepMs: 900 },
      runLeaseMs: 300,
    });
    const first = await waitFor(async () => (await services.ledger.getWindow(keyOf(2)))?.leaseUntil, 'the lease');
    expect((await services.ledger.getWindow(keyOf(2)))?.owner).toMatch(/^run:/);
    const renewed = await waitFor(
      async () => {
        const lease = (await services.ledger.getWindow(keyOf(2)))?.leaseUntil;
        return lease !== undefined && lease > first ? lease : undefined;
      },
      'a renewed lease',
      2_000,
    );
    expect(renewed).toBeGreaterThan(first);
    expect((await running).status).toBe('done');
    expect(await redis.hget(`${prefix}:ledger:w:lease:${windowOf(2).start}`, 'leaseUntil')).toBe('');

    // BullMQ giving up on a job of a window a run holds does not mark it failed under the run.
    await services.ledger.beginManual(keyOf(5), 'test.window', { owner: 'run:busy:1', leaseUntil: Date.now() + 60_000 });
    expect(await services.ledger.markAbandoned(keyOf(5), 'test.window', 'stalled')).toBe(false);
    expect(await services.ledger.getWindow(keyOf(5))).toMatchObject({ state: 'running', owner: 'run:busy:1' });

    // A run that died: its lease ends and nothing renews it.
    const deadRunLeaseUntil = Date.now() + 100;
    await services.ledger.beginManual(keyOf(3), 'test.window', { owner: 'run:gone:1', leaseUntil: deadRunLeaseUntil });
    expect(await executeManualAttempt({ kind: windowNoop, services, scheduleId: 'lease', window: windowOf(3), params: {} })).toMatchObject({
      status: 'failed',
      reason: expect.stringContaining('run:gone:1'),
    });
    // The ledger compares leases with Date.now: wait until that clock is past the lease, no longer.
    await waitFor(() => Date.now() > deadRunLeaseUntil, "the dead run's lease to end", 5_000, 10);
    expect(await executeManualAttempt({ kind: windowNoop, services, scheduleId: 'lease', window: windowOf(3), params: {} })).toMatchObject({
      status: 'done',
      attempt: 2,
    });
  });

  it('a worker puts a job for a held window back on the queue without using an attempt, and skips it once the run is done', async () => {
    const processor = createJobProcessor({
      services,
      kinds: [windowNoop],
      schedules: resolveSchedules(config, [windowNoop]),
      log: silentLogger(),
      isShuttingDown: () => false,
    });
    const workerConnection = createRedis(REDIS_URL, 'worker');
    const worker = new Worker<JobData>(JOB_QUEUE, processor, { connection: workerConnection, prefix, concurrency: 1 });
    worker.on('error', () => undefined);
    try {
      const holding = executeManualAttempt({
        kind: windowNoop,
        services,
        scheduleId: 'lease',
        window: windowOf(4),
        params: { sleepMs: 1_200 },
        runLeaseMs: 900,
      });
      await waitFor(async () => (await services.ledger.getWindow(keyOf(4)))?.state === 'running', 'the run to start');
      const job = await queue.add(
        'test.window',
        { type: 'window', scheduleId: 'lease', job: 'test.window', ...windowOf(4), params: {} },
        { attempts: 1 },
      );
      await waitFor(async () => (await job.getState()) === 'delayed', 'the job to be put back');
      expect((await queue.getJob(job.id!))!.attemptsMade).toBe(0);
      expect(await services.ledger.getWindow(keyOf(4))).toMatchObject({ state: 'running', owner: expect.stringMatching(/^run:/) });
      expect((await holding).status).toBe('done');
      // Its turn comes when the lease would have ended: the window is done, the job reports it.
      await waitFor(async () => (await job.getState()) === 'completed', 'the job to complete', 10_000);
      expect((await queue.getJob(job.id!))!.returnvalue).toMatchObject({ status: 'skipped' });
      expect(await runs(4)).toBe(1);
    } finally {
      await worker.close();
      workerConnection.disconnect();
    }
  });
});
