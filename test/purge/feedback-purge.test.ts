import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/connection.js';
import { executeManualAttempt } from '../../src/queue/attempt.js';
import { feedbackPurge } from '../../jobs/feedback-purge.js';
import { feedbackExport } from '../../jobs/feedback-export.js';
import type { PurgeResult } from '../../src/purge/purge-report.js';
import { plainRedis } from '../daemon/helpers.js';
import { startS3, type TestS3 } from '../delivery/helpers/s3-server.js';
import { archiveWindow, removeObject } from './helpers/archived-windows.js';
import { DAY, GUARD, NOW, startWorld, T0, type PurgeWorld } from './helpers/purge-world.js';

const day = (i: number) => ({ start: T0 + i * DAY, end: T0 + (i + 1) * DAY });
/** retention 5d at NOW = T0 + 12d: the retention cutoff is midnight of day 7. */
const RETENTION_CUTOFF = NOW - 5 * DAY;

let redis: RedisClient;
let s3: TestS3;
beforeAll(async () => {
  redis = plainRedis();
  s3 = await startS3('oxbt-purge-job');
});
afterAll(async () => {
  await s3.close();
  redis.disconnect();
});

describe.each(['fs', 's3'] as const)('feedback.purge with a %s archive', (kind) => {
  let world: PurgeWorld;
  let keys: string[];

  async function setUp(options: { guard?: boolean; archivedDays?: number } = {}): Promise<PurgeWorld> {
    world = await startWorld({ redis, guard: options.guard, s3: kind === 's3' ? (prefix) => s3.archiveConfig({ prefix }) : undefined });
    keys = [];
    for (let i = 0; i < (options.archivedDays ?? 10); i += 1) {
      keys.push(
        (await archiveWindow(world.services.ledger, world.services.archive, GUARD, day(i), `"Date";"Score"\r"day ${i}";"1"\r`)).key,
      );
    }
    return world;
  }
  afterEach(async () => {
    await world?.close();
  });

  const purge = (params: Record<string, unknown> = {}, options: { dryRun?: boolean } = {}) =>
    executeManualAttempt({
      kind: feedbackPurge,
      services: world.services,
      scheduleId: 'feedback-purge',
      params: { retention: '5d', ...params },
      ...options,
    });
  const deletes = () => world.sim.requests.filter((r) => r.method === 'DELETE');

  it('deletes by retention when the archive covers it; the row exactly at the cutoff survives; a rerun is harmless', async () => {
    await setUp();
    expect(world.sim.feedbackCount()).toBe(13);
    const outcome = await purge();
    expect(outcome.status).toBe('done');
    const result = outcome.result as PurgeResult;
    expect(result).toMatchObject({
      mode: 'verified',
      limitedBy: 'retention',
      cutoffMs: RETENTION_CUTOFF,
      cutoff: '2026-01-08T00:00:00.000Z',
      ox: { successful: true },
    });
    expect(result.guard).toMatchObject({ scheduleId: GUARD, windows: 7, reread: 7, watermark: '2026-01-08T00:00:00.000Z' });
    expect(world.sim.feedbackCount({ end: RETENTION_CUTOFF })).toBe(0);
    expect(world.sim.feedbackCount({ start: RETENTION_CUTOFF })).toBe(6); // days 7..11 and the midnight row
    expect(world.sim.feedbackCount({ start: RETENTION_CUTOFF, end: RETENTION_CUTOFF + 1 })).toBe(1);
    expect(deletes()).toHaveLength(1);
    // From the guard's startAt (OX's start bound is exclusive) to the cutoff.
    expect(deletes()[0]!.query).toEqual({ start: String(T0 - 1), end: String(RETENTION_CUTOFF) });

    const [recorded] = await world.services.ledger.lastAttempts('feedback-purge', 1);
    expect(recorded).toMatchObject({
      state: 'done',
      result: { cutoff: '2026-01-08T00:00:00.000Z', ox: { successful: true }, guard: { scheduleId: GUARD } },
    });
    const line = world.logs.find((l) => l.msg.startsWith('feedback.purge default/star-rating-v1'));
    expect(line?.msg).toContain('deleted feedback dated before 2026-01-08T00:00:00.000Z');

    const again = await purge();
    expect(again.status).toBe('done');
    expect(again.result).toMatchObject({ cutoffMs: RETENTION_CUTOFF, guard: { reread: 0, alreadyPurged: 7 } });
    expect(world.sim.feedbackCount()).toBe(6);
  });

  it('trusts windows archived by the real feedback.export job, and stops where one was damaged', async () => {
    await setUp({ archivedDays: 0 });
    for (let i = 0; i < 10; i += 1) {
      const exported = await executeManualAttempt({
        kind: feedbackExport,
        services: world.services,
        scheduleId: GUARD,
        window: day(i),
        params: { format: 'csv' },
      });
      expect(exported.status, exported.reason).toBe('done');
    }
    const windows = await world.services.ledger.listWindows(GUARD);
    const damaged = (windows[4]!.result as { archive: { key: string } }).archive.key;
    await removeObject(world.services.archive, damaged, world.archiveConfig);
    const outcome = await purge();
    expect(outcome.status, outcome.reason).toBe('done');
    expect(outcome.result).toMatchObject({
      mode: 'verified',
      limitedBy: 'archive',
      cutoffMs: T0 + 4 * DAY,
      guard: { windows: 4, reread: 4 },
    });
    expect(world.sim.feedbackCount({ end: T0 + 4 * DAY })).toBe(0);
    expect(world.sim.feedbackCount({ start: T0 + 4 * DAY })).toBe(9);
  });

  it('never trusts windows the guard schedule archived for another feed (its type was switched): nothing of this feed is deleted', async () => {
    await setUp({ archivedDays: 0 });
    // The same schedule id exported nps-v1 for days 0..4, then was switched to star-rating-v1.
    for (let i = 0; i < 10; i += 1) {
      const exported = await executeManualAttempt({
        kind: feedbackExport,
        services: world.services,
        scheduleId: GUARD,
        window: day(i),
        params: { type: i < 5 ? 'nps-v1' : 'star-rating-v1' },
      });
      expect(exported.status, exported.reason).toBe('done');
    }
    const outcome = await purge();
    expect(outcome).toMatchObject({ status: 'failed', exitCode: 2 });
    expect(outcome.reason).toMatch(/nps-v1/);
    expect(deletes()).toHaveLength(0);
    expect(world.sim.feedbackCount()).toBe(13);
  });

  it('stops before an export window that failed: every row from there on stays', async () => {
    await setUp();
    await world.services.ledger.markFailed({ scheduleId: GUARD, ...day(3) }, 'feedback.export', 'OX 503 after 5 attempts');
    const outcome = await purge();
    expect(outcome.result).toMatchObject({ mode: 'verified', limitedBy: 'archive', cutoffMs: T0 + 3 * DAY });
    expect((outcome.result as PurgeResult).guard!.stoppedAt!.reason).toContain('failed: OX 503');
    expect(world.sim.feedbackCount({ end: T0 + 3 * DAY })).toBe(0);
    expect(world.sim.feedbackCount({ start: T0 + 3 * DAY })).toBe(10);
    expect(world.logs.some((l) => l.level === 40 && l.msg.includes('held back by the verified archive'))).toBe(true);
  });

  it('stops before a window whose archive object was corrupted or removed afterwards', async () => {
    await setUp();
    await world.services.archive.putJson(keys[5]!, { not: 'the export' });
    let outcome = await purge();
    expect(outcome.result).toMatchObject({ limitedBy: 'archive', cutoffMs: T0 + 5 * DAY });
    expect(world.sim.feedbackCount({ start: T0 + 5 * DAY })).toBe(8);

    await removeObject(world.services.archive, `${keys[2]!}.manifest.json`, world.archiveConfig);
    outcome = await purge({ reverifyAll: true });
    expect(outcome.result).toMatchObject({ limitedBy: 'archive', cutoffMs: T0 + 2 * DAY });
    expect((outcome.result as PurgeResult).guard!.stoppedAt!.reason).toMatch(/manifest .* missing/);
  });

  it('dry run deletes nothing and says what would go', async () => {
    await setUp();
    const outcome = await purge({}, { dryRun: true });
    expect(outcome.result).toMatchObject({ dryRun: true, cutoffMs: RETENTION_CUTOFF, wouldDeleteRows: 7 });
    expect((outcome.result as PurgeResult).ox).toBeUndefined();
    expect(deletes()).toHaveLength(0);
    expect(world.sim.feedbackCount()).toBe(13);
    expect(world.logs.some((l) => l.msg.includes('DRY RUN, nothing deleted: would delete 7 feedback rows dated before 2026-01-08'))).toBe(
      true,
    );
    const byParam = await purge({ dryRun: true });
    expect(byParam.result).toMatchObject({ dryRun: true });
    expect(world.sim.feedbackCount()).toBe(13);
  });

  it('refuses without a guard schedule or with an empty archive, and deletes nothing', async () => {
    await setUp({ guard: false, archivedDays: 0 });
    let outcome = await purge();
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/RefusedError: .*refused: no feedback\.export schedule archives default\/star-rating-v1/);
    const [recorded] = await world.services.ledger.lastAttempts('feedback-purge', 1);
    expect(recorded).toMatchObject({ state: 'failed' });
    expect(deletes()).toHaveLength(0);
    await world.close();

    await setUp({ archivedDays: 0 });
    outcome = await purge();
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/has no verified window/);
    expect(deletes()).toHaveLength(0);
    expect(world.sim.feedbackCount()).toBe(13);
  });

  it('does nothing (and does not refuse) while nothing is older than the retention', async () => {
    await setUp({ archivedDays: 0 });
    const outcome = await purge({ retention: '30d' });
    expect(outcome.status, outcome.reason).toBe('done');
    expect(outcome.result).toMatchObject({ nothingToDelete: true, mode: 'verified' });
    expect(deletes()).toHaveLength(0);
    expect(world.sim.feedbackCount()).toBe(13);
    expect(world.logs.some((l) => l.msg.includes('nothing to delete yet'))).toBe(true);
  });

  it('refuses when OX holds feedback from before the guard startAt', async () => {
    await setUp();
    world.sim.addFeedback([{ date: T0 - DAY, contextId: 1, userId: 1, score: 3 }]);
    const outcome = await purge();
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/before 2026-01-01T00:00:00.000Z, the startAt of guard schedule feedback-daily/);
    expect(world.sim.feedbackCount()).toBe(14);
  });

  it('allowUnarchived purges by retention alone and says so loudly in log and ledger', async () => {
    await setUp({ guard: false, archivedDays: 0 });
    const outcome = await purge({ allowUnarchived: true });
    expect(outcome.status).toBe('done');
    expect(outcome.result).toMatchObject({ mode: 'unarchived', cutoffMs: RETENTION_CUTOFF });
    expect(world.sim.feedbackCount()).toBe(6);
    const warn = world.logs.find((l) => l.level === 40 && l.msg.includes('UNARCHIVED PURGE'));
    expect(warn).toBeDefined();
    const [recorded] = await world.services.ledger.lastAttempts('feedback-purge', 1);
    expect((recorded!.result as PurgeResult).warnings[0]).toMatch(/^UNARCHIVED PURGE: allowUnarchived is set/);
  });
});
