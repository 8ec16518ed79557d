/**
 * Failed windows come back on their own clock: a real `ox-batch start` (child process) exports
 * from the simulator. One window meets OX answering 503 for a while and fails all its attempts;
 * `retryFailedAfter` later the retry clock queues it again and it is done, without any operator
 * action (visible in the ledger, the metrics and the log). A window that got a 400 stays failed
 * with its reason: no retry can fix it.
 */
import { startChild } from '../helpers/child.js';
import { clockEnv, testToday } from '../helpers/clock.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../../src/redis/connection.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { deleteKeys, freePort, plainRedis, REDIS_URL, ROOT, runCli, testPrefix, waitFor } from '../daemon/helpers.js';
import { SIM_CREDENTIALS } from '../ox/ox-test-kit.js';
import { bundledCli } from '../helpers/bundle.js';

const DAY = 86_400_000;
const EXPORTS = '/userfeedback/v1/export/default/';

describe('the retry clock in a running daemon', () => {
  const prefix = testPrefix();
  // The daemon runs on the test clock (noon UTC): yesterday stays yesterday, 02:00 does not come.
  const yesterday = testToday() - DAY;
  let redis: RedisClient;
  let sim: OxSimulator;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    redis = plainRedis();
    sim = await OxSimulator.start({ credentials: SIM_CREDENTIALS });
    sim.generateFeedback({ rows: 500, from: yesterday, to: yesterday + DAY, seed: 3 });
    dir = mkdtempSync(join(tmpdir(), 'oxb-retry-clock-'));
    file = join(dir, 'config.yaml');
    const { user, password } = SIM_CREDENTIALS.rest;
    const schedule = (type: string) =>
      `{ job: feedback.export, cron: "0 2 * * *", tz: UTC, window: 1d, lag: 0, startAt: "${new Date(yesterday).toISOString()}", attempts: 2, retryFailedAfter: 3s, params: { type: ${type} } }`;
    writeFileSync(
      file,
      [
        `ox: { url: "${sim.url}", user: ${user}, password: "${password}", retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } }`,
        `redis: { url: "${REDIS_URL}", prefix: ${prefix} }`,
        'logging: { level: info }',
        `archive: { kind: fs, dir: "${join(dir, 'archive')}" }`,
        `spool: { dir: "${join(dir, 'spool')}" }`,
        'worker: { concurrency: 1, backoffMs: 100, shutdownGraceMs: 2s, closeTimeoutMs: 2s }',
        'schedules:',
        // Ticked in this order at start, and run one at a time: `bad` meets the 400, `good` the 503s.
        `  bad: ${schedule('star-rating-v1')}`,
        `  good: ${schedule('star-rating-v1')}`,
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await sim.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a window that failed all its attempts on 503 is done later without operator action; a 400 stays failed with its reason', async () => {
    // bad: 400 (permanent). good: 2 BullMQ attempts x 2 tries each, all 503; after that OX answers.
    sim.setFaults({ pathPrefix: EXPORTS, script: [400, 503, 503, 503, 503] });
    const port = await freePort();
    const started = startChild(process.execPath, [await bundledCli(), '--config', file, 'start', '--port', String(port)], {
      cwd: ROOT,
      env: { ...process.env, ...clockEnv() },
      timeoutMs: 180_000,
    });
    const child = started.process;
    const exited = started.exited.then(({ code }) => code);
    const ledger = new RedisLedger(redis, prefix);
    const key = (scheduleId: string) => ({ scheduleId, start: yesterday, end: yesterday + DAY });
    try {
      const failed = await waitFor(
        async () => {
          const r = await ledger.getWindow(key('good'));
          return r?.state === 'failed' ? r : undefined;
        },
        'good failed all its attempts',
        30_000,
        100,
      );
      expect(failed).toMatchObject({ attempts: 2, lastError: expect.stringMatching(/503/) });
      expect(failed.permanent).toBeUndefined();
      const failedAt = failed.finishedAt!;
      expect(await ledger.getWindow(key('bad'))).toMatchObject({
        state: 'failed',
        permanent: true,
        lastError: expect.stringMatching(/HTTP 400/),
      });

      // status, while good waits for its retry: the round is due 3 s after it failed, bad needs an operator.
      const status = await runCli(['--config', file, 'status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      const shown = JSON.parse(status.stdout) as {
        failedWindows: Array<Record<string, unknown>>;
        schedules: Array<Record<string, unknown>>;
      };
      const good = shown.failedWindows.find((f) => f.schedule === 'good');
      const bad = shown.failedWindows.find((f) => f.schedule === 'bad');
      // (A slow CLI start may see it already queued again: then the ledger says so.)
      if (good) expect(good).toMatchObject({ permanent: false, retryRounds: 0, nextRetryAt: new Date(failedAt + 3_000).toISOString() });
      else expect((await ledger.getWindow(key('good')))?.retryRounds).toBe(1);
      expect(bad).toMatchObject({ permanent: true, reason: expect.stringMatching(/400/) });
      expect(bad!.nextRetryAt).toBeUndefined();
      expect(shown.schedules.find((s) => s.id === 'bad')).toMatchObject({ owed: 1, failedWindows: 1, failedPermanent: 1 });

      const done = await waitFor(
        async () => {
          const r = await ledger.getWindow(key('good'));
          return r?.state === 'done' ? r : undefined;
        },
        'good done by the retry clock',
        20_000,
        100,
      );
      expect(done.retryRounds).toBe(1);
      expect(done.result).toMatchObject({ rows: 500 });
      expect(done.startedAt! - failedAt).toBeGreaterThanOrEqual(3_000); // on its own clock, not at once
      console.log(`503 window: failed at +0, queued again and done ${done.finishedAt! - failedAt} ms later (retryFailedAfter 3 s)`);
      expect(started.output()).toMatch(/failed window queued again \(retry round 1\)/);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/oxb_window_retry_rounds_total\{schedule="good"\} 1/);
      expect(metrics).not.toMatch(/oxb_window_retry_rounds_total\{schedule="bad"\}/);

      // Three more retry periods: the 400 window is still failed, with its reason, never queued again.
      await new Promise((r) => setTimeout(r, 9_000));
      expect(await ledger.getWindow(key('bad'))).toMatchObject({
        state: 'failed',
        permanent: true,
        lastError: expect.stringMatching(/HTTP 400/),
      });
      expect((await ledger.getWindow(key('bad')))!.retryRounds).toBeUndefined();
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 90_000);
});
