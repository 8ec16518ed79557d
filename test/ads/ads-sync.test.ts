import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdsHarness, expectedStore, type CatalogShape } from './ads-fixture.js';
import { AdsSyncIncompleteError } from '../../src/ads/sync-ads.js';
import { AppliedState } from '../../src/ads/applied-state.js';
import { syncAds } from '../../src/ads/sync-ads.js';
import { silentLogger } from '../../src/log/logger.js';
import { RefusedError } from '../../src/errors.js';
import { OxError } from '../../src/ox/ox-error.js';

const LOGINS = { '42/alice': 8, '43/bob': 3 };

const CATALOG: CatalogShape = {
  resellers: {
    acme: {
      packages: {
        gold: { config: { banner: 'https://ads.example/gold.json', frequency: 3 } },
        silver: { config: { banner: 'https://ads.example/silver.json' } },
      },
    },
    default: { packages: { default: { config: { banner: 'https://ads.example/house.json' } }, basic: { config: 'off' } } },
  },
  users: [
    { contextId: 42, userId: 7, config: { banner: 'none' } },
    { contextId: 42, login: 'alice', config: { banner: 'https://ads.example/vip.json' } },
    { contextId: 43, login: 'bob', config: ['a', 'b'] },
    ...Array.from({ length: 30 }, (_, i) => ({ contextId: 50, userId: i + 1, config: { slot: i } })),
  ],
};

let h: AdsHarness;

beforeEach(async () => {
  h = await AdsHarness.start();
  for (const [key, userId] of Object.entries(LOGINS)) {
    const [contextId, login] = key.split('/');
    h.sim.addUser({ contextId: Number(contextId), userId, login: login! });
  }
});

afterEach(async () => {
  await h.close();
});

function edited(change: (c: CatalogShape) => void): CatalogShape {
  const copy = structuredClone(CATALOG);
  change(copy);
  return copy;
}

describe('ads sync against the simulator', () => {
  it('first apply creates everything: the simulator store equals the catalog', async () => {
    const file = await h.writeCatalog('catalog.yaml', CATALOG);
    const result = await h.sync({ catalog: file });

    expect(h.sim.adConfigs()).toEqual(expectedStore(CATALOG, LOGINS));
    expect(result.plan).toMatchObject({ create: 37, update: 0, delete: 0, unchanged: 0, known: 0 });
    expect(result.applied).toMatchObject({ created: 37, failed: 0, requests: 2 + 33 });
    const resellerPuts = h.adRequests().filter((r) => r.path === '/advertisement/v1/config/reseller');
    expect(resellerPuts.map((r) => r.query.reseller).sort()).toEqual(['acme', 'default']);
    expect(await h.appliedKeys()).toHaveLength(37);
  });

  it('an edited catalog sends only the changed entries; an unchanged one sends nothing', async () => {
    await h.sync({ catalog: await h.writeCatalog('v1.yaml', CATALOG) });
    h.sim.resetRequests();

    // Same content as JSON, users in another order, keys reordered: compared entry by entry
    // (the in-sync digest follows catalog order), canonical hashes see no change.
    const reorderKeys = (value: unknown): unknown =>
      value && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(
            Object.entries(value)
              .reverse()
              .map(([k, v]) => [k, reorderKeys(v)]),
          )
        : value;
    const reordered = JSON.stringify(reorderKeys({ resellers: CATALOG.resellers, users: [...CATALOG.users!].reverse() }), null, 4);
    const same = await h.sync({ catalog: await h.writeCatalog('v1-again.json', reordered) });
    expect(same.plan).toMatchObject({ unchanged: 37, toSend: 0 });
    expect(h.adRequests()).toEqual([]);

    const v2 = edited((c) => {
      c.resellers!.acme!.packages.gold!.config = { banner: 'https://ads.example/gold-2.json', frequency: 3 };
      c.users![0]!.config = { banner: 'https://ads.example/new.json' };
      c.users!.push({ contextId: 44, userId: 1, config: 'new' });
    });
    const result = await h.sync({ catalog: await h.writeCatalog('v2.yaml', v2) });
    expect(result.plan).toMatchObject({ create: 1, update: 2, delete: 0, unchanged: 35 });
    expect(
      h
        .adRequests()
        .map((r) => `${r.method} ${r.path} ${JSON.stringify(r.query)}`)
        .sort(),
    ).toEqual([
      'PUT /advertisement/v1/config/reseller {"reseller":"acme"}',
      'PUT /advertisement/v1/config/user {"contextId":"42","userId":"7"}',
      'PUT /advertisement/v1/config/user {"contextId":"44","userId":"1"}',
    ]);
    expect(h.sim.adConfigs()).toEqual(expectedStore(v2, LOGINS));
  });

  it('an unchanged re-sync trusts the in-sync marker only while the applied state still matches', async () => {
    const file = await h.writeCatalog('v1.yaml', CATALOG);
    await h.sync({ catalog: file });
    expect(await h.redis.get(`${h.prefix}:ads:in-sync`)).toMatch(/:37$/);
    h.sim.resetRequests();
    expect((await h.sync({ catalog: file })).plan).toMatchObject({ unchanged: 37, toSend: 0 });
    expect(h.adRequests()).toEqual([]);

    // Someone removed an entry's record (to force it out again): it is sent, and only it.
    await h.redis.hdel(`${h.prefix}:ads:applied`, 'user:42/7');
    const repaired = await h.sync({ catalog: file });
    expect(repaired.plan).toMatchObject({ create: 1, unchanged: 36 });
    expect(h.adRequests().map((r) => r.query)).toEqual([{ contextId: '42', userId: '7' }]);
  });

  it('removal deletes: packages via config:null in the reseller PUT, users via DELETE', async () => {
    await h.sync({ catalog: await h.writeCatalog('v1.yaml', CATALOG) });
    h.sim.resetRequests();
    const v2 = edited((c) => {
      delete c.resellers!.acme!.packages.silver;
      c.users = c.users!.filter((u) => u.login !== 'alice' && !(u.contextId === 42 && u.userId === 7));
    });
    const result = await h.sync({ catalog: await h.writeCatalog('v2.yaml', v2) });

    expect(result.applied).toMatchObject({ deleted: 3, failed: 0 });
    expect(h.sim.adConfigs()).toEqual(expectedStore(v2, LOGINS));
    expect(
      h
        .adRequests()
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
    ).toEqual(['DELETE /advertisement/v1/config/name', 'DELETE /advertisement/v1/config/user', 'PUT /advertisement/v1/config/reseller']);
    expect(await h.appliedKeys()).not.toContain('package:acme/silver');
    expect(await h.appliedKeys()).toHaveLength(34);
  });

  it('refuses a plan deleting more than maxDeleteFraction, and an empty catalog, unless allowed', async () => {
    await h.sync({ catalog: await h.writeCatalog('v1.yaml', CATALOG) });
    h.sim.resetRequests();
    const truncated = await h.writeCatalog(
      'truncated.yaml',
      edited((c) => {
        c.users = c.users!.slice(0, 5);
      }),
    );

    await expect(h.sync({ catalog: truncated })).rejects.toThrow(RefusedError);
    await expect(h.sync({ catalog: truncated })).rejects.toThrow(/would delete 28 of 37 known entries/);
    await expect(h.sync({ catalog: await h.writeCatalog('empty.yaml', '') })).rejects.toThrow(/has no entries/);
    expect(h.adRequests()).toEqual([]);
    expect(await h.appliedKeys()).toHaveLength(37);

    const allowed = await h.sync({ catalog: truncated, allowMassDelete: true });
    expect(allowed.applied).toMatchObject({ deleted: 28, failed: 0 });
    expect(Object.keys(h.sim.adConfigs().users)).toHaveLength(5);
  });

  it('a per-entry ERROR from OX is reported, not recorded, and sent again by the next run', async () => {
    const broken = edited((c) => {
      c.resellers!.acme!.packages.bad = { config: { __simulate: 'error' } };
    });
    const file = await h.writeCatalog('broken.yaml', broken);

    const first = await h.sync({ catalog: file }).catch((err: unknown) => err);
    expect(first).toBeInstanceOf(AdsSyncIncompleteError);
    const applied = (first as AdsSyncIncompleteError).result.applied!;
    expect(applied).toMatchObject({ created: 37, failed: 1 });
    expect(applied.failures).toEqual([
      expect.objectContaining({
        key: 'package:acme/bad',
        action: 'create',
        error: expect.stringMatching(/OX reported ERROR: Unable to store/),
      }),
    ]);
    expect(await h.appliedKeys()).not.toContain('package:acme/bad');
    expect(h.sim.adConfigs().packages).toHaveProperty(['acme/gold']);

    h.sim.resetRequests();
    const fixed = edited((c) => {
      c.resellers!.acme!.packages.bad = { config: { banner: 'fixed' } };
    });
    const second = await h.sync({ catalog: await h.writeCatalog('fixed.yaml', fixed) });
    expect(second.plan).toMatchObject({ create: 1, unchanged: 37 });
    expect(h.adRequests().map((r) => r.path)).toEqual(['/advertisement/v1/config/reseller']);
    expect(h.sim.adConfigs().packages['acme/bad']).toEqual({ banner: 'fixed' });
  });

  it('a user write OX rejects (400) is retried by the next run with the same catalog', async () => {
    const file = await h.writeCatalog('catalog.yaml', CATALOG);
    h.sim.setFaults({ script: [400], pathPrefix: '/advertisement/v1/config/user' });
    const first = await h.sync({ catalog: file }).catch((err: unknown) => err);
    expect((first as AdsSyncIncompleteError).result.applied).toMatchObject({ failed: 1, created: 36 });
    const failedKey = (first as AdsSyncIncompleteError).result.applied!.failures[0]!.key;
    expect(await h.appliedKeys()).not.toContain(failedKey);

    h.sim.setFaults(undefined);
    h.sim.resetRequests();
    const second = await h.sync({ catalog: file });
    expect(second.plan).toMatchObject({ create: 1, unchanged: 36 });
    expect(h.adRequests()).toHaveLength(1);
    expect(h.sim.adConfigs()).toEqual(expectedStore(CATALOG, LOGINS));
  });

  it('rides out a 503 burst through the client retries', async () => {
    h.sim.setFaults({ script: [503, 503, { status: 503, retryAfterSeconds: 0 }, 503, 503, 503], pathPrefix: '/advertisement' });
    const result = await h.sync({ catalog: await h.writeCatalog('catalog.yaml', CATALOG) });
    expect(result.applied).toMatchObject({ created: 37, failed: 0 });
    expect(h.adRequests().filter((r) => r.status === 503)).toHaveLength(6);
    expect(h.sim.adConfigs()).toEqual(expectedStore(CATALOG, LOGINS));
  });

  it('stops when OX is down (requests failing in a row after retries) instead of trying every entry', async () => {
    h.sim.setFaults({ errorRate: 1, errorStatus: 503, pathPrefix: '/advertisement' });
    const many = edited((c) => {
      c.users = Array.from({ length: 200 }, (_, i) => ({ contextId: 60, userId: i + 1, config: i }));
    });
    await expect(h.sync({ catalog: await h.writeCatalog('many.yaml', many) })).rejects.toThrow(
      /OX keeps failing: \d+ requests in a row failed/,
    );
    // 20 failing requests (+ those in flight), 5 tries each: far from 202 requests × 5 tries.
    expect(h.adRequests().length).toBeLessThanOrEqual((20 + 4) * 5);
    expect(await h.appliedKeys()).toEqual([]);
  });

  it('an interrupted sync keeps exactly what OX confirmed; the next one sends only the rest', async () => {
    const file = await h.writeCatalog('catalog.yaml', CATALOG);
    h.sim.setFaults({ latencyMs: 20, pathPrefix: '/advertisement/v1/config/user' });
    const interrupt = new AbortController();
    const run = syncAds({ catalog: file }, h.ox, {
      config: h.config,
      redis: h.redis,
      log: silentLogger(),
      signal: interrupt.signal,
      onProgress: ({ done }) => {
        if (done >= 10) interrupt.abort(new Error('shutdown'));
      },
    });
    await expect(run).rejects.toThrow(OxError);
    await expect(run).rejects.toThrow(/^OX ads\.set-user failed: aborted \(shutdown\)$/);
    const recorded = await h.appliedKeys();
    expect(recorded.length).toBeGreaterThanOrEqual(10);
    expect(recorded.length).toBeLessThan(37);
    // Every recorded entry is in OX's store (nothing recorded that OX did not confirm).
    const store = h.sim.adConfigs();
    for (const key of recorded.filter((k) => k.startsWith('user:'))) expect(store.users).toHaveProperty([key.slice('user:'.length)]);

    h.sim.setFaults(undefined);
    h.sim.resetRequests();
    const rest = await h.sync({ catalog: file });
    expect(rest.plan).toMatchObject({ create: 37 - recorded.length, unchanged: recorded.length });
    expect(h.sim.adConfigs()).toEqual(expectedStore(CATALOG, LOGINS));
  });

  it('--full re-sends every entry, which repairs drift made behind our back', async () => {
    const file = await h.writeCatalog('catalog.yaml', CATALOG);
    await h.sync({ catalog: file });
    await h.ox.deleteUserConfig({ contextId: 42, userId: 7 });
    h.sim.resetRequests();
    const result = await h.sync({ catalog: file, full: true });
    expect(result.applied).toMatchObject({ reapplied: 37, failed: 0, requests: 35 });
    expect(h.sim.adConfigs()).toEqual(expectedStore(CATALOG, LOGINS));
  });

  it('stops at the first 401 instead of failing every entry, and records nothing', async () => {
    h.sim.setCredentials({ rest: { user: 'oxadmin', password: 'rotated' } });
    await expect(h.sync({ catalog: await h.writeCatalog('catalog.yaml', CATALOG) })).rejects.toMatchObject({ status: 401 });
    expect(h.adRequests().length).toBeLessThanOrEqual(4);
    expect(await h.appliedKeys()).toEqual([]);
  });

  it('a dry run and a second sync while one holds the lock change nothing', async () => {
    const file = await h.writeCatalog('catalog.yaml', CATALOG);
    const dry = await h.sync({ catalog: file, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, plan: { create: 37 } });
    expect(dry.applied).toBeUndefined();

    const lock = await new AppliedState(h.redis, h.prefix).acquireLock();
    await expect(h.sync({ catalog: file })).rejects.toThrow(/another advertisement sync is running/);
    await lock!.release();
    expect(h.adRequests()).toEqual([]);
    expect(await h.appliedKeys()).toEqual([]);
  });
});
