import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../../src/redis/connection.js';
import { QueueEvents, type Queue } from 'bullmq';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { silentLogger } from '../../src/log/logger.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { enqueueWindows } from '../../src/queue/enqueue.js';
import { createQueue, JOB_QUEUE, TICK_QUEUE, type JobData } from '../../src/queue/queues.js';
import { deleteKeys, plainRedis, REDIS_URL, startChildDaemon, testConfig, testPrefix, waitFor, type Child } from './helpers.js';
import { testKinds, windowNoop } from './test-jobs.js';

const H = 3_600_000;

/** Config overrides shared by the child and the in-process daemons of one test. */
function overrides(prefix: string, worker: Record<string, unknown> = {}, schedules: Record<string, unknown> = {}) {
  return {
    redis: { url: REDIS_URL, prefix },
    logging: { level: 'silent' },
    http: { host: '127.0.0.1', port: 0 },
    worker: { concurrency: 2, backoffMs: 100, ...worker },
    schedules,
  };
}

describe('daemon processes on one Redis', () => {
  let redis: RedisClient;
  const prefixes: string[] = [];
  const children: Child[] = [];
  const daemons: Daemon[] = [];
  beforeAll(() => {
    redis = plainRedis();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    for (const d of daemons.splice(0)) await d.stop({ graceMs: 100 });
  });
  afterAll(async () => {
    for (const p of prefixes) await deleteKeys(redis, p);
    await redis.quit();
  });

  function prefixed(): string {
    const p = testPrefix();
    prefixes.push(p);
    return p;
  }

  async function enqueueOne(
    prefix: string,
    sleepMs: number,
  ): Promise<{ queue: Queue<JobData>; ledger: RedisLedger; key: { scheduleId: string; start: number; end: number } }> {
    const config = testConfig(prefix);
    const queue = createQueue<JobData>(JOB_QUEUE, config, redis, silentLogger());
    const ledger = new RedisLedger(redis, prefix);
    const window = { start: Date.UTC(2026, 4, 1), end: Date.UTC(2026, 4, 2) };
    await enqueueWindows({ queue, ledger, config }, [
      { scheduleId: windowNoop.name, kind: windowNoop, window, params: { sleepMs }, attempts: 3 },
    ]);
    return { queue, ledger, key: { scheduleId: windowNoop.name, ...window } };
  }

  const runs = (prefix: string, key: { scheduleId: string; start: number }) =>
    redis.get(`${prefix}:test:runs:${key.scheduleId}:${key.start}`).then(Number);

  it('two daemon processes with the same schedules run each window exactly once', async () => {
    const prefix = prefixed();
    const startAt = new Date(Math.floor(Date.now() / H) * H - 12 * H).toISOString();
    const schedules = {
      hourly: { job: 'test.window', every: '1s', tz: 'UTC', window: '1h', lag: 0, catchUp: 48, startAt, params: { sleepMs: 20 } },
    };
    const [a, b] = await Promise.all([
      startChildDaemon(overrides(prefix, {}, schedules)),
      startChildDaemon(overrides(prefix, {}, schedules)),
    ]);
    children.push(a, b);
    const ledger = new RedisLedger(redis, prefix);
    const startMs = Date.parse(startAt);
    // Every finished trigger is announced on the tick queue's event stream.
    const tickEventsConnection = createRedis(REDIS_URL, 'worker');
    const tickEvents = new QueueEvents(TICK_QUEUE, { connection: tickEventsConnection, prefix });
    let ticksDone = 0;
    tickEvents.on('completed', () => {
      ticksDone += 1;
    });
    try {
      await tickEvents.waitUntilReady();
      await waitFor(async () => (await ledger.watermark('hourly', startMs)) >= startMs + 12 * H, '12 windows done', 25_000, 200);
      // More triggers run over the done windows (either process may take each): none runs one again.
      const ticksAtDone = ticksDone;
      await waitFor(() => ticksDone >= ticksAtDone + 2, 'two more ticks after the windows were done', 15_000);
    } finally {
      await tickEvents.close();
      tickEventsConnection.disconnect();
    }
    const done = await redis.lrange(`${prefix}:test:done`, 0, -1);
    expect(done.length).toBeGreaterThanOrEqual(12);
    expect(new Set(done).size).toBe(done.length);
    for (let i = 0; i < 12; i++) expect(await runs(prefix, { scheduleId: 'hourly', start: startMs + i * H })).toBe(1);
    a.process.kill('SIGTERM');
    b.process.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect((await b.exited).code).toBe(0);
  }, 45_000);

  it('SIGTERM mid-job: the job is aborted after the grace period, goes back to the queue, and another worker finishes it; exit 0', async () => {
    const prefix = prefixed();
    const { queue, ledger, key } = await enqueueOne(prefix, 1500);
    const child = await startChildDaemon(overrides(prefix, { shutdownGraceMs: 200, concurrency: 1 }), { OXB_TEST_ROLE: 'worker' });
    children.push(child);
    await waitFor(async () => (await ledger.getWindow(key))?.state === 'running', 'job running');
    child.process.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
    const record = await ledger.getWindow(key);
    expect(record?.state).toBe('queued');
    expect(record?.lastError).toMatch(/aborted/);
    const job = (await queue.getJobs(['waiting', 'delayed']))[0];
    expect(job?.attemptsMade).toBe(0); // handing back does not use up an attempt
    const second = await Daemon.start({
      config: testConfig(prefix, { worker: { concurrency: 1 } }),
      kinds: testKinds,
      role: 'worker',
      port: null,
      log: silentLogger(),
    });
    daemons.push(second);
    await waitFor(async () => (await ledger.getWindow(key))?.state === 'done', 'job done by the second worker', 20_000);
    expect(await runs(prefix, key)).toBe(2);
    await queue.close();
  }, 40_000);

  it('SIGTERM while a job finishes within the grace period: the job completes, then exit 0', async () => {
    const prefix = prefixed();
    const { queue, ledger, key } = await enqueueOne(prefix, 800);
    const child = await startChildDaemon(overrides(prefix, { shutdownGraceMs: 10_000, concurrency: 1 }), { OXB_TEST_ROLE: 'worker' });
    children.push(child);
    await waitFor(async () => (await ledger.getWindow(key))?.state === 'running', 'job running');
    child.process.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
    expect((await ledger.getWindow(key))?.state).toBe('done');
    expect(await runs(prefix, key)).toBe(1);
    await queue.close();
  }, 30_000);

  it('SIGKILL mid-job: after the stall interval a second worker picks the job up and finishes it', async () => {
    const prefix = prefixed();
    const shortLocks = { lockDurationMs: 1000, stalledIntervalMs: 500, concurrency: 1 };
    const { queue, ledger, key } = await enqueueOne(prefix, 1500);
    const child = await startChildDaemon(overrides(prefix, shortLocks), { OXB_TEST_ROLE: 'worker' });
    children.push(child);
    // Mid-job: the job's own body has begun (the ledger says running a moment before it does).
    await waitFor(async () => (await ledger.getWindow(key))?.state === 'running' && (await runs(prefix, key)) === 1, 'job body running');
    child.process.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    const second = await Daemon.start({
      config: testConfig(prefix, { worker: shortLocks }),
      kinds: testKinds,
      role: 'worker',
      port: null,
      log: silentLogger(),
    });
    daemons.push(second);
    await waitFor(async () => (await ledger.getWindow(key))?.state === 'done', 'job done after the stall', 20_000);
    expect(await runs(prefix, key)).toBe(2);
    expect(await redis.lrange(`${prefix}:test:done`, 0, -1)).toHaveLength(1);
    await queue.close();
  }, 40_000);

  it('a second signal exits at once', async () => {
    const prefix = prefixed();
    const { queue, ledger, key } = await enqueueOne(prefix, 10_000);
    const child = await startChildDaemon(overrides(prefix, { shutdownGraceMs: 30_000, concurrency: 1 }), {
      OXB_TEST_ROLE: 'worker',
      OXB_TEST_LOG: 'info',
    });
    children.push(child);
    await waitFor(async () => (await ledger.getWindow(key))?.state === 'running', 'job running');
    child.process.kill('SIGTERM');
    await waitFor(() => /shutting down gracefully/.test(child.stdout()), 'first signal logged');
    child.process.kill('SIGINT');
    expect((await child.exited).code).toBe(1);
    await queue.close();
  }, 30_000);
});
