import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/ads/parse-catalog.js';
import { assertPlanIsSafe, planAdsSync, planCounts } from '../../src/ads/plan.js';
import { configHash } from '../../src/ads/canonical-json.js';
import { RefusedError } from '../../src/errors.js';
import { TokenBucket } from '../../src/ads/token-bucket.js';

const catalog = (users: Array<[number, number, unknown]>) => parseCatalog(JSON.stringify({
  resellers: { acme: { packages: { gold: { config: { banner: 'g' } } } } },
  users: users.map(([contextId, userId, config]) => ({ contextId, userId, config })),
}), { source: 'c.json', format: 'json' });

describe('plan', () => {
  it('sorts entries into create, update, delete and unchanged', () => {
    const applied = new Map([
      ['package:acme/gold', configHash({ banner: 'g' })],
      ['user:1/1', configHash('old')],
      ['user:1/2', configHash('same')],
      ['name:1/gone', configHash('x')],
    ]);
    const plan = planAdsSync(catalog([[1, 1, 'new'], [1, 2, 'same'], [1, 3, 'added']]), applied);
    expect(plan.creates.map((e) => e.key)).toEqual(['user:1/3']);
    expect(plan.updates.map((e) => e.key)).toEqual(['user:1/1']);
    expect(plan.unchanged.map((e) => e.key)).toEqual(['package:acme/gold', 'user:1/2']);
    expect(plan.deletes).toEqual([{ key: 'name:1/gone', target: { scope: 'name', contextId: 1, login: 'gone' } }]);
    expect(planCounts(plan)).toEqual({ desired: 4, known: 4, create: 1, update: 1, delete: 1, unchanged: 2, toSend: 3 });
    expect(planCounts(planAdsSync(catalog([[1, 1, 'new'], [1, 2, 'same'], [1, 3, 'added']]), applied, { full: true })).toSend).toBe(5);
  });

  it('refuses deleting more than maxDeleteFraction of known entries, and an empty catalog', () => {
    const applied = new Map(Array.from({ length: 20 }, (_, i) => [`user:1/${i + 1}`, configHash(i)] as [string, string]));
    const keepAllBut = (n: number) => catalog(Array.from({ length: 20 - n }, (_, i) => [1, i + 1, i] as [number, number, unknown]));

    expect(() => assertPlanIsSafe(planAdsSync(keepAllBut(2), applied), { maxDeleteFraction: 0.1 })).not.toThrow();
    expect(() => assertPlanIsSafe(planAdsSync(keepAllBut(3), applied), { maxDeleteFraction: 0.1 })).toThrow(RefusedError);
    expect(() => assertPlanIsSafe(planAdsSync(keepAllBut(3), applied), { maxDeleteFraction: 0.1 })).toThrow(/would delete 3 of 20 known entries \(15\.0% > ads\.maxDeleteFraction 10\.0%\)/);
    expect(() => assertPlanIsSafe(planAdsSync(keepAllBut(3), applied), { maxDeleteFraction: 0.1, allowMassDelete: true })).not.toThrow();

    const empty = parseCatalog('{}', { source: 'e.json', format: 'json' });
    expect(() => assertPlanIsSafe(planAdsSync(empty, applied), { maxDeleteFraction: 1 })).toThrow(/has no entries/);
    expect(() => assertPlanIsSafe(planAdsSync(empty, new Map()), { maxDeleteFraction: 1 })).toThrow(RefusedError);
    expect(() => assertPlanIsSafe(planAdsSync(empty, applied), { maxDeleteFraction: 0.1, allowMassDelete: true })).not.toThrow();
  });
});

describe('token bucket', () => {
  it('lets a burst through, then makes callers wait for tokens', async () => {
    const bucket = new TokenBucket(100, 2);
    await bucket.take();
    await bucket.take();
    // The third caller must wait (~10 ms): it resolves only after a timer, not in this microtask turn.
    let third = false;
    const pending = bucket.take().then(() => { third = true; });
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

  it('does not limit with a rate of 0', async () => {
    const bucket = new TokenBucket(0);
    for (let i = 0; i < 1000; i += 1) await bucket.take();
  });
});
