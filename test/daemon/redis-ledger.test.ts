import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../src/redis/connection.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { deliveryLogFor } from '../../src/ledger/delivery-log.js';
import { deleteKeys, plainRedis, REDIS_URL, testPrefix, waitFor } from './helpers.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const day = (n: number) => ({ scheduleId: 'daily', start: T0 + n * DAY, end: T0 + (n + 1) * DAY });

describe('RedisLedger', () => {
  // A fresh prefix per test: each one builds the records it reads, so any one runs alone or in any order.
  let redis: RedisClient;
  let prefix: string;
  let ledger: RedisLedger;
  beforeEach(() => {
    redis = plainRedis();
    prefix = testPrefix();
    ledger = new RedisLedger(redis, prefix);
  });
  afterEach(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
  });
  /** Days 0 to n-1 of the `daily` schedule marked done. */
  const doneDays = async (n: number) => {
    for (let d = 0; d < n; d += 1) await ledger.markDone(day(d), 'test.noop', { rows: d });
  };

  it('records the life of a window with its result kept verbatim', async () => {
    await ledger.markQueued(day(0), 'test.noop', 'w.daily.1');
    await ledger.markRunning(day(0), 'test.noop', 1);
    await ledger.markFailed(day(0), 'test.noop', 'OX answered 503');
    expect(await ledger.failedCount('daily')).toBe(1);
    await ledger.markRunning(day(0), 'test.noop', 2);
    await ledger.markDone(day(0), 'test.noop', { rows: 3, mail: [], nested: { big: 1_800_000_000_123 } });
    const record = await ledger.getWindow(day(0));
    expect(record).toMatchObject({ state: 'done', attempts: 2, job: 'test.noop', jobId: 'w.daily.1', start: T0, end: T0 + DAY });
    expect(record?.result).toEqual({ rows: 3, mail: [], nested: { big: 1_800_000_000_123 } });
    expect(record?.lastError).toBeUndefined();
    expect(await ledger.failedCount('daily')).toBe(0);
  });

  it('does not let a late queued mark undo a done window unless forced', async () => {
    await doneDays(1);
    await ledger.markQueued(day(0), 'test.noop', 'w.late');
    expect((await ledger.getWindow(day(0)))?.state).toBe('done');
    expect(await ledger.markQueuedIfOpen(day(0), 'test.noop', 'w.forced', { force: true })).toBe(true);
    expect((await ledger.getWindow(day(0)))?.state).toBe('queued');
  });

  it('computes the watermark as the end of the contiguous done run and follows later changes', async () => {
    await doneDays(1);
    await ledger.markDone(day(1), 'test.noop', {});
    await ledger.markDone(day(3), 'test.noop', {});
    expect(await ledger.watermark('daily', T0)).toBe(T0 + 2 * DAY);
    await ledger.markDone(day(2), 'test.noop', {});
    expect(await ledger.watermark('daily', T0)).toBe(T0 + 4 * DAY);
    await ledger.markFailed(day(1), 'test.noop', 'forced re-run failed');
    expect(await ledger.watermark('daily', T0)).toBe(T0 + DAY);
    expect(await ledger.watermark('daily', T0 + 2 * DAY)).toBe(T0 + 4 * DAY);
    expect(await ledger.watermark('other', T0)).toBe(T0);
  });

  it('lists windows overlapping a range in order', async () => {
    await doneDays(4);
    const list = await ledger.listWindows('daily', { from: T0 + DAY + 1, to: T0 + 3 * DAY });
    expect(list.map((w) => w.start)).toEqual([T0 + DAY, T0 + 2 * DAY]);
    expect((await ledger.listWindows('daily')).length).toBe(4);
  });

  it('keeps deliveries per window and runs per schedule', async () => {
    await doneDays(4);
    const log = deliveryLogFor(ledger, day(2), 'run:test:1');
    expect(await log.get('mail:abc')).toBeNull();
    await log.record('mail:abc', { messageId: '<x@y>' });
    expect(await log.get('mail:abc')).toMatchObject({ messageId: '<x@y>' });
    expect(typeof (await log.get('mail:abc'))?.at).toBe('number');
    expect(await ledger.getDelivery(day(1), 'mail:abc')).toBeNull();
    expect(Object.keys(await ledger.listDeliveries(day(2)))).toEqual(['mail:abc']);
    await ledger.recordAttempt({ job: 'ads.sync', scheduleId: 'ads', state: 'done', startedAt: 1, finishedAt: 2, result: { n: 1 } });
    await ledger.recordAttempt({ job: 'ads.sync', scheduleId: 'ads', state: 'failed', startedAt: 3, finishedAt: 4, error: 'boom' });
    expect((await ledger.lastAttempts('ads')).map((r) => r.state)).toEqual(['failed', 'done']);
    expect(await ledger.scheduleIds()).toEqual(['ads', 'daily']);
  });
});

describe('RedisLedger watermark cache under concurrent changes', () => {
  let redis: RedisClient;
  let prefix: string;
  beforeEach(() => {
    redis = plainRedis();
    prefix = testPrefix();
  });
  afterEach(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  /**
   * A ledger whose watermark scan is interleaved with another process: right before it stores
   * the watermark it computed, `meanwhile` runs (on its own ledger, same real Redis).
   */
  function interleavedLedger(meanwhile: () => Promise<void>): RedisLedger {
    let fired = false;
    const hooked = new Proxy(redis, {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        // saveWatermark: the command (ledger/commands/saveWatermark-1.lua) that stores it.
        if (property === 'saveWatermark' && typeof value === 'function') {
          return async (...args: unknown[]) => {
            if (!fired) {
              fired = true;
              await meanwhile();
            }
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return new RedisLedger(hooked, prefix);
  }

  it('a window forced back to queued while a scan is in flight is never hidden behind a cached watermark', async () => {
    const ledger = new RedisLedger(redis, prefix);
    const key = (scheduleId: string, n: number) => ({ scheduleId, start: T0 + n * DAY, end: T0 + (n + 1) * DAY });
    // Empty cache, and a cache that ends right where the re-run window starts.
    for (const [scheduleId, cachedThrough] of [
      ['nocache', -1],
      ['cached', 1],
    ] as const) {
      for (const n of [0, 1, 2]) await ledger.markDone(key(scheduleId, n), 'test.noop', {});
      if (cachedThrough >= 0) {
        await ledger.markQueuedIfOpen(key(scheduleId, 1), 'test.noop', 'w.x', { force: true });
        expect(await ledger.watermark(scheduleId, T0)).toBe(T0 + DAY);
        await ledger.markDone(key(scheduleId, 1), 'test.noop', {});
      }
      const reader = interleavedLedger(async () => {
        await ledger.markQueuedIfOpen(key(scheduleId, 1), 'test.noop', 'w.forced', { force: true });
      });
      await reader.watermark(scheduleId, T0);
      expect((await ledger.getWindow(key(scheduleId, 1)))?.state).toBe('queued');
      expect(await ledger.watermark(scheduleId, T0)).toBe(T0 + DAY);
    }
  });
});

describe('RedisLedger update batches', () => {
  let redis: RedisClient;
  let monitorClient: Redis;
  let prefix: string;
  beforeEach(() => {
    redis = plainRedis();
    prefix = testPrefix();
    // MONITOR watches one server: this test counts the calls a single Redis receives.
    monitorClient = new Redis(REDIS_URL);
  });
  afterEach(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
    monitorClient.disconnect();
  });

  it('sends the updates issued in one turn as one script call, each answered on its own', async () => {
    const ledger = new RedisLedger(redis, prefix);
    await ledger.markDone(day(100), 'test.noop', { warm: true }); // the script is loaded (EVAL) once
    const monitor = await monitorClient.monitor();
    // MONITOR reports commands in the order Redis ran them. A marker command sent after the
    // updates settled is therefore reported after every script call they made: once it is seen,
    // the count is final (no sleeping and hoping the monitor has caught up).
    const marker = `${prefix}:monitor-marker`;
    const scriptCalls: string[][] = [];
    let markerSeen = false;
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[0]?.toLowerCase() === 'get' && args[1] === marker) markerSeen = true;
      else if (!markerSeen && /^eval(sha)?$/i.test(args[0] ?? '') && args.some((a) => a.startsWith(`${prefix}:ledger:w:`)))
        scriptCalls.push(args);
    });
    const keys = Array.from({ length: 20 }, (_, i) => ({ scheduleId: 'batched', start: T0 + i * DAY, end: T0 + (i + 1) * DAY }));
    const begun = await Promise.all(keys.map((k) => ledger.beginWindow(k, 'test.noop', 1)));
    expect(begun.every((b) => b.started)).toBe(true);
    await Promise.all(keys.map((k, i) => ledger.markDone(k, 'test.noop', { rows: i })));
    await redis.get(marker);
    await waitFor(() => markerSeen, 'the monitor to report the marker sent after the updates');
    monitor.disconnect();
    // One call for the 20 begins, one for the 20 done marks: 5 keys per update.
    expect(scriptCalls).toHaveLength(2);
    expect(scriptCalls.map((args) => Number(args[2]))).toEqual([100, 100]);
    const records = await ledger.listWindows('batched');
    expect(records.map((r) => [r.state, (r.result as { rows: number }).rows])).toEqual(keys.map((_, i) => ['done', i]));
    // A begin in a later batch still sees what the earlier one did.
    expect(await ledger.beginWindow(keys[3]!, 'test.noop', 2)).toEqual({ started: false, result: { rows: 3 } });
  });

  it('an update that fails in Redis fails alone: the others of its batch are applied', async () => {
    const ledger = new RedisLedger(redis, prefix);
    const broken = { scheduleId: 'broken', start: T0, end: T0 + DAY };
    const fine = { scheduleId: 'broken', start: T0 + DAY, end: T0 + 2 * DAY };
    await redis.set(`${prefix}:ledger:w:broken:${T0}`, 'not a hash');
    const [bad, good] = await Promise.allSettled([
      ledger.markDone(broken, 'test.noop', {}),
      ledger.markDone(fine, 'test.noop', { rows: 1 }),
    ]);
    expect(bad.status).toBe('rejected');
    expect(String((bad as PromiseRejectedResult).reason)).toMatch(
      /LedgerUpdateError: ledger update "markDone" of broken@\d+ failed: .*WRONGTYPE/,
    );
    expect(good.status).toBe('fulfilled');
    expect((await ledger.getWindow(fine))?.state).toBe('done');
  });
});
