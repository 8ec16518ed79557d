/**
 * One purge test world: the OX simulator with one feedback row per day, a real Redis ledger
 * under its own prefix, an fs or S3 archive, a config with (or without) the guarding export
 * schedule, and services whose clock is fixed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { RedisClient } from '../../../src/redis/connection.js';
import { loadConfig } from '../../../src/config/load-config.js';
import type { ArchiveConfig, Config } from '../../../src/config/schema.js';
import { createServices, type ClosableServices } from '../../../src/services.js';
import { OxSimulator } from '../../../src/sim/ox-simulator.js';
import { deleteKeys, REDIS_URL, testPrefix } from '../../daemon/helpers.js';

export const DAY = 86_400_000;
/** Guard schedule startAt. */
export const T0 = Date.UTC(2026, 0, 1);
export const NOW = T0 + 12 * DAY;
export const GUARD = 'feedback-daily';

export interface PurgeWorld {
  sim: OxSimulator;
  config: Config;
  services: ClosableServices;
  prefix: string;
  archiveDir: string;
  archiveConfig: ArchiveConfig;
  /** Log lines the job wrote (pino JSON objects). */
  logs: Array<{ level: number; msg: string; [k: string]: unknown }>;
  close(): Promise<void>;
}

export interface WorldOptions {
  redis: RedisClient;
  /** S3 archive config; absent → fs archive in a temp dir. */
  s3?: (prefix: string) => ArchiveConfig;
  /** Configure the guarding export schedule (default true). */
  guard?: boolean;
  /** Extra schedules. */
  schedules?: Record<string, unknown>;
}

/** Rows: one per day at noon for days 0..11, plus one exactly at midnight of day 7. */
export function seedFeedback(sim: OxSimulator): void {
  const rows = Array.from({ length: 12 }, (_, i) => ({
    date: T0 + i * DAY + DAY / 2,
    contextId: 1,
    userId: i + 1,
    score: 1 + (i % 5),
    comment: `day ${i}`,
  }));
  rows.push({ date: T0 + 7 * DAY, contextId: 1, userId: 99, score: 5, comment: 'exactly at midnight of day 7' });
  sim.addFeedback(rows);
}

export async function startWorld(options: WorldOptions): Promise<PurgeWorld> {
  const sim = await OxSimulator.start();
  seedFeedback(sim);
  const prefix = testPrefix();
  const archiveDir = await mkdtemp(join(tmpdir(), 'oxbt-purge-archive-'));
  const archiveConfig: ArchiveConfig = options.s3
    ? options.s3(prefix)
    : loadConfig({
        env: {},
        overrides: { ox: { url: sim.url }, redis: { url: REDIS_URL, prefix }, archive: { kind: 'fs', dir: archiveDir } },
      }).archive;
  const schedules: Record<string, unknown> = { ...(options.schedules ?? {}) };
  if (options.guard !== false) {
    schedules[GUARD] = {
      job: 'feedback.export',
      cron: '0 2 * * *',
      tz: 'UTC',
      window: '1d',
      startAt: '2026-01-01',
      params: { contextGroup: 'default', type: 'star-rating-v1' },
    };
  }
  const config = loadConfig({
    env: {},
    overrides: {
      ox: { url: sim.url, user: 'oxadmin', password: 'secret', retry: { attempts: 2, baseDelayMs: 10 } },
      redis: { url: REDIS_URL, prefix },
      archive: archiveConfig,
      schedules,
    },
  });
  const logs: PurgeWorld['logs'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as PurgeWorld['logs'][number]);
      done();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const services = createServices(config, { log, redis: options.redis, now: () => NOW });
  return {
    sim,
    config,
    services,
    prefix,
    archiveDir,
    archiveConfig,
    logs,
    async close() {
      await services.close();
      await deleteKeys(options.redis, prefix);
      await sim.close();
      await rm(archiveDir, { recursive: true, force: true });
    },
  };
}
