import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/ads/parse-catalog.js';
import { assertPlanIsSafe, planAdsSync, planCounts } from '../../src/ads/plan.js';
import { configHash } from '../../src/ads/canonical-json.js';
import { RefusedError } from '../../src/errors.js';
import { TokenBucket } from '../../src/ads/token-bucket.js';

const catalog = (users: Array<[number, number, unknown]>) =>
  parseCatalog(
    JSON.stringify({
      resellers: { acme: { packages: { gold: { config: { banner: 'g' } } } } },
      users: users.map(([contextId, userId, config]) => ({ contextId, userId, config })),
    }),
    { source: 'c.json', format: 'json' },
  );

describe('plan', () => {
  it('sorts entries into create, update, delete and unchanged', () => {
    const applied = new Map([
      ['package:acme/gold', configHash({ banner: 'g' })],
      ['user:1/1', configHash('old')],
      ['user:1/2', configHash('same')],
      ['name:1/gone', configHash('x')],
    ]);
    const plan = planAdsSync(
      catalog([
        [1, 1, 'new'],
        [1, 2, 'same'],
        [1, 3, 'added'],
      ]),
      applied,
    );
    expect(plan.creates.map((e) => e.key)).toEqual(['user:1/3']);
    expect(plan.updates.map((e) => e.key)).toEqual(['user:1/1']);
    expect(plan.unchanged.map((e) => e.key)).toEqual(['package:acme/gold', 'user:1/2']);
    expect(plan.deletes).toEqual([{ key: 'name:1/gone', target: { scope: 'name', contextId: 1, login: 'gone' } }]);
    expect(planCounts(plan)).toEqual({ desired: 4, known: 4, create: 1, update: 1, delete: 1, unchanged: 2, toSend: 3 });
    expect(
      planCounts(
        planAdsSync(
          catalog([
            [1, 1, 'new'],
            [1, 2, 'same'],
            [1, 3, 'added'],
          ]),
          applied,
          { full: true },
        ),
      ).toSend,
    ).toBe(5);
  });

  it('refuses deleting more than maxDeleteCount and maxDeleteFraction of known entries, every entry, and an empty catalog', () => {
    const applied = new Map(Array.from({ length: 20 }, (_, i) => [`user:1/${i + 1}`, configHash(i)] as [string, string]));
    const keepAllBut = (n: number) => catalog(Array.from({ length: 20 - n }, (_, i) => [1, i + 1, i] as [number, number, unknown]));
    const guard = { maxDeleteFraction: 0.1, maxDeleteCount: 0 };

    expect(() => assertPlanIsSafe(planAdsSync(keepAllBut(2), applied), guard)).not.toThrow();
    expect(() => assertPlanIsSafe(planAdsSync(keepAllBut(3), applied), guard)).toThrow(RefusedError);
    expect(() => assertPlanIsSafe(planAdsSync(keepAllBut(3), applied), guard)).toThrow(
      /would delete 3 of 20 known entries \(15\.0% > ads\.maxDeleteFraction 10\.0%, and more than ads\.maxDeleteCount 0\)/,
    );
    expect(() => assertPlanIsSafe(planAdsSync(keepAllBut(3), applied), { ...guard, allowMassDelete: true })).not.toThrow();
    // The floor: up to maxDeleteCount deletes pass whatever their share, one more does not.
    expect(() => assertPlanIsSafe(planAdsSync(keepAllBut(5), applied), { ...guard, maxDeleteCount: 5 })).not.toThrow();
    expect(() => assertPlanIsSafe(planAdsSync(keepAllBut(6), applied), { ...guard, maxDeleteCount: 5 })).toThrow(/would delete 6 of 20/);

    const empty = parseCatalog('{}', { source: 'e.json', format: 'json' });
    expect(() => assertPlanIsSafe(planAdsSync(empty, applied), { maxDeleteFraction: 1, maxDeleteCount: 100 })).toThrow(/has no entries/);
    expect(() => assertPlanIsSafe(planAdsSync(empty, new Map()), { maxDeleteFraction: 1, maxDeleteCount: 100 })).toThrow(RefusedError);
    expect(() => assertPlanIsSafe(planAdsSync(empty, applied), { ...guard, allowMassDelete: true })).not.toThrow();
    // A catalog of entirely new keys deletes every known one: refused even under the floor.
    const replaced = catalog([[2, 1, 'x']]);
    const few = new Map([
      ['user:1/1', configHash(1)],
      ['user:1/2', configHash(2)],
    ]);
    expect(() => assertPlanIsSafe(planAdsSync(replaced, few), { maxDeleteFraction: 1, maxDeleteCount: 100 })).toThrow(
      /would delete every one of the 2 known entries/,
    );
  });

  it('the delete guard, for any catalog and applied state (property, seeded)', () => {
    const userCatalog = (ids: number[]) => catalog(ids.map((i) => [1, i, i] as [number, number, unknown]));
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 40 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 40 }),
        fc.integer({ min: 0, max: 10 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (knownIds, desiredIds, maxDeleteCount, maxDeleteFraction) => {
          const applied = new Map(knownIds.map((i) => [`user:1/${i}`, configHash(-1)] as [string, string]));
          const plan = planAdsSync(userCatalog(desiredIds), applied);
          const { delete: deletes, known, desired } = planCounts(plan);
          let refused: unknown;
          try {
            assertPlanIsSafe(plan, { maxDeleteCount, maxDeleteFraction });
          } catch (err) {
            refused = err;
          }
          if (desired === 0 || (known > 0 && deletes === known)) expect(refused).toBeInstanceOf(RefusedError);
          else if (deletes <= maxDeleteCount || deletes <= maxDeleteFraction * known) expect(refused).toBeUndefined();
          else expect(refused).toBeInstanceOf(RefusedError);
          expect(() => assertPlanIsSafe(plan, { maxDeleteCount, maxDeleteFraction, allowMassDelete: true })).not.toThrow();
        },
      ),
      { seed: 1202, numRuns: 400 },
    );
  });
});

describe('token bucket', () => {
  it('lets a burst through, then makes callers wait for tokens', async () => {
    const bucket = new TokenBucket(100, 2);
    await bucket.take();
    await bucket.take();
    // The third caller must wait (~10 ms): it resolves only after a timer, not in this microtask turn.
    let third = false;
    const pending = bucket.take().then(() => {
      third = true;
    });
    await Promise.resolve();
    expect(third).toBe(false);
    await pending;
    expect(third).toBe(true);
  });

  it('stops waiting when aborted', async () => {
    const bucket = new TokenBucket(1, 1);
    await bucket.take();
    const controller = new AbortController();
    const waiting = bucket.take(controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });

  it('does not limit with a rate of 0: every take resolves at once, without a timer', async () => {
    const bucket = new TokenBucket(0);
    // A take that had to sleep would resolve only after a timer; these all resolve before one fires.
    let timerFired = false;
    const timer = setTimeout(() => {
      timerFired = true;
    }, 0);
    let taken = 0;
    for (let i = 0; i < 1000; i += 1) {
      await bucket.take();
      taken += 1;
    }
    expect(taken).toBe(1000);
    expect(timerFired).toBe(false);
    clearTimeout(timer);
    // The same count at a real rate does wait: the check above can fail.
    const limited = new TokenBucket(1000, 1);
    let limitedTimer = false;
    const other = setTimeout(() => {
      limitedTimer = true;
    }, 0);
    for (let i = 0; i < 3; i += 1) await limited.take();
    expect(limitedTimer).toBe(true);
    clearTimeout(other);
  });
});
