/**
 * feedback.export on the real daemon path: a Berlin-day schedule across the March DST switch,
 * caught up by one scheduler tick, run by the BullMQ worker, recorded in the ledger.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/log/logger.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { jobKinds } from '../../jobs/index.js';
import { deleteKeys, plainRedis, waitFor } from '../daemon/helpers.js';
import { REDIS_URL, startExportEnv, type ExportEnv } from './helpers/export-env.js';

// Berlin days: 27 and 28 March 2026 have 24 h (UTC+1), 29 March has 23 h (clocks go forward).
const DAYS = [
  { start: Date.UTC(2026, 2, 26, 23), end: Date.UTC(2026, 2, 27, 23) },
  { start: Date.UTC(2026, 2, 27, 23), end: Date.UTC(2026, 2, 28, 23) },
  { start: Date.UTC(2026, 2, 28, 23), end: Date.UTC(2026, 2, 29, 22) },
];

describe('feedback.export scheduled through the daemon', () => {
  let env: ExportEnv;
  let daemon: Daemon;
  const redis = plainRedis();
  beforeAll(async () => {
    env = await startExportEnv({ smtp: true });
    env.sim.generateFeedback({ rows: 3000, from: DAYS[0]!.start - 3_600_000, to: DAYS[2]!.end + 3_600_000, seed: 11 });
    const config = loadConfig({
      env: { REDIS_URL },
      overrides: {
        ...env.config,
        logging: { level: 'silent' },
        worker: { ...env.config.worker, concurrency: 2 },
        schedules: {
          'feedback-daily': {
            job: 'feedback.export',
            cron: '30 2 * * *',
            tz: 'Europe/Berlin',
            window: '1d',
            lag: '30m',
            startAt: '2026-03-27',
            params: { format: 'csv', compress: 'gzip', deliver: ['archive', 'mail'], mailTo: 'team@example.com' },
          },
        },
      },
    });
    daemon = await Daemon.start({
      config,
      kinds: jobKinds,
      role: 'all',
      port: null,
      log: silentLogger(),
      now: () => Date.UTC(2026, 2, 30, 6),
    });
  });
  afterAll(async () => {
    await daemon?.stop({ graceMs: 100 });
    await deleteKeys(redis, env.prefix);
    await redis.quit();
    await env?.close();
  });

  it('catches up the missed Berlin days, archives each verified and mails each once', async () => {
    // The daemon caught up as it started: a tick now finds the three days queued (or done) already.
    const first = await daemon.tick('feedback-daily');
    expect(first.counts?.queued).toBe(0);
    expect(first.windows).toHaveLength(3);
    const ledger = new RedisLedger(redis, env.prefix);
    for (const day of DAYS) {
      await waitFor(
        async () => (await ledger.getWindow({ scheduleId: 'feedback-daily', ...day }))?.state === 'done',
        `window ${new Date(day.start).toISOString()} done`,
      );
    }
    for (const day of DAYS) {
      const record = await ledger.getWindow({ scheduleId: 'feedback-daily', ...day });
      const result = record!.result as { rows: number; archive: { key: string; manifestKey: string } };
      expect(result.rows).toBe(env.sim.feedbackCount({ start: day.start, end: day.end }));
      expect(result.archive.key).toMatch(
        new RegExp(
          `^feedback-daily/default/star-rating-v1/2026/03/2[678]/star-rating-v1_${new Date(day.start).toISOString().slice(0, 10).replace(/-/g, '')}T2[23]0000Z_.*\\.csv\\.gz$`,
        ),
      );
      const manifest = JSON.parse(await readFile(join(env.archiveDir, result.archive.manifestKey), 'utf8'));
      expect(manifest.window).toEqual({ start: new Date(day.start).toISOString(), end: new Date(day.end).toISOString() });
    }
    expect(env.smtp!.messages).toHaveLength(3);
    // A second tick finds the days done and queues nothing, so no mail can go out again.
    const second = await daemon.tick('feedback-daily');
    expect(second.watermark).toBe(DAYS[2]!.end);
    expect(second.counts?.queued ?? 0).toBe(0);
    expect(env.smtp!.messages).toHaveLength(3);
  });
});
