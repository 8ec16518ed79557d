/**
 * The one classification of windows behind the grid, `oxb_schedule_overdue_windows` and the
 * notifications: a seeded, randomized check over random schedules, ledgers and clocks (Redis, a
 * prefix per run), and the S3 side of an opened window (a presigned link that downloads the
 * object from s3rver, the mails of the window).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { S3Archive } from '../../src/delivery/s3-archive.js';
import { ScheduleState } from '../../src/queue/schedule-state.js';
import { overdueWindowCount, overdueAt, windowCells, type CellState } from '../../src/queue/window-cells.js';
import { windowDetail } from '../../src/queue/window-view.js';
import { scheduleStatus } from '../../src/queue/schedule-status.js';
import { isClosed, lastClosedWindow, previousWindow, windowsBetween } from '../../src/time/windows.js';
import type { Schedule } from '../../src/queue/schedules.js';
import { jobKinds } from '../../jobs/index.js';
import { createQueue, JOB_QUEUE, type JobData } from '../../src/queue/queues.js';
import { silentLogger } from '../../src/log/logger.js';
import { deleteKeys, plainRedis, testConfig, testPrefix } from '../daemon/helpers.js';
import { startS3, type TestS3 } from '../delivery/helpers/s3-server.js';

const HOUR = 3_600_000;
const exportKind = jobKinds.find((k) => k.name === 'feedback.export')!;
const redis = plainRedis();
const prefixes: string[] = [];

afterAll(async () => {
  for (const p of prefixes) await deleteKeys(redis, p);
  await redis.quit();
});

function scheduleOf(o: {
  window: '1h' | '1d';
  tz: string;
  lagMs: number;
  catchUp: number;
  startAt: number;
  alertAfterMs?: number;
}): Schedule {
  return {
    id: 's',
    kind: exportKind,
    every: 60_000,
    tz: o.tz,
    window: o.window,
    lagMs: o.lagMs,
    catchUp: o.catchUp,
    startAt: o.startAt,
    overlap: 'skip',
    attempts: 3,
    paused: false,
    params: {},
    retryFailedAfterMs: HOUR,
    ...(o.alertAfterMs !== undefined ? { alertAfterMs: o.alertAfterMs } : {}),
  };
}

describe('window classification (seeded, randomized)', () => {
  it('gives every window one state, owed only to the newest catchUp closed ones, and counts overdue windows as the metric does', async () => {
    const seed = Number(process.env.OXB_SEED ?? Date.now() % 1_000_000);
    process.stdout.write(`window classification seed: ${seed} (replay with OXB_SEED=${seed})\n`);
    const states = ['none', 'queued', 'running', 'done', 'failed', 'refused'] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          window: fc.constantFrom<'1h' | '1d'>('1h', '1d'),
          tz: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'),
          lagMs: fc.integer({ min: 0, max: 3 * HOUR }),
          catchUp: fc.integer({ min: 1, max: 8 }),
          startBack: fc.integer({ min: 0, max: 30 }),
          alertAfterMs: fc.option(fc.integer({ min: 0, max: 48 * HOUR }), { nil: undefined }),
          // 2026-03-20 .. 2026-11-10: both DST switches of Berlin and New York lie inside.
          now: fc.integer({ min: Date.UTC(2026, 2, 20), max: Date.UTC(2026, 10, 10) }),
          marks: fc.array(fc.constantFrom(...states), { minLength: 40, maxLength: 40 }),
        }),
        async (o) => {
          const prefix = testPrefix();
          prefixes.push(prefix);
          const ledger = new RedisLedger(redis, prefix);
          let first = lastClosedWindow(o.window, o.tz, o.now, o.lagMs);
          for (let i = 0; i < o.startBack; i++) first = previousWindow(o.window, o.tz, first);
          const schedule = scheduleOf({ ...o, startAt: first.start });
          const range = {
            from: previousWindow(o.window, o.tz, previousWindow(o.window, o.tz, first)).start,
            to: o.now + 3 * (o.window === '1h' ? HOUR : 86_400_000),
          };
          const windows = windowsBetween(o.window, o.tz, range.from, range.to);
          const marked = new Map<number, (typeof states)[number]>();
          for (const [i, w] of windows.entries()) {
            const mark = o.marks[i % o.marks.length]!;
            if (mark === 'none' || w.start < first.start || !isClosed(w, o.now, o.lagMs)) continue;
            const key = { scheduleId: 's', ...w };
            await ledger.markQueued(key, 'feedback.export', 'j');
            if (mark !== 'queued') await ledger.beginWindow(key, 'feedback.export', 1);
            if (mark === 'done') await ledger.markDone(key, 'feedback.export', { rows: 1 });
            if (mark === 'failed') await ledger.markFailed(key, 'feedback.export', 'OxError: OX feedback.export failed: HTTP 503');
            if (mark === 'refused') await ledger.markFailed(key, 'feedback.export', 'RefusedError: nothing verified');
            marked.set(w.start, mark);
          }
          const cells = await windowCells(ledger, schedule, range, o.now, first.start);
          expect(cells.map((c) => c.start)).toEqual(windows.map((w) => w.start));
          const closed = windows.filter((w) => isClosed(w, o.now, o.lagMs) && w.start >= first.start);
          const newest = new Set(closed.slice(-o.catchUp).map((w) => w.start));
          for (const cell of cells) {
            const mark = marked.get(cell.start);
            let expected: CellState;
            if (!isClosed(cell, o.now, o.lagMs)) expected = 'open';
            else if (cell.start < first.start) expected = 'before';
            else if (mark && mark !== 'none') expected = mark;
            else expected = newest.has(cell.start) ? 'owed' : 'gap';
            expect(cell.state, `${new Date(cell.start).toISOString()} (${mark ?? 'no record'})`).toBe(expected);
            expect(cell.overdue).toBe(
              ['failed', 'refused', 'running', 'queued', 'owed', 'gap'].includes(expected) && o.now >= overdueAt(schedule, cell),
            );
          }
          const watermark = await ledger.watermark('s', first.start);
          const metric = await overdueWindowCount(ledger, schedule, first.start, watermark, o.now);
          expect(metric).toBe(cells.filter((c) => c.overdue && c.start >= first.start).length);
          await deleteKeys(redis, prefix);
        },
      ),
      { seed, numRuns: 30 },
    );
  }, 120_000);
});

describe('an opened window on S3: presigned link, manifest, mails', () => {
  let s3: TestS3;
  const prefix = testPrefix();
  prefixes.push(prefix);

  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('links the archived object (the link downloads it) and lists the mails with Message-ID', async () => {
    const config = testConfig(prefix, { archive: s3.archiveConfig() });
    const archive = new S3Archive(config.archive);
    const file = join(mkdtempSync(join(tmpdir(), 'oxb-link-')), 'data.csv');
    const content = 'Date;Score\n2026-11-02;5\n';
    writeFileSync(file, content);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const key = 's/default/star-rating-v1/2026/11/02/data.csv';
    await archive.putFile(key, file, { contentType: 'text/csv', bytes: content.length, sha256 });
    await archive.putJson(`${key}.manifest.json`, { sha256, rows: 1 });
    const ledger = new RedisLedger(redis, prefix);
    const window = { scheduleId: 's', start: Date.UTC(2026, 10, 2), end: Date.UTC(2026, 10, 3) };
    await ledger.markQueued(window, 'feedback.export', 'j');
    await ledger.beginWindow(window, 'feedback.export', 1);
    await ledger.recordDelivery(window, 'mail:team@example.com', {
      at: Date.UTC(2026, 10, 3, 2),
      via: 'smtp',
      messageId: '<oxb.s.20261102T000000Z.ab@ox-batch>',
    });
    await ledger.markDone(window, 'feedback.export', {
      rows: 1,
      bytes: content.length,
      sha256,
      archive: {
        key,
        manifestKey: `${key}.manifest.json`,
        location: archive.describe(key),
        verifiedAt: '2026-11-03T02:00:00.000Z',
        bytes: content.length,
        sha256,
      },
    });
    const queue = createQueue<JobData>(JOB_QUEUE, config, redis, silentLogger());
    try {
      const schedule = scheduleOf({ window: '1d', tz: 'UTC', lagMs: 0, catchUp: 3, startAt: window.start });
      const detail = await windowDetail(
        {
          config,
          schedules: [schedule],
          ledger,
          state: new ScheduleState(redis, prefix),
          queue,
          archive: () => archive,
          now: () => Date.UTC(2026, 10, 10),
        },
        's',
        window.start,
      );
      expect(detail).toMatchObject({ state: 'done', rows: 1, sha256, manifest: { sha256, rows: 1 } });
      expect(detail.archive).toMatchObject({ kind: 's3', key, location: `s3://${s3.bucket}/${key}` });
      expect(detail.mails).toEqual([
        {
          id: 'mail:team@example.com',
          recipient: 'team@example.com',
          messageId: '<oxb.s.20261102T000000Z.ab@ox-batch>',
          at: Date.UTC(2026, 10, 3, 2),
          detail: { via: 'smtp', messageId: '<oxb.s.20261102T000000Z.ab@ox-batch>' },
        },
      ]);
      const download = await fetch(detail.archive!.link!);
      expect(download.status).toBe(200);
      expect(await download.text()).toBe(content);
      expect(detail.archive!.link).toMatch(/X-Amz-Expires=3600/);
    } finally {
      await queue.close();
      await archive.close();
    }
  });
});

describe('overdue runs of a non-windowed schedule', () => {
  it('counts 1 once no run succeeded for a trigger period plus alertAfter', async () => {
    const purgeKind = jobKinds.find((k) => k.name === 'feedback.purge')!;
    const prefix = testPrefix();
    prefixes.push(prefix);
    const ledger = new RedisLedger(redis, prefix);
    const state = new ScheduleState(redis, prefix);
    const now = Date.UTC(2026, 10, 10, 12);
    const schedule: Schedule = {
      id: 'p',
      kind: purgeKind,
      every: HOUR,
      tz: 'UTC',
      lagMs: 0,
      catchUp: 1,
      overlap: 'skip',
      attempts: 1,
      paused: false,
      params: {},
      retryFailedAfterMs: HOUR,
    };
    const run = (finishedAt: number, ok: boolean) =>
      ledger.recordAttempt({
        job: 'feedback.purge',
        scheduleId: 'p',
        state: ok ? 'done' : 'failed',
        startedAt: finishedAt - 1000,
        finishedAt,
        ...(ok ? {} : { error: 'RefusedError: nothing verified' }),
      });
    expect((await scheduleStatus({ ledger, state }, schedule, now)).overdueWindows).toBe(0); // never ran: not overdue
    await run(now - 90 * 60_000, true);
    await run(now - 10 * 60_000, false);
    // Last success 1.5 h ago: within one period (1 h) + alertAfter (default one period).
    expect(await scheduleStatus({ ledger, state }, schedule, now)).toMatchObject({ overdueWindows: 0, lastRunFailure: 'refused' });
    expect((await scheduleStatus({ ledger, state }, schedule, now + 31 * 60_000)).overdueWindows).toBe(1);
    expect((await scheduleStatus({ ledger, state }, { ...schedule, alertAfterMs: 2 * HOUR }, now + 31 * 60_000)).overdueWindows).toBe(0);
  });
});
