/**
 * `ledger.keepDone` and the purge guard: trimmed export windows stay counted as done (the
 * watermark does not move back), the guard's walk begins at the oldest window the ledger keeps,
 * and the purge never deletes feedback of a window whose archive it did not verify: while OX
 * still holds feedback of trimmed windows, it refuses. The real feedback.purge job against the
 * OX simulator, a real fs archive and the Redis ledger; then a seeded fast-check run over
 * sequences of exports, damaged archives, trims and purges.
 */
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { feedbackPurge } from '../../jobs/feedback-purge.js';
import type { RedisLedger } from '../../src/ledger/redis-ledger.js';
import type { PurgeResult } from '../../src/purge/purge-report.js';
import { executeManualAttempt } from '../../src/queue/attempt.js';
import type { RedisClient } from '../../src/redis/connection.js';
import { plainRedis } from '../daemon/helpers.js';
import { archiveWindow, removeObject } from './helpers/archived-windows.js';
import { DAY, GUARD, startWorld, T0, type PurgeWorld } from './helpers/purge-world.js';

const day = (i: number) => ({ start: T0 + i * DAY, end: T0 + (i + 1) * DAY });

let redis: RedisClient;
beforeAll(() => {
  redis = plainRedis();
});
afterAll(async () => {
  await redis.quit();
});

describe('feedback.purge after ledger.keepDone trimmed old export windows', () => {
  let world: PurgeWorld;
  afterEach(async () => {
    await world?.close();
  });
  const ledgerOf = () => world.services.ledger as RedisLedger;
  const purge = (retention: string) =>
    executeManualAttempt({ kind: feedbackPurge, services: world.services, scheduleId: 'feedback-purge', params: { retention } });
  const archive = async (days: number) => {
    const keys: string[] = [];
    for (let i = 0; i < days; i += 1)
      keys.push((await archiveWindow(ledgerOf(), world.services.archive, GUARD, day(i), `"Date";"Score"\r"day ${i}";"1"\r`)).key);
    return keys;
  };

  it('deletes only verified windows, from the oldest kept one; the watermark does not move back', async () => {
    world = await startWorld({ redis });
    const keys = await archive(10);
    expect((await purge('5d')).status).toBe('done'); // deletes days 0..6
    const watermark = await ledgerOf().watermark(GUARD, T0);
    expect(watermark).toBe(day(9).end);

    expect(await ledgerOf().trimDone(GUARD, T0, day(4).end)).toBe(5);
    expect(await ledgerOf().watermark(GUARD, T0)).toBe(watermark);
    await removeObject(world.services.archive, keys[8]!);

    const outcome = await purge('2d');
    expect(outcome.status, outcome.reason).toBe('done');
    const result = outcome.result as PurgeResult;
    // The walk begins at day 5, the oldest window kept; day 8's archive is gone: the verified
    // watermark stops there. Counting before the DELETE then stops it at day 7, whose archive
    // holds one row where OX holds two (the row exactly at midnight).
    expect(result.guard).toMatchObject({
      startAt: new Date(day(5).start).toISOString(),
      watermark: new Date(day(8).start).toISOString(),
      trimmed: { from: new Date(T0).toISOString(), through: new Date(day(5).start).toISOString(), windows: 5 },
    });
    expect(result).toMatchObject({ mode: 'verified', limitedBy: 'archive', cutoffMs: day(7).start });
    expect(world.sim.feedbackCount({ end: day(7).start })).toBe(0);
    expect(world.sim.feedbackCount({ start: day(7).start })).toBe(6);
    expect(await ledgerOf().watermark(GUARD, T0)).toBe(watermark);
  });

  it('refuses while OX still holds feedback of trimmed windows: their archive can no longer be re-verified', async () => {
    world = await startWorld({ redis });
    await archive(10);
    expect(await ledgerOf().trimDone(GUARD, T0, day(4).end)).toBe(5);
    const outcome = await purge('5d');
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(
      /refused: OX holds feedback dated before 2026-01-06T00:00:00\.000Z, where the windows the ledger keeps for guard schedule feedback-daily begin: the older ones were trimmed \(ledger\.keepDone\)/,
    );
    expect(world.sim.feedbackCount()).toBe(13);
    expect(world.sim.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
  });
});

describe('trimming never moves the watermark nor lets the purge cutoff pass an unverified window', () => {
  it('holds over seeded random sequences of exports, damaged archives, trims and purges', { timeout: 120_000 }, async () => {
    const seed = Number(process.env.OXB_FC_SEED ?? Date.now() % 1_000_000);
    // `next` exports the oldest day not exported yet (schedules run in order; backfills do not).
    const action = fc.oneof(
      { weight: 4, arbitrary: fc.record({ t: fc.constant('next' as const), d: fc.integer({ min: 0, max: 0 }) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('export' as const), d: fc.integer({ min: 0, max: 11 }) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('damage' as const), d: fc.integer({ min: 0, max: 11 }) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('trim' as const), d: fc.integer({ min: 0, max: 12 }) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('purge' as const), d: fc.integer({ min: 1, max: 12 }) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 3, maxLength: 20 }), async (actions) => {
        const world = await startWorld({ redis });
        const ledger = world.services.ledger as RedisLedger;
        const exported = new Map<number, { key: string; intact: boolean }>();
        try {
          for (const a of actions) {
            if (a.t === 'next') a.d = Array.from({ length: 12 }, (_, d) => d).find((d) => !exported.has(d)) ?? 0;
            if ((a.t === 'export' || a.t === 'next') && !exported.has(a.d)) {
              const { key } = await archiveWindow(ledger, world.services.archive, GUARD, day(a.d), `"Date";"Score"\r"day ${a.d}";"1"\r`);
              exported.set(a.d, { key, intact: true });
            } else if (a.t === 'damage' && exported.get(a.d)?.intact) {
              await removeObject(world.services.archive, exported.get(a.d)!.key);
              exported.get(a.d)!.intact = false;
            } else if (a.t === 'trim') {
              const before = await ledger.watermark(GUARD, T0);
              await ledger.trimDone(GUARD, T0, day(a.d).start);
              expect(await ledger.watermark(GUARD, T0)).toBe(before);
            } else if (a.t === 'purge') {
              const rowsBefore = Array.from({ length: 12 }, (_, d) => world.sim.feedbackCount(day(d)));
              await executeManualAttempt({
                kind: feedbackPurge,
                services: world.services,
                scheduleId: 'feedback-purge',
                params: { retention: `${a.d}d` },
              });
              for (let d = 0; d < 12; d += 1) {
                const deleted = rowsBefore[d]! - world.sim.feedbackCount(day(d));
                if (deleted > 0) expect(exported.get(d)?.intact, `day ${d}: feedback deleted without a verified archive`).toBe(true);
              }
            }
          }
        } finally {
          await world.close();
        }
      }),
      {
        seed,
        numRuns: 30,
        reporter: (out) => {
          if (out.failed)
            throw new Error(`replay with OXB_FC_SEED=${seed}: ${JSON.stringify(out.counterexample)} ${String(out.errorInstance)}`);
        },
      },
    );
  });
});
