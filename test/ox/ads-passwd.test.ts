import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { OxClient } from '../../src/ox/ox-client.js';
import { failure, oxConfig, REST_PASSWORD, SIM_CREDENTIALS } from './ox-test-kit.js';

const FAIL = { __simulate: 'error' }; // the simulator fails writes of this config like a broken OX

describe('OxClient advertisement and passwd-changes against the simulator', () => {
  let sim: OxSimulator;
  let ox: OxClient;

  beforeAll(async () => {
    sim = await OxSimulator.start({
      credentials: {
        ...SIM_CREDENTIALS,
        contextAdmins: { '5': { user: 'ctx5admin', password: 'ctx5-Pa55' } },
        master: { user: 'oxadminmaster', password: 'master-Pa55' },
      },
    });
    ox = new OxClient(
      oxConfig(sim.url, {
        admin: { user: 'oxadminmaster', password: 'master-Pa55', contexts: { '5': { user: 'ctx5admin', password: 'ctx5-Pa55' } } },
      }),
    );
    sim.addUser({ contextId: 5, userId: 3, login: 'alice' });
    sim.addUser({ contextId: 6, userId: 4, login: 'bob' });
    sim.addUser({ contextId: 6, userId: 9, login: 'guest', guest: true });
    const t = Date.UTC(2025, 0, 1);
    sim.addPasswordChange({ contextId: 5, userId: 3, date: t, client_id: 'open-xchange-appsuite', client_address: '192.0.2.7' });
    sim.addPasswordChange({ contextId: 5, userId: 3, date: t + 1000, client_id: 'provisioning-api', client_address: '192.0.2.8' });
    sim.addPasswordChange({ contextId: 5, userId: 3, date: t + 2000, client_id: 'some-script', client_address: '198.51.100.1' });
    sim.addPasswordChange({ contextId: 6, userId: 4, date: t, client_id: 'open-xchange-appsuite', client_address: '192.0.2.9' });
  });
  afterAll(async () => {
    await ox.close();
    await sim.close();
  });

  it('user configs: 201 created, 200 updated, 204 deleted, 200 nothing to delete', async () => {
    expect(await ox.setUserConfig({ contextId: 1, userId: 2, config: { banner: 'a' } })).toBe('created');
    expect(sim.adConfigs().users['1/2']).toEqual({ banner: 'a' });
    expect(await ox.setUserConfig({ contextId: 1, userId: 2, config: { banner: 'b' } })).toBe('updated');
    expect(sim.adConfigs().users['1/2']).toEqual({ banner: 'b' });
    expect(await ox.deleteUserConfig({ contextId: 1, userId: 2 })).toBe('deleted');
    expect(sim.adConfigs().users['1/2']).toBeUndefined();
    expect(await ox.deleteUserConfig({ contextId: 1, userId: 2 })).toBe('nothing-to-delete');
  });

  it('name configs resolve the login to the user', async () => {
    expect(await ox.setNameConfig({ contextId: 5, name: 'alice', config: ['any', 'json'] })).toBe('created');
    expect(sim.adConfigs().users['5/3']).toEqual(['any', 'json']);
    expect(await ox.deleteNameConfig({ contextId: 5, name: 'alice' })).toBe('deleted');
    expect(await ox.deleteNameConfig({ contextId: 5, name: 'alice' })).toBe('nothing-to-delete');
  });

  it('package configs, with the same status codes', async () => {
    expect(await ox.setPackageConfig({ reseller: 'acme', package: 'gold', config: { tier: 1 } })).toBe('created');
    expect(await ox.setPackageConfig({ reseller: 'acme', package: 'gold', config: { tier: 1 } })).toBe('updated');
    expect(sim.adConfigs().packages['acme/gold']).toEqual({ tier: 1 });
    expect(await ox.deletePackageConfig({ reseller: 'acme', package: 'gold' })).toBe('deleted');
    expect(await ox.deletePackageConfig({ reseller: 'acme', package: 'gold' })).toBe('nothing-to-delete');
  });

  it('an advertisement server failure is a 500 with an empty body, retried, then reported', async () => {
    sim.resetRequests();
    const err = await failure(ox.setUserConfig({ contextId: 1, userId: 7, config: FAIL }));
    expect(err).toMatchObject({ operation: 'ads.set-user', status: 500, kind: 'http', retryable: true, attempts: 3 });
    expect(err.oxCode).toBeUndefined();
    expect(err.errorDesc).toBeUndefined();
    // OX puts the message only into the HTTP reason phrase: it must show up
    expect(err.message).toContain('HTTP 500 Simulated advertisement failure');
    expect(sim.requests.filter((r) => r.path === '/advertisement/v1/config/user')).toHaveLength(3);
  });

  it('reseller: per-entry statuses in input order, an ERROR entry reported inside a 200', async () => {
    await ox.setPackageConfig({ reseller: 'r1', package: 'old', config: { x: 1 } });
    const results = await ox.setResellerConfigs({
      reseller: 'r1',
      entries: [
        { package: 'gold', config: { a: 1 } },
        { package: 'old', config: null },
        { package: 'broken', config: FAIL },
        { package: 'dup', config: { v: 1 } },
        { package: 'dup', config: { v: 2 } },
      ],
    });
    expect(results.map((r) => r.status)).toEqual(['CREATED', 'DELETED', 'ERROR', 'IGNORED', 'CREATED']);
    expect(results[2]!.error).toMatch(/broken/);
    expect(sim.adConfigs().packages['r1/dup']).toEqual({ v: 2 });
    expect(await ox.setResellerConfigs({ reseller: 'r1', entries: [] })).toEqual([]);
  });

  it('passwd-changes with the context admin of that context', async () => {
    sim.resetRequests();
    const changes = await ox.passwordChanges({ contextId: 5, userId: 3 });
    expect(changes.map((c) => c.client_id)).toEqual(['some-script', 'provisioning-api', 'open-xchange-appsuite']);
    expect(changes[2]).toEqual({
      date: Date.UTC(2025, 0, 1),
      client_id: 'open-xchange-appsuite',
      client_name: 'App Suite UI',
      client_address: '192.0.2.7',
    });
    expect(changes[0]!.client_name).toBeUndefined();
    expect(sim.requests.at(-1)!.authUser).toBe('ctx5admin');
    const limited = await ox.passwordChanges({ contextId: 5, userId: 3, sort: 'date', limit: 2 });
    expect(limited.map((c) => c.date)).toEqual([Date.UTC(2025, 0, 1), Date.UTC(2025, 0, 1) + 1000]);
  });

  it('passwd-changes falls back to the master admin for contexts without their own credentials', async () => {
    const changes = await ox.passwordChanges({ contextId: 6, userId: 4 });
    expect(changes).toHaveLength(1);
    expect(sim.requests.at(-1)!.authUser).toBe('oxadminmaster');
  });

  it('passwd-changes: 404 for an unknown user or a guest, 401 for bad admin credentials, 400 for a bad sort', async () => {
    const unknown = await failure(ox.passwordChanges({ contextId: 5, userId: 999 }));
    expect(unknown).toMatchObject({ operation: 'passwd-changes', status: 404, retryable: false });
    expect(unknown.message).toMatch(/not found/);
    expect(await failure(ox.passwordChanges({ contextId: 6, userId: 9 }))).toMatchObject({ status: 404 });
    expect(await failure(ox.passwordChanges({ contextId: 5, userId: 3, sort: 'nonsense' }))).toMatchObject({
      status: 400,
      retryable: false,
    });

    const wrong = new OxClient(oxConfig(sim.url, { admin: { contexts: { '5': { user: 'ctx5admin', password: 'wrong-Pa55' } } } }));
    try {
      const err = await failure(wrong.passwordChanges({ contextId: 5, userId: 3 }));
      expect(err).toMatchObject({ status: 401, retryable: false });
      expect(err.message).toContain('ox.admin.contexts.5');
      expect(err.message).not.toContain('wrong-Pa55');
      expect(err.message).not.toContain(REST_PASSWORD);
    } finally {
      await wrong.close();
    }
  });
});
