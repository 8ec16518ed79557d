/**
 * `ledger.keepDone`: the records of old done windows are trimmed, oldest first, and the trimmed
 * range stays counted as done: the watermark does not move, a backfill or run over it does not
 * run a window again, a gap or a window that is not done stops the trimming. In-process against
 * Redis, then through `ox-batch start` (the tick trims), `status`, `backfill` and `run`.
 */
import type { ChildProcess } from 'node:child_process';
import { startChild } from '../helpers/child.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import type { RedisClient } from '../../src/redis/connection.js';
import { keysWithPrefix } from '../../src/redis/keys.js';
import { lastClosedWindow, windowsBetween } from '../../src/time/windows.js';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { deleteKeys, freePort, plainRedis, REDIS_URL, testPrefix, waitFor } from './helpers.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2025, 0, 1);
const day = (scheduleId: string, n: number) => ({ scheduleId, start: T0 + n * DAY, end: T0 + (n + 1) * DAY });

describe('ledger.keepDone config', () => {
  it('is 0 (keep every record) or a duration of at least a day; anything else names the key', () => {
    const load = (keepDone: unknown) => () =>
      loadConfig({
        env: {},
        overrides: { ox: { url: 'http://127.0.0.1:1' }, redis: { url: REDIS_URL, prefix: 'oxbt-unit' }, ledger: { keepDone } },
      });
    expect(load(0)().ledger.keepDone).toBe(0);
    expect(load('400d')().ledger.keepDone).toBe(400 * DAY);
    expect(load('1h')).toThrow(
      /^config: ledger\.keepDone \(from overrides\) = 1h: expected 0 \(keep every record\) or at least 1d, e\.g\. 400d$/,
    );
    expect(load('soon')).toThrow(/^config: ledger\.keepDone .*expected a duration/);
  });
});

describe('RedisLedger.trimDone', () => {
  let redis: RedisClient;
  const prefixes: string[] = [];
  const fresh = () => {
    const prefix = testPrefix();
    prefixes.push(prefix);
    return new RedisLedger(redis, prefix);
  };
  beforeAll(() => {
    redis = plainRedis();
  });
  afterAll(async () => {
    for (const p of prefixes) await deleteKeys(redis, p);
    await redis.quit();
  });

  async function done(ledger: RedisLedger, key: { scheduleId: string; start: number; end: number }) {
    await ledger.markRunning(key, 'test.window', 1);
    await ledger.markDone(key, 'test.window', { rows: 1, archive: { key: `a/${key.start}` } });
    await ledger.recordDelivery(key, 'mail:team', { at: key.end });
  }

  it('removes old done windows with their deliveries, keeps the watermark, and a trimmed window stays done', async () => {
    const ledger = fresh();
    for (let n = 0; n < 10; n += 1) await done(ledger, day('d', n));
    const before = await ledger.watermark('d', T0);
    expect(before).toBe(day('d', 9).end);

    expect(await ledger.trimDone('d', T0, day('d', 6).end)).toBe(7);
    expect(await ledger.trimmedRange('d')).toEqual({ from: T0, through: day('d', 6).end, windows: 7 });
    expect((await ledger.listWindows('d')).map((w) => w.start)).toEqual([7, 8, 9].map((n) => day('d', n).start));
    expect(await redis.exists(`${ledger.prefix}:ledger:w:d:${day('d', 3).start}`, `${ledger.prefix}:ledger:d:d:${day('d', 3).start}`)).toBe(
      0,
    );
    expect(await ledger.watermark('d', T0)).toBe(before);
    // Walked from scratch (no cached watermark), and from a start inside the trimmed range.
    await redis.hdel(`${ledger.prefix}:ledger:wm:d`, 'watermark', 'startAt');
    expect(await ledger.watermark('d', T0)).toBe(before);
    expect(await ledger.watermark('d', day('d', 4).start)).toBe(before);
  });

  it('the trimmed range survives the watermark cache being dropped, and answers begin/queued as done', async () => {
    const ledger = fresh();
    for (let n = 0; n < 6; n += 1) await done(ledger, day('d', n));
    await ledger.trimDone('d', T0, day('d', 3).end);
    // A done window turned back (a forced re-run) drops the cached watermark: the walk starts over.
    await ledger.markQueued(day('d', 5), 'test.window', 'j5', { force: true });
    expect(await ledger.watermark('d', T0)).toBe(day('d', 5).start);
    expect(await ledger.watermark('d', day('d', 2).start)).toBe(day('d', 5).start);
    await done(ledger, day('d', 5));
    expect(await ledger.watermark('d', T0)).toBe(day('d', 5).end);

    expect(await ledger.getWindow(day('d', 1))).toMatchObject({ state: 'done', trimmed: true });
    expect(await ledger.beginWindow(day('d', 1), 'test.window', 1)).toEqual({ started: false, result: null });
    expect(await ledger.beginManual(day('d', 1), 'test.window', { owner: 'run:x:1', leaseUntil: Date.now() + 60_000 })).toEqual({
      started: false,
      result: null,
    });
    expect(await ledger.markQueuedIfOpen(day('d', 1), 'test.window', 'j1')).toBe(false);
    expect(await ledger.getWindow(day('d', 1))).toMatchObject({ trimmed: true });
    // Forced, it runs again (an operator's explicit re-run); once done it is trimmed again.
    expect(await ledger.beginWindow(day('d', 1), 'test.window', 1, { force: true })).toEqual({ started: true });
    expect(await ledger.watermark('d', T0)).toBe(day('d', 5).end);
    await ledger.markDone(day('d', 1), 'test.window', { rows: 2 });
    expect(await ledger.trimDone('d', T0, day('d', 3).end)).toBe(1);
    expect(await ledger.trimmedRange('d')).toEqual({ from: T0, through: day('d', 3).end, windows: 5 });
  });

  it('stops at a gap or a window that is not done, and never trims past olderThan', async () => {
    const ledger = fresh();
    for (const n of [0, 1, 2, 4, 5]) await done(ledger, day('gap', n));
    expect(await ledger.trimDone('gap', T0, day('gap', 5).end)).toBe(3);
    expect(await ledger.trimmedRange('gap')).toMatchObject({ through: day('gap', 3).start });
    expect(await ledger.watermark('gap', T0)).toBe(day('gap', 3).start);

    const failed = fresh();
    for (const n of [0, 1, 3]) await done(failed, day('f', n));
    await failed.markFailed(day('f', 2), 'test.window', 'boom');
    expect(await failed.trimDone('f', T0, day('f', 3).end)).toBe(2);
    expect(await failed.failedCount('f')).toBe(1);
    expect((await failed.listWindows('f')).map((w) => w.state)).toEqual(['failed', 'done']);

    // A window the purge flagged for re-export, or one with a mail claim not settled, keeps its
    // record and delivery log (and the range stops before it).
    const kept = fresh();
    for (let n = 0; n < 5; n += 1) await done(kept, day('k', n));
    expect(await kept.flagReexport(day('k', 1), { flaggedAt: 1, oxRows: 2, archivedRows: 1, by: 'feedback-purge' })).toBe(true);
    expect(await kept.trimDone('k', T0, day('k', 4).end)).toBe(1);
    expect((await kept.reexportFlags('k')).map((f) => f.start)).toEqual([day('k', 1).start]);
    const claimed = fresh();
    for (let n = 0; n < 3; n += 1) await done(claimed, day('c', n));
    await claimed.claimMail(day('c', 1), 'run:host:1', {
      addresses: ['team@example.com'],
      via: 'ox',
      messageId: '<m@x>',
      leaseUntil: Date.now() + 60_000,
    });
    expect(await claimed.trimDone('c', T0, day('c', 2).end)).toBe(1);
    expect(await claimed.getDelivery(day('c', 1), 'mail:team@example.com')).toMatchObject({ state: 'claimed' });

    const young = fresh();
    for (let n = 0; n < 3; n += 1) await done(young, day('y', n));
    expect(await young.trimDone('y', T0, day('y', 0).end - 1)).toBe(0);
    expect(await young.trimmedRange('y')).toBeUndefined();
    // Windows before the schedule's first window join the range only when they adjoin it.
    const early = fresh();
    for (const n of [-3, -1, 0, 1]) await done(early, day('e', n));
    expect(await early.trimDone('e', T0, day('e', 1).end)).toBe(3);
    expect(await early.trimmedRange('e')).toMatchObject({ from: day('e', -1).start, through: day('e', 1).end });
    expect((await early.listWindows('e')).map((w) => w.start)).toEqual([day('e', -3).start]);
  });

  it('trimming never changes the watermark of any window start (seeded, replayable)', async () => {
    const seed = Number(process.env.OXB_FC_SEED ?? Date.now() % 1_000_000);
    const ledger = fresh();
    let run = 0;
    const state = fc.constantFrom('done', 'done', 'done', 'failed', 'queued', 'missing');
    await fc.assert(
      fc.asyncProperty(
        fc.array(state, { minLength: 1, maxLength: 14 }),
        fc.array(fc.record({ olderThan: fc.integer({ min: 0, max: 14 }), origin: fc.integer({ min: 0, max: 3 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        async (states, trims) => {
          const id = `p${run++}`;
          for (const [n, s] of states.entries()) {
            const key = day(id, n);
            if (s === 'missing') continue;
            if (s === 'done') await done(ledger, key);
            else if (s === 'failed') await ledger.markFailed(key, 'test.window', 'x');
            else await ledger.markQueued(key, 'test.window', `j${n}`);
          }
          const starts = states.map((_, n) => day(id, n).start);
          const marks = async () => Promise.all(starts.map((s) => ledger.watermark(id, s)));
          const before = await marks();
          for (const trim of trims) {
            await ledger.trimDone(id, day(id, trim.origin).start, day(id, trim.olderThan).start);
            expect(await marks()).toEqual(before);
            // A fresh walk (another process, no cached watermark) agrees.
            await redis.hdel(`${ledger.prefix}:ledger:wm:${id}`, 'watermark', 'startAt');
            expect(await marks()).toEqual(before);
          }
        },
      ),
      {
        seed,
        numRuns: 30,
        reporter: (out) => {
          if (out.failed)
            throw new Error(
              `replay with OXB_FC_SEED=${seed}: ${out.counterexample ? JSON.stringify(out.counterexample) : ''} ${String(out.errorInstance)}`,
            );
        },
      },
    );
  });
});

describe('ledger.keepDone through ox-batch start, status, backfill and run', () => {
  let bundle: Awaited<ReturnType<typeof bundleCli>>;
  let redis: RedisClient;
  let dir: string;
  const prefix = testPrefix();
  beforeAll(async () => {
    bundle = await bundleCli();
    redis = plainRedis();
    dir = mkdtempSync(join(tmpdir(), 'oxbt-trim-'));
  }, 60_000);
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
    bundle?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'the daemon trims done windows older than keepDone at its tick; they stay done for the watermark, backfill and run',
    { timeout: 120_000 },
    async () => {
      const now = Date.now();
      const startAt = lastClosedWindow('1d', 'UTC', now, 0).start - 60 * DAY;
      const windows = windowsBetween('1d', 'UTC', startAt, lastClosedWindow('1d', 'UTC', now, 0).end);
      const ledger = new RedisLedger(redis, prefix);
      for (const w of windows) {
        const key = { scheduleId: 'daily', ...w };
        await ledger.markRunning(key, 'feedback.export', 1);
        await ledger.markDone(key, 'feedback.export', { rows: 3, bytes: 100, sha256: 'x'.repeat(64) });
        await ledger.recordDelivery(key, 'archive', { at: w.end });
      }
      const watermark = await ledger.watermark('daily', startAt);
      expect(watermark).toBe(windows.at(-1)!.end);
      const windowKeys = async () => (await keysWithPrefix(redis, prefix)).filter((k) => /:ledger:[wd]:daily:/.test(k)).length;
      expect(await windowKeys()).toBe(2 * windows.length);

      const config = join(dir, 'trim.yaml');
      writeFileSync(
        config,
        [
          // OX is never asked: every window is done (a request would fail the test's runs).
          'ox: { url: "http://127.0.0.1:1", user: u, password: p, retry: { attempts: 1 } }',
          'ledger: { keepDone: 20d }',
          'logging: { level: info }',
          'schedules:',
          `  daily: { job: feedback.export, every: 1s, window: 1d, lag: 0, startAt: "${new Date(startAt).toISOString()}" }`,
          '',
        ].join('\n'),
      );
      const env = { REDIS_URL, OXB_REDIS_PREFIX: prefix, OXB_CONFIG: config };
      const port = await freePort();
      const started = startChild(process.execPath, [bundle.entry, 'start', '--port', String(port)], {
        env: { PATH: process.env.PATH ?? '', ...env },
        timeoutMs: 180_000,
      });
      const daemon: ChildProcess = started.process;
      const log = started.output;
      try {
        const range = await waitFor(() => ledger.trimmedRange('daily'), `the daemon to trim (${log()})`, 60_000, 100);
        const keepFrom = lastClosedWindow('1d', 'UTC', Date.now(), 0).end - 20 * DAY;
        expect(range.from).toBe(startAt);
        expect(range.through).toBeLessThanOrEqual(keepFrom);
        expect(range.through).toBeGreaterThan(keepFrom - 2 * DAY);
        expect(range.windows).toBe(windows.filter((w) => w.end <= range.through).length);
        // The log line follows the trim (the range is in Redis first).
        await waitFor(
          () => /ledger\.keepDone: \d+ done window record\(s\) older than/.test(log()),
          `the trim's log line (${log()})`,
          10_000,
          50,
        );
      } finally {
        daemon.kill('SIGTERM');
        await new Promise((resolve) => daemon.once('exit', resolve));
      }
      const range = (await ledger.trimmedRange('daily'))!;
      expect(await ledger.watermark('daily', startAt)).toBe(watermark);
      // Record and delivery log of every trimmed window are gone; the others are kept.
      expect(await windowKeys()).toBe(2 * (windows.length - range.windows));

      const status = await runCli(bundle.entry, ['status', '--json'], env);
      expect(status.code, status.stderr).toBe(0);
      const daily = (
        JSON.parse(status.stdout.toString()) as { schedules: Array<{ id: string; watermark: string; trimmed?: unknown }> }
      ).schedules.find((s) => s.id === 'daily');
      expect(daily).toMatchObject({
        watermark: new Date(watermark).toISOString(),
        trimmed: { from: new Date(startAt).toISOString(), through: new Date(range.through).toISOString(), windows: range.windows },
      });

      // A backfill over the trimmed range queues nothing: those windows are done.
      const backfill = await runCli(
        bundle.entry,
        ['backfill', 'daily', '--from', new Date(startAt).toISOString(), '--to', new Date(range.through).toISOString()],
        env,
      );
      expect(backfill.code, backfill.stderr).toBe(0);
      expect(JSON.parse(backfill.stdout.toString())).toMatchObject({ queued: 0, done: range.windows });
      expect(await redis.llen(`${prefix}:jobs:wait`)).toBe(0);
      // So does a run: skipped as done, OX (unreachable here) is never asked.
      const run = await runCli(
        bundle.entry,
        ['run', 'daily', '--start', new Date(startAt + DAY).toISOString(), '--end', new Date(startAt + 2 * DAY).toISOString()],
        env,
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.toString()).toMatch(/"status": ?"skipped"/);
    },
  );
});
