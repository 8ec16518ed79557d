import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeManualAttempt } from '../../src/queue/attempt.js';
import { jobKinds } from '../../jobs/index.js';
import { createServices, type ClosableServices } from '../../src/services.js';
import { silentLogger } from '../../src/log/logger.js';
import { AdsHarness } from './ads-fixture.js';

let h: AdsHarness;
let services: ClosableServices;

beforeEach(async () => {
  h = await AdsHarness.start();
  services = createServices(h.config, { log: silentLogger(), redis: h.redis });
});
afterEach(async () => {
  await services.close();
  await h.close();
});

const CATALOG = {
  resellers: { acme: { packages: { gold: { config: { banner: 'g' } } } } },
  users: [
    { contextId: 42, userId: 7, config: { banner: 'none' } },
    { contextId: 42, userId: 8, config: { __simulate: 'error' } },
  ],
};

describe('ads.sync job', () => {
  it('applies the catalog named in params, records the run, and a dry run sends nothing', async () => {
    const catalog = await h.writeCatalog('catalog.json', { ...CATALOG, users: CATALOG.users.slice(0, 1) });

    const dry = await executeManualAttempt({
      kind: 'ads.sync',
      kinds: jobKinds,
      services,
      scheduleId: 'ads-hourly',
      params: { catalog, dryRun: true },
    });
    expect(dry).toMatchObject({ status: 'done', result: { dryRun: true, plan: { create: 2 } } });
    expect(h.adRequests()).toEqual([]);

    const run = await executeManualAttempt({ kind: 'ads.sync', kinds: jobKinds, services, scheduleId: 'ads-hourly', params: { catalog } });
    expect(run).toMatchObject({ status: 'done', result: { applied: { created: 2, failed: 0 } } });
    expect(h.sim.adConfigs()).toEqual({ packages: { 'acme/gold': { banner: 'g' } }, users: { '42/7': { banner: 'none' } } });
    const [last] = await services.ledger.lastAttempts('ads-hourly', 1);
    expect(last).toMatchObject({ job: 'ads.sync', state: 'done', result: { plan: { create: 2 } } });
  });

  it('fails the run naming the entries OX failed (a retryable failure: the next run sends them again)', async () => {
    const catalog = await h.writeCatalog('catalog.yaml', CATALOG);
    const run = await executeManualAttempt({ kind: 'ads.sync', kinds: jobKinds, services, scheduleId: 'ads-hourly', params: { catalog } });
    expect(run.status).toBe('failed');
    expect(run.reason).toMatch(/1 of 3 entries failed .*user:42\/8/);
    const [last] = await services.ledger.lastAttempts('ads-hourly', 1);
    expect(last).toMatchObject({ state: 'failed', error: expect.stringMatching(/user:42\/8/) });
    expect(await h.appliedKeys()).toEqual(['package:acme/gold', 'user:42/7']);
  });

  it('rejects bad params before touching anything', async () => {
    await expect(executeManualAttempt({ kind: 'ads.sync', kinds: jobKinds, services, params: { full: true } })).rejects.toThrow(/catalog/);
    // A misspelt safety switch must not be ignored silently.
    await expect(
      executeManualAttempt({ kind: 'ads.sync', kinds: jobKinds, services, params: { catalog: 'c.yaml', alowMassDelete: true } }),
    ).rejects.toThrow(/alowMassDelete/);
    expect(h.adRequests()).toEqual([]);
  });
});
