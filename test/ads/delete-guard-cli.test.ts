/**
 * The ads delete guard through the real CLI against the simulator: a small catalog can be edited
 * (one package of six goes), up to ads.maxDeleteCount deletes pass whatever their share; an empty
 * catalog, one deleting every entry, or one over both the count and ads.maxDeleteFraction is
 * refused with exit 2 and no OX request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { AdsHarness, type CatalogShape } from './ads-fixture.js';

let h: AdsHarness;
let bundle: Awaited<ReturnType<typeof bundleCli>>;

beforeAll(async () => {
  [h, bundle] = await Promise.all([AdsHarness.start(), bundleCli()]);
}, 60_000);
afterAll(async () => {
  await h?.close();
  bundle?.dispose();
});

function cli(args: string[], env: Record<string, string> = {}) {
  const base = h.cliEnv();
  return runCli(bundle.entry, args, {
    OX_URL: base.OX_URL!,
    OX_USER: 'oxadmin',
    OX_PASSWORD: 'secret',
    REDIS_URL: base.REDIS_URL!,
    OXB_REDIS_PREFIX: base.OXB_REDIS_PREFIX!,
    OXB_CONFIG: '',
    ...env,
  });
}

/** A catalog of reseller `acme` with the named packages. */
function packages(names: string[]): CatalogShape {
  return { resellers: { acme: { packages: Object.fromEntries(names.map((n) => [n, { config: { banner: n } }])) } } };
}

const SIX = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];

describe('ox-batch ads plan/apply: the delete guard', () => {
  it('removing one package of six applies; an empty catalog and one deleting every entry are refused', { timeout: 60_000 }, async () => {
    const six = await h.writeCatalog('six.yaml', packages(SIX));
    const first = await cli(['ads', 'apply', '--catalog', six, '--json']);
    expect(first.code, first.stderr).toBe(0);
    expect(Object.keys(h.sim.adConfigs().packages).sort()).toEqual(SIX.map((p) => `acme/${p}`));

    const five = await h.writeCatalog('five.yaml', packages(SIX.slice(0, 5)));
    const plan = await cli(['ads', 'plan', '--catalog', five, '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout.toString())).toMatchObject({ counts: { delete: 1, known: 6 } });
    const applied = await cli(['ads', 'apply', '--catalog', five, '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(JSON.parse(applied.stdout.toString())).toMatchObject({ applied: { deleted: 1, failed: 0 } });
    expect(Object.keys(h.sim.adConfigs().packages).sort()).toEqual(SIX.slice(0, 5).map((p) => `acme/${p}`));

    h.sim.resetRequests();
    const empty = await h.writeCatalog('empty.yaml', '');
    const refusedEmpty = await cli(['ads', 'apply', '--catalog', empty]);
    expect(refusedEmpty.code).toBe(2);
    expect(refusedEmpty.stderr).toMatch(/has no entries; refusing to sync \(it would delete all 5 known entries\)/);
    const other = await h.writeCatalog('other.yaml', packages(['q1', 'q2']));
    const refusedAll = await cli(['ads', 'apply', '--catalog', other]);
    expect(refusedAll.code).toBe(2);
    expect(refusedAll.stderr).toMatch(/would delete every one of the 5 known entries/);
    const planAll = await cli(['ads', 'plan', '--catalog', other]);
    expect(planAll.code).toBe(2);
    expect(planAll.stderr).toMatch(/apply would refuse this plan: .*every one of the 5 known entries/);
    expect(h.adRequests()).toEqual([]);
    expect(Object.keys(h.sim.adConfigs().packages)).toHaveLength(5);
  });

  it(
    'on a large catalog: up to ads.maxDeleteCount deletes apply, more than it and ads.maxDeleteFraction are refused',
    { timeout: 60_000 },
    async () => {
      const names = Array.from({ length: 40 }, (_, i) => `big${i}`);
      const env = { OXB_CONFIG: '' };
      const all = await cli(['ads', 'apply', '--catalog', await h.writeCatalog('big.yaml', packages(names)), '--allow-mass-delete'], env);
      expect(all.code, all.stderr).toBe(0);
      const known = Object.keys(h.sim.adConfigs().packages).length; // the 40 and what the first test left
      expect(known).toBe(40);

      // 5 of 40 = 12.5 % > 10 %, but within the default floor of 5.
      const minusFive = await cli(
        ['ads', 'apply', '--catalog', await h.writeCatalog('minus5.yaml', packages(names.slice(5))), '--json'],
        env,
      );
      expect(minusFive.code, minusFive.stderr).toBe(0);
      expect(JSON.parse(minusFive.stdout.toString())).toMatchObject({ applied: { deleted: 5 } });

      // 6 of 35 = 17 %: over both.
      h.sim.resetRequests();
      const minusSix = await cli(['ads', 'apply', '--catalog', await h.writeCatalog('minus6.yaml', packages(names.slice(11)))], env);
      expect(minusSix.code).toBe(2);
      expect(minusSix.stderr).toMatch(
        /would delete 6 of 35 known entries \(17\.1% > ads\.maxDeleteFraction 10\.0%, and more than ads\.maxDeleteCount 5\)/,
      );
      expect(h.adRequests()).toEqual([]);
    },
  );
});
