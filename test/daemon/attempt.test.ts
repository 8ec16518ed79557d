import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/connection.js';
import { createServices, type ClosableServices } from '../../src/services.js';
import { silentLogger } from '../../src/log/logger.js';
import { executeAttempt, executeManualAttempt } from '../../src/queue/attempt.js';
import { InputError, RefusedError } from '../../src/errors.js';
import { z } from 'zod';
import { defineJob } from '../../src/job-kind.js';
import { deleteKeys, plainRedis, testConfig, testPrefix } from './helpers.js';
import { testKinds, windowNoop } from './test-jobs.js';

const window = { start: Date.UTC(2026, 2, 1), end: Date.UTC(2026, 2, 2) };

describe('executeManualAttempt', () => {
  // Own prefix (ledger, run counters) per test: each builds what it reads, alone or in any order.
  let prefix: string;
  let redis: RedisClient;
  let services: ClosableServices;
  beforeEach(() => {
    prefix = testPrefix();
    redis = plainRedis();
    services = createServices(testConfig(prefix), { log: silentLogger(), redis });
  });
  afterEach(async () => {
    await services.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('runs a window, records running then done with the result, and skips it the next time', async () => {
    const first = await executeManualAttempt({ kind: windowNoop, services, scheduleId: 'daily', window, params: { rows: 7 } });
    expect(first).toMatchObject({ status: 'done', result: { rows: 7, bytes: 10, run: 1 }, attempt: 1 });
    expect(await services.ledger.getWindow({ scheduleId: 'daily', ...window })).toMatchObject({
      state: 'done',
      attempts: 1,
      result: { rows: 7 },
    });
    const again = await executeManualAttempt({ kind: 'test.window', kinds: testKinds, services, scheduleId: 'daily', window, params: {} });
    expect(again).toMatchObject({ status: 'skipped', result: { rows: 7 } });
    const forced = await executeManualAttempt({ kind: windowNoop, services, scheduleId: 'daily', window, params: {}, force: true });
    expect(forced).toMatchObject({ status: 'done', attempt: 2, result: { run: 2 } });
  });

  it('records a failure with its reason and lets the next run succeed', async () => {
    const w = { start: window.end, end: window.end + 86_400_000 };
    // The window before it is done: the watermark then runs through both once this one is.
    await services.ledger.markDone({ scheduleId: 'daily', ...window }, 'test.window', { rows: 7 });
    const failed = await executeManualAttempt({ kind: windowNoop, services, scheduleId: 'daily', window: w, params: { failTimes: 1 } });
    expect(failed).toMatchObject({ status: 'failed', reason: 'planned failure 1' });
    expect(await services.ledger.getWindow({ scheduleId: 'daily', ...w })).toMatchObject({
      state: 'failed',
      lastError: 'planned failure 1',
    });
    expect(await services.ledger.failedCount('daily')).toBe(1);
    const ok = await executeManualAttempt({ kind: windowNoop, services, scheduleId: 'daily', window: w, params: { failTimes: 1 } });
    expect(ok.status).toBe('done');
    expect(await services.ledger.failedCount('daily')).toBe(0);
    expect(await services.ledger.watermark('daily', window.start)).toBe(w.end);
  });

  it('rejects params the job schema refuses, naming the field, and records nothing', async () => {
    const w = { start: Date.UTC(2027, 0, 1), end: Date.UTC(2027, 0, 2) };
    await expect(executeManualAttempt({ kind: windowNoop, services, window: w, params: { sleepMs: 'soon' } })).rejects.toThrow(InputError);
    await expect(executeManualAttempt({ kind: windowNoop, services, window: w, params: { sleepMs: 'soon' } })).rejects.toThrow(
      /params\.sleepMs/,
    );
    expect(await services.ledger.getWindow({ scheduleId: 'test.window', ...w })).toBeNull();
    await expect(executeManualAttempt({ kind: windowNoop, services, params: {} })).rejects.toThrow(/works on time windows/);
    await expect(executeManualAttempt({ kind: 'no.such', kinds: testKinds, services })).rejects.toThrow(/unknown job kind "no.such"/);
  });

  it('refuses a window sharing its start with a recorded window of another end (worker and in-process paths), leaving that record alone', async () => {
    const day = { start: Date.UTC(2026, 5, 1), end: Date.UTC(2026, 5, 2) };
    const month = { start: day.start, end: Date.UTC(2026, 6, 1) };
    expect((await executeManualAttempt({ kind: windowNoop, services, scheduleId: 'adhoc', window: day, params: {} })).status).toBe('done');
    // Not "skipped, already done" with the day's result: the month was never exported.
    await expect(executeManualAttempt({ kind: windowNoop, services, scheduleId: 'adhoc', window: month, params: {} })).rejects.toThrow(
      InputError,
    );
    await expect(
      executeAttempt({ kind: windowNoop, services, scheduleId: 'adhoc', window: month, params: {}, attempt: 1 }),
    ).rejects.toThrow(/same instant/);
    await expect(
      executeAttempt({ kind: windowNoop, services, scheduleId: 'adhoc', window: month, params: {}, attempt: 1, force: true }),
    ).rejects.toThrow(/same instant/);
    expect(await services.ledger.getWindow({ scheduleId: 'adhoc', ...day })).toMatchObject({ state: 'done', end: day.end, attempts: 1 });
    expect(await redis.get(`${prefix}:test:runs:adhoc:${day.start}`)).toBe('1');
  });

  it('a forced re-run that is refused leaves the done window done with its result (worker and in-process paths)', async () => {
    const refusesForced = defineJob({
      name: 'test.refuses-forced',
      description: 'refuses forced re-runs',
      windowed: true,
      params: z.object({}),
      async run(run) {
        if (run.force) throw new RefusedError('archived copy differs; refusing to overwrite it');
        return { rows: 3, archive: { key: 'k' } };
      },
    });
    const w = { start: Date.UTC(2026, 7, 1), end: Date.UTC(2026, 7, 2) };
    const key = { scheduleId: 'refusing', ...w };
    expect((await executeManualAttempt({ kind: refusesForced, services, scheduleId: 'refusing', window: w })).status).toBe('done');
    const inProcess = await executeManualAttempt({ kind: refusesForced, services, scheduleId: 'refusing', window: w, force: true });
    expect(inProcess).toMatchObject({ status: 'failed', exitCode: 2 });
    expect(await services.ledger.getWindow(key)).toMatchObject({ state: 'done', result: { rows: 3, archive: { key: 'k' } } });
    await expect(
      executeAttempt({ kind: refusesForced, services, scheduleId: 'refusing', window: w, attempt: 1, force: true }),
    ).rejects.toThrow(/refusing to overwrite/);
    expect(await services.ledger.getWindow(key)).toMatchObject({ state: 'done', result: { rows: 3, archive: { key: 'k' } } });
    expect(await services.ledger.failedCount('refusing')).toBe(0);
    expect(await services.ledger.watermark('refusing', w.start)).toBe(w.end);
  });

  it('records non-windowed runs per schedule', async () => {
    const out = await executeManualAttempt({ kind: 'test.plain', kinds: testKinds, services, scheduleId: 'ads-hourly' });
    expect(out).toMatchObject({ status: 'done', result: { ok: true } });
    expect((await services.ledger.lastAttempts('ads-hourly'))[0]).toMatchObject({ state: 'done', job: 'test.plain', result: { ok: true } });
  });
});
