import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRedis, type RedisClient } from '../../src/redis/connection.js';
import { UnrecoverableError, Worker, type Queue } from 'bullmq';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { silentLogger } from '../../src/log/logger.js';
import { createQueue, JOB_QUEUE, type JobData, type WindowJobData } from '../../src/queue/queues.js';
import { ScheduleState } from '../../src/queue/schedule-state.js';
import { resolveSchedule } from '../../src/queue/schedules.js';
import { retryFailedWindows, tickSchedule, type TickContext } from '../../src/queue/tick.js';
import { enqueueWindows, summarize } from '../../src/queue/enqueue.js';
import { windowJobId } from '../../src/queue/job-ids.js';
import { windowsBetween } from '../../src/time/windows.js';
import { scheduleStatus } from '../../src/queue/schedule-status.js';
import type { Config } from '../../src/config/schema.js';
import { deleteKeys, plainRedis, REDIS_URL, testConfig, testPrefix } from './helpers.js';
import { testKinds, windowNoop } from './test-jobs.js';

const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);

describe('ticks: catch-up, gaps, retries of failed windows, overlap', () => {
  // Every test gets its own prefix (queue, ledger, schedule state) and its own tick clock, so
  // any one of them runs alone or in any order.
  let prefix: string;
  let redis: RedisClient;
  let config: Config;
  let queue: Queue<JobData>;
  let ledger: RedisLedger;
  let clock: number;
  let ctx: TickContext;

  beforeEach(() => {
    prefix = testPrefix();
    redis = plainRedis();
    config = testConfig(prefix);
    queue = createQueue<JobData>(JOB_QUEUE, config, redis, silentLogger());
    ledger = new RedisLedger(redis, prefix);
    clock = at('2026-11-10T03:00:00Z');
    ctx = { queue, ledger, config, state: new ScheduleState(redis, prefix), log: silentLogger(), now: () => clock };
  });
  afterEach(async () => {
    vi.useRealTimers();
    await queue.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  /**
   * The ledger stamps failures with its own clock (Date.now), and the retry clock compares with
   * it: instead of sleeping until a retry is due, move that clock on. Only Date is faked, and it
   * keeps running with real time, so timers and Redis I/O are untouched.
   */
  const passLedgerTime = (ms: number) => {
    if (!vi.isFakeTimers()) vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() + ms);
  };

  const daily = (id: string, extra: Record<string, unknown> = {}) =>
    resolveSchedule(
      id,
      {
        job: 'test.window',
        cron: '0 3 * * *',
        tz: 'UTC',
        window: '1d',
        lag: 300_000,
        catchUp: 5,
        overlap: 'skip',
        attempts: 3,
        paused: false,
        params: {},
        ...extra,
      } as never,
      config,
      testKinds,
    );

  const waitingIds = async () => (await queue.getJobs(['waiting', 'prioritized', 'delayed'])).map((j) => j.id!).sort();

  it('after an outage queues exactly the missed closed windows, newest catchUp of them, and reports older gaps', async () => {
    const schedule = daily('outage', { startAt: '2026-11-01' });
    // Before the outage: Nov 1 and 2 were done.
    for (const d of [0, 1])
      await ledger.markDone(
        { scheduleId: 'outage', start: at('2026-11-01T00:00:00Z') + d * DAY, end: at('2026-11-01T00:00:00Z') + (d + 1) * DAY },
        'test.window',
        {},
      );
    clock = at('2026-11-10T03:00:00Z'); // Nov 3..9 are closed and missing: 7 windows, catchUp 5
    const report = await tickSchedule(ctx, schedule);
    expect(report.outcome).toBe('queued');
    expect(report.watermark).toBe(at('2026-11-03T00:00:00Z'));
    expect(report.windows!.map((w) => new Date(w.start).toISOString().slice(0, 10))).toEqual([
      '2026-11-05',
      '2026-11-06',
      '2026-11-07',
      '2026-11-08',
      '2026-11-09',
    ]);
    expect(report.counts).toMatchObject({ queued: 5 });
    expect(report.gaps).toBe(2); // Nov 3 and 4: older than catchUp, left for a backfill
    const expected = windowsBetween('1d', 'UTC', at('2026-11-05'), at('2026-11-10'))
      .map((w) => windowJobId('outage', w))
      .sort();
    expect((await waitingIds()).filter((id) => id.startsWith('w.outage.'))).toEqual(expected);
    // A second tick (another replica, a retried trigger) adds nothing.
    const again = await tickSchedule(ctx, schedule);
    expect(again.counts).toMatchObject({ queued: 0, pending: 5 });
    expect((await waitingIds()).filter((id) => id.startsWith('w.outage.'))).toHaveLength(5);
  });

  it('does not queue the window that is still open or within the lag', async () => {
    const schedule = daily('lagging', { startAt: '2026-11-08' });
    clock = at('2026-11-10T00:04:00Z'); // Nov 9 ended 4 minutes ago, lag is 5
    const report = await tickSchedule(ctx, schedule);
    expect(report.windows!.map((w) => new Date(w.start).toISOString().slice(0, 10))).toEqual(['2026-11-08']);
    clock = at('2026-11-10T00:05:00Z');
    const later = await tickSchedule(ctx, schedule);
    expect(later.windows!.map((w) => [new Date(w.start).toISOString().slice(0, 10), w.status])).toEqual([
      ['2026-11-08', 'pending'],
      ['2026-11-09', 'queued'],
    ]);
  });

  it('without startAt the first tick pins the last closed window as the first one', async () => {
    clock = at('2026-11-10T03:00:00Z');
    const report = await tickSchedule(ctx, daily('fresh'));
    expect(report.origin).toBe(at('2026-11-09T00:00:00Z'));
    expect(report.windows).toHaveLength(1);
    clock += 3 * DAY;
    const later = await tickSchedule(ctx, daily('fresh'));
    expect(later.origin).toBe(at('2026-11-09T00:00:00Z'));
    expect(later.windows).toHaveLength(4);
  });

  it('queues a failed window again once retryFailedAfter has passed, and never a done one', async () => {
    const schedule = daily('retry', { startAt: '2026-11-01', catchUp: 3, retryFailedAfter: 1500 });
    clock = at('2026-11-04T03:00:00Z');
    const first = await tickSchedule(ctx, schedule);
    expect(first.counts).toMatchObject({ queued: 3 });
    const [nov1, nov2, nov3] = (await queue.getJobs(['waiting']))
      .filter((j) => j.id!.startsWith('w.retry.'))
      .sort((a, b) => a.id!.localeCompare(b.id!));
    const windowKey = (data: JobData) => ({ scheduleId: 'retry', start: (data as WindowJobData).start, end: (data as WindowJobData).end });
    // A worker takes Nov 1 and Nov 2: one succeeds, one fails for good.
    await ledger.markDone(windowKey(nov1!.data), 'test.window', { rows: 1 });
    await queue.remove(nov1!.id!);
    // Nov 2 is failed the way a worker fails it: taken (active, locked), then moved to failed.
    const workerConnection = createRedis(REDIS_URL, 'worker');
    const worker = new Worker<JobData>(JOB_QUEUE, null, { connection: workerConnection, prefix, autorun: false });
    try {
      const workerToken = 'test-token';
      const taken = await worker.getNextJob(workerToken, { block: false });
      expect(taken?.id).toBe(nov2!.id);
      await ledger.markFailed(windowKey(nov2!.data), 'test.window', 'OX answered 503');
      await taken!.moveToFailed(new UnrecoverableError('OX answered 503'), workerToken);
      expect(await taken!.getState()).toBe('failed');
    } finally {
      await worker.close();
      workerConnection.disconnect();
    }
    expect(await ledger.failedCount('retry')).toBe(1);
    // A trigger right after the failure leaves it: its retry is due 1.5 s after it failed.
    const early = await tickSchedule(ctx, schedule);
    expect(early.windows!.find((w) => new Date(w.start).toISOString().startsWith('2026-11-02'))?.status).toBe('retry-later');
    expect(await ledger.failedCount('retry')).toBe(1);
    passLedgerTime(1600);
    const second = await tickSchedule(ctx, schedule);
    const byDay = Object.fromEntries(second.windows!.map((w) => [new Date(w.start).toISOString().slice(0, 10), w.status]));
    expect(byDay['2026-11-01']).toBeUndefined(); // done: before the watermark, not even looked at
    expect(byDay['2026-11-02']).toBe('requeued');
    expect(byDay['2026-11-03']).toBe('pending');
    expect(await nov3!.getState()).toBe('waiting');
    expect(await (await queue.getJob(nov2!.id!))!.getState()).toBe('waiting');
    expect(await ledger.getWindow({ scheduleId: 'retry', start: at('2026-11-02'), end: at('2026-11-03') })).toMatchObject({
      state: 'queued',
      retryRounds: 1,
    });
    expect(await ledger.failedCount('retry')).toBe(0);
  });

  it('the retry clock: due failed windows are queued again with their round counted; permanent ones and used-up rounds are left', async () => {
    const schedule = daily('clock', { startAt: '2026-11-01', retryFailedAfter: 1000, maxRetries: 1 });
    clock = at('2026-11-04T03:00:00Z');
    const [nov1, nov2, nov3] = windowsBetween('1d', 'UTC', at('2026-11-01'), at('2026-11-04'));
    const key = (w: { start: number; end: number }) => ({ scheduleId: 'clock', ...w });
    await ledger.markFailed(key(nov1!), 'test.window', 'OX answered 503');
    await ledger.markFailed(key(nov2!), 'test.window', 'OX answered 400: bad request', { permanent: true });
    await ledger.markDone(key(nov3!), 'test.window', {});
    expect((await retryFailedWindows(ctx, schedule)).windows.map((w) => w.status)).toEqual([]); // nothing due yet
    const status = await scheduleStatus({ ledger, state: ctx.state }, schedule, clock);
    expect(status).toMatchObject({ failedWindows: 2, failedPermanent: 1, owed: 2, queued: 0 });
    expect(Date.parse(status.nextRetryAt!)).toBe((await ledger.getWindow(key(nov1!)))!.finishedAt! + 1000);
    passLedgerTime(1100);
    const report = await retryFailedWindows(ctx, schedule);
    expect(report.windows).toEqual([{ start: nov1!.start, end: nov1!.end, status: 'requeued', retryRound: 1 }]);
    expect(await ledger.getWindow(key(nov1!))).toMatchObject({ state: 'queued', retryRounds: 1 });
    expect(await ledger.getWindow(key(nov2!))).toMatchObject({
      state: 'failed',
      permanent: true,
      lastError: 'OX answered 400: bad request',
    });
    expect(await scheduleStatus({ ledger, state: ctx.state }, schedule, clock)).toMatchObject({ owed: 2, queued: 1, failedPermanent: 1 });
    // The round failed too: maxRetries 1 is used up, so the clock leaves it (status says so).
    await ledger.markFailed(key(nov1!), 'test.window', 'OX answered 503 again');
    passLedgerTime(1100);
    expect((await retryFailedWindows(ctx, schedule)).windows).toEqual([]);
    expect(await tickSchedule(ctx, schedule)).toMatchObject({ counts: { exhausted: 1, permanent: 1 } });
    expect((await scheduleStatus({ ledger, state: ctx.state }, schedule, clock)).nextRetryAt).toBeUndefined();
    // An operator's enqueue queues the permanent one at once (Nov 1 still has the round's job waiting).
    const manual = await enqueueWindows(
      ctx,
      [nov1!, nov2!].map((window) => ({ scheduleId: 'clock', kind: windowNoop, window, params: {}, attempts: 1 })),
    );
    expect(manual.map((r) => r.status)).toEqual(['pending', 'queued']);
  });

  it('backfill of a range where part is done queues only the rest; --force queues done ones too', async () => {
    const windows = windowsBetween('1d', 'UTC', at('2026-06-01'), at('2026-06-11'));
    for (const w of windows.slice(0, 4)) await ledger.markDone({ scheduleId: 'bf', ...w }, 'test.window', {});
    const requests = windows.map((window) => ({ scheduleId: 'bf', kind: windowNoop, window, params: {}, attempts: 2 }));
    const results = await enqueueWindows(ctx, requests);
    expect(summarize(results)).toEqual({ queued: 6, requeued: 0, pending: 0, done: 4 });
    expect(results.filter((r) => r.status === 'queued').map((r) => new Date(r.window!.start).toISOString().slice(0, 10))).toEqual([
      '2026-06-05',
      '2026-06-06',
      '2026-06-07',
      '2026-06-08',
      '2026-06-09',
      '2026-06-10',
    ]);
    expect(summarize(await enqueueWindows(ctx, requests))).toEqual({ queued: 0, requeued: 0, pending: 6, done: 4 });
    const forced = await enqueueWindows(
      ctx,
      requests.slice(0, 2).map((r) => ({ ...r, force: true })),
    );
    expect(summarize(forced)).toMatchObject({ queued: 2 });
    expect(forced[0]!.jobId).toMatch(/^w\.bf\.20260601T000000Z\.20260602T000000Z\.force-/);
    expect((await ledger.getWindow({ scheduleId: 'bf', ...windows[0]! }))?.state).toBe('queued');
  });

  it('a paused schedule queues nothing until resumed', async () => {
    const schedule = daily('paused', { startAt: '2026-11-01' });
    await ctx.state.setPaused('paused', true);
    expect((await tickSchedule(ctx, schedule)).outcome).toBe('paused');
    expect((await waitingIds()).filter((id) => id.startsWith('w.paused.'))).toHaveLength(0);
    await ctx.state.setPaused('paused', false);
    expect((await tickSchedule(ctx, schedule)).outcome).toBe('queued');
  });

  it('non-windowed schedules skip a trigger while the previous run is queued or running (overlap: skip)', async () => {
    const plain = (id: string, overlap: 'skip' | 'queue') =>
      resolveSchedule(
        id,
        { job: 'test.plain', every: 60_000, lag: 0, catchUp: 1, overlap, attempts: 1, paused: false, params: {} } as never,
        config,
        testKinds,
      );
    const first = await tickSchedule(ctx, plain('sync', 'skip'));
    expect(first.outcome).toBe('queued');
    clock += 60_000;
    const second = await tickSchedule(ctx, plain('sync', 'skip'));
    expect(second).toMatchObject({ outcome: 'skipped-overlap', jobId: first.jobId });
    // Once the previous run finished, the next trigger queues again.
    await queue.remove(first.jobId!);
    clock += 60_000;
    expect((await tickSchedule(ctx, plain('sync', 'skip'))).outcome).toBe('queued');
    // overlap: queue stacks runs.
    const a = await tickSchedule(ctx, plain('stack', 'queue'));
    clock += 60_000;
    const b = await tickSchedule(ctx, plain('stack', 'queue'));
    expect([a.outcome, b.outcome]).toEqual(['queued', 'queued']);
    expect(a.jobId).not.toBe(b.jobId);
    // A trigger BullMQ retries (or a second tick of the same slot) later: the same run, not another.
    const slot = clock;
    const once = await tickSchedule(ctx, plain('retried', 'queue'), slot);
    clock += 7_000;
    const again = await tickSchedule(ctx, plain('retried', 'queue'), slot);
    expect(again.jobId).toBe(once.jobId);
    expect((await queue.getJobs(['waiting', 'delayed', 'prioritized'])).filter((j) => j.data.scheduleId === 'retried')).toHaveLength(1);
  });

  it('status of a non-windowed schedule: lag since the last successful run, failed while the last run failed', async () => {
    const sync = resolveSchedule(
      'status-sync',
      { job: 'test.plain', every: 60_000, lag: 0, catchUp: 1, overlap: 'skip', attempts: 1, paused: false, params: {} } as never,
      config,
      testKinds,
    );
    const now = at('2026-11-10T12:00:00Z');
    await ledger.recordAttempt({
      job: 'test.plain',
      scheduleId: 'status-sync',
      state: 'done',
      startedAt: now - 3_700_000,
      finishedAt: now - 3_600_000,
    });
    await ledger.recordAttempt({
      job: 'test.plain',
      scheduleId: 'status-sync',
      state: 'failed',
      startedAt: now - 60_000,
      finishedAt: now - 30_000,
      error: 'OX answered 403',
    });
    const status = await scheduleStatus({ ledger, state: ctx.state }, sync, now);
    expect(status).toMatchObject({ lagSeconds: 3600, failedWindows: 1, lastRun: { state: 'failed', error: 'OX answered 403' } });
  });
});
