import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { call, q } from './sim-http.js';

const AD = '/advertisement/v1/config';

describe('advertisement configs', () => {
  let sim: OxSimulator;
  beforeAll(async () => {
    sim = await OxSimulator.start();
    sim.addUser({ contextId: 5, userId: 12, login: 'anna' });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('user: PUT 201 created then 200 updated, DELETE 204 deleted then 200 nothing', async () => {
    const path = `${AD}/user${q({ contextId: 1, userId: 3 })}`;
    let res = await call(sim, path, { method: 'PUT', body: { banner: 'a' } });
    expect([res.status, res.body.length]).toEqual([201, 0]);
    res = await call(sim, path, { method: 'PUT', body: { banner: 'b' } });
    expect(res.status).toBe(200);
    expect(sim.adConfigs().users['1/3']).toEqual({ banner: 'b' });
    expect((await call(sim, path, { method: 'DELETE' })).status).toBe(204);
    expect((await call(sim, path, { method: 'DELETE' })).status).toBe(200);
    expect(sim.adConfigs().users['1/3']).toBeUndefined();
  });

  it('name: resolves the login to the user; an unknown login is a server failure with empty body', async () => {
    let res = await call(sim, `${AD}/name${q({ contextId: 5, name: 'anna' })}`, { method: 'PUT', body: [1, 2] });
    expect(res.status).toBe(201);
    expect(sim.adConfigs().users['5/12']).toEqual([1, 2]);
    res = await call(sim, `${AD}/name${q({ contextId: 5, name: 'bob' })}`, { method: 'PUT', body: {} });
    expect(res.status).toBe(500);
    expect(res.body.length).toBe(0);
    expect((await call(sim, `${AD}/name${q({ contextId: 5, name: 'anna' })}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('package: empty reseller or package names mean `default`', async () => {
    expect((await call(sim, `${AD}/package${q({ reseller: '', package: '' })}`, { method: 'PUT', body: '"plain string"' })).status).toBe(
      201,
    );
    expect(sim.adConfigs().packages['default/default']).toBe('plain string');
    expect((await call(sim, `${AD}/package${q({ reseller: 'default', package: 'default' })}`, { method: 'PUT', body: 1 })).status).toBe(
      200,
    );
    expect((await call(sim, `${AD}/package${q({ reseller: 'r', package: 'p' })}`, { method: 'DELETE' })).status).toBe(200);
  });

  it('reseller: per-entry statuses in input order, last duplicate wins, null deletes, ERROR entries', async () => {
    await call(sim, `${AD}/package${q({ reseller: 'acme', package: 'old' })}`, { method: 'PUT', body: { v: 1 } });
    await call(sim, `${AD}/package${q({ reseller: 'acme', package: 'silver' })}`, { method: 'PUT', body: { v: 1 } });
    const res = await call(sim, `${AD}/reseller${q({ reseller: 'acme' })}`, {
      method: 'PUT',
      body: [
        { package: 'gold', config: { v: 1 } },
        { package: 'silver', config: { v: 2 } },
        { package: 'old', config: null },
        { package: 'never', config: null },
        { package: 'gold', config: { v: 2 } },
        { package: 'bad', config: { __simulate: 'error' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    const entries = JSON.parse(res.text) as Array<{ status: string; error?: string }>;
    expect(entries.map((e) => e.status)).toEqual(['IGNORED', 'UPDATED', 'DELETED', 'IGNORED', 'CREATED', 'ERROR']);
    expect(entries[5]!.error).toEqual(expect.any(String));
    expect(entries.slice(0, 5).every((e) => e.error === undefined)).toBe(true);
    const packages = sim.adConfigs().packages;
    expect(packages['acme/gold']).toEqual({ v: 2 });
    expect(packages['acme/silver']).toEqual({ v: 2 });
    expect(packages['acme/old']).toBeUndefined();
    expect(packages['acme/bad']).toBeUndefined();
  });

  it('reseller: [] answers [], a body that is not an array of objects with `package` is 400 empty', async () => {
    expect((await call(sim, `${AD}/reseller${q({ reseller: 'acme' })}`, { method: 'PUT', body: [] })).text).toBe('[]');
    for (const body of [{ package: 'x' }, [1], [{ config: {} }], '"gold"', 'not json']) {
      const res = await call(sim, `${AD}/reseller${q({ reseller: 'acme' })}`, { method: 'PUT', body });
      expect(res.status).toBe(400);
      expect(res.body.length).toBe(0);
    }
  });

  it("resolves a user's effective config: own config first, else the reseller package", async () => {
    await call(sim, `${AD}/package${q({ reseller: 'eff', package: 'gold' })}`, { method: 'PUT', body: { tier: 'gold' } });
    expect(sim.effectiveAdConfig({ contextId: 8, userId: 8, reseller: 'eff', package: 'gold' })).toEqual({ tier: 'gold' });
    await call(sim, `${AD}/user${q({ contextId: 8, userId: 8 })}`, { method: 'PUT', body: { tier: 'own' } });
    expect(sim.effectiveAdConfig({ contextId: 8, userId: 8, reseller: 'eff', package: 'gold' })).toEqual({ tier: 'own' });
    expect(sim.effectiveAdConfig({ contextId: 8, userId: 9 })).toBeUndefined();
  });

  it('answers 400 for missing or bad parameters, 500 empty for a simulated server failure, 405 for GET', async () => {
    for (const path of [
      `${AD}/user${q({ contextId: 1 })}`,
      `${AD}/user${q({ contextId: 'x', userId: 1 })}`,
      `${AD}/package${q({ reseller: 'r' })}`,
      `${AD}/reseller`,
    ]) {
      const res = await call(sim, path, { method: 'PUT', body: {} });
      expect(res.status, path).toBe(400);
      expect(res.body.length).toBe(0);
    }
    const failure = await call(sim, `${AD}/user${q({ contextId: 1, userId: 9 })}`, { method: 'PUT', body: { __simulate: 'error' } });
    expect(failure.status).toBe(500);
    expect(failure.body.length).toBe(0);
    expect(sim.adConfigs().users['1/9']).toBeUndefined();
    expect((await call(sim, `${AD}/user${q({ contextId: 1, userId: 3 })}`)).status).toBe(405);
  });
});

describe('GET /admin/v1/contexts/{cid}/users/{uid}/passwd-changes', () => {
  let sim: OxSimulator;
  const admin = { user: 'ctx1admin', password: 'pw1' };
  const master = { user: 'oxadminmaster', password: 'master' };
  const path = (cid: number | string, uid: number | string, query = ''): string =>
    `/admin/v1/contexts/${cid}/users/${uid}/passwd-changes${query}`;

  beforeAll(async () => {
    sim = await OxSimulator.start({
      historySize: 10,
      credentials: { contextAdmins: { 1: admin, 2: { user: 'ctx2admin', password: 'pw2' } } },
    });
    sim.addUser({ contextId: 1, userId: 3, login: 'anna' });
    sim.addUser({ contextId: 1, userId: 4, login: 'guest', guest: true });
    sim.addUser({ contextId: 1, userId: 5, login: 'nochanges' });
    const clients = [
      'open-xchange-appsuite',
      'provisioning-api',
      'com.openexchange.ox.gui.dhtml',
      'OpenXchange.HTTPClient.OXAddIn',
      'com.example.portal',
    ];
    for (let i = 0; i < 12; i++) {
      sim.addPasswordChange({
        contextId: 1,
        userId: 3,
        date: 1_700_000_000_000 + i * 1000,
        client_id: clients[i % 5]!,
        client_address: `192.0.2.${i}`,
      });
    }
  });
  afterAll(async () => {
    await sim.close();
  });

  it('answers 404 for an unknown context or user BEFORE checking credentials', async () => {
    for (const p of [path(99, 3), path(1, 99), path('abc', 3), path(1, 'x')]) {
      const res = await call(sim, p, { auth: null });
      expect(res.status, p).toBe(404);
      expect(res.body.length).toBe(0);
    }
  });

  it('answers 401 for missing, wrong or other-context credentials; accepts the context admin and master', async () => {
    for (const auth of [
      null,
      { user: 'ctx1admin', password: 'nope' },
      { user: 'ctx2admin', password: 'pw2' },
      { user: 'oxadmin', password: 'secret' },
    ]) {
      const res = await call(sim, path(1, 3), { auth });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="OX REST"');
    }
    expect((await call(sim, path(1, 3), { auth: admin })).status).toBe(200);
    expect((await call(sim, path(1, 3), { auth: master })).status).toBe(200);
  });

  it('keeps the last 10, sorts -date by default, names only the four known clients', async () => {
    const res = await call(sim, path(1, 3), { auth: admin });
    expect(res.headers['content-type']).toBe('application/json');
    const entries = JSON.parse(res.text) as Array<{ date: number; client_id: string; client_name?: string; client_address: string }>;
    expect(entries).toHaveLength(10);
    expect(entries.map((e) => e.date)).toEqual(Array.from({ length: 10 }, (_, i) => 1_700_000_000_000 + (11 - i) * 1000));
    expect(entries[0]).toEqual({
      date: 1_700_000_011_000,
      client_id: 'provisioning-api',
      client_name: 'Provisioning API',
      client_address: '192.0.2.11',
    });
    const names = Object.fromEntries(entries.map((e) => [e.client_id, e.client_name]));
    expect(names).toEqual({
      'open-xchange-appsuite': 'App Suite UI',
      'provisioning-api': 'Provisioning API',
      'com.openexchange.ox.gui.dhtml': 'OX6 UI',
      'OpenXchange.HTTPClient.OXAddIn': 'Connector for Microsoft Outlook',
      'com.example.portal': undefined,
    });
    expect(entries.find((e) => e.client_id === 'com.example.portal')).not.toHaveProperty('client_name');
  });

  it('sorts by a comma list with - for descending, then limits', async () => {
    const get = async (query: string): Promise<Array<{ date: number; client_id: string }>> =>
      JSON.parse((await call(sim, path(1, 3, query), { auth: admin })).text) as Array<{ date: number; client_id: string }>;
    const ascending = await get(q({ sort: 'date' }));
    expect(ascending.map((e) => e.date)).toEqual([...ascending.map((e) => e.date)].sort((a, b) => a - b));
    const byClient = await get(q({ sort: 'client_id,-date' }));
    const keys = byClient.map((e) => `${e.client_id}|${String(9e15 - e.date)}`);
    expect(keys).toEqual([...keys].sort());
    expect(await get(q({ sort: '-date', limit: 3 }))).toEqual((await get('')).slice(0, 3));
    const bad = await call(sim, path(1, 3, q({ sort: 'client_name' })), { auth: admin });
    expect([bad.status, bad.body.length]).toEqual([400, 0]);
  });

  it('answers [] without changes, 404 empty for guests and when the feature is disabled', async () => {
    expect((await call(sim, path(1, 5), { auth: admin })).text).toBe('[]');
    const guest = await call(sim, path(1, 4), { auth: admin });
    expect([guest.status, guest.body.length]).toEqual([404, 0]);
    const disabled = await OxSimulator.start({ passwdChangesDisabled: true, credentials: { contextAdmins: { 1: admin } } });
    try {
      disabled.addUser({ contextId: 1, userId: 3, login: 'anna' });
      expect((await call(disabled, path(1, 3), { auth: admin })).status).toBe(404);
      expect((await call(disabled, path(1, 3), { auth: null })).status).toBe(401);
    } finally {
      await disabled.close();
    }
  });

  it('rejects master credentials when the override is disabled', async () => {
    sim.setCredentials({ master: null });
    try {
      expect((await call(sim, path(1, 3), { auth: master })).status).toBe(401);
    } finally {
      sim.setCredentials({ master });
    }
  });

  it('generates deterministic histories no longer than historySize', async () => {
    const a = await OxSimulator.start({ credentials: { contextAdmins: { 2: admin } } });
    const b = await OxSimulator.start({ credentials: { contextAdmins: { 2: admin } } });
    try {
      for (const s of [a, b])
        s.generatePasswordHistories({ contexts: 2, usersPerContext: 20, from: 1_600_000_000_000, to: 1_700_000_000_000, seed: 5 });
      let total = 0;
      for (let uid = 3; uid < 23; uid++) {
        const ra = await call(a, path(2, uid), { auth: admin });
        const rb = await call(b, path(2, uid), { auth: admin });
        expect(ra.text).toBe(rb.text);
        const list = JSON.parse(ra.text) as unknown[];
        expect(list.length).toBeLessThanOrEqual(10);
        total += list.length;
      }
      expect(total).toBeGreaterThan(20);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('reason phrases', () => {
  it('survive a non-ASCII login in the failure message', async () => {
    const sim = await OxSimulator.start();
    try {
      const res = await call(sim, `${AD}/name${q({ contextId: 1, name: 'jörg' })}`, { method: 'PUT', body: {} });
      expect([res.status, res.body.length]).toEqual([500, 0]);
    } finally {
      await sim.close();
    }
  });
});
