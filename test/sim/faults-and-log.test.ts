import { errors, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { basic, call, csvRows, EXPORT, FEEDBACK, q, REST } from './sim-http.js';

/** The simulator dropped the connection: undici's SocketError, not any failure. */
async function expectSocketClosed(pending: Promise<unknown>): Promise<void> {
  await expect(pending).rejects.toThrow(errors.SocketError);
  await expect(pending).rejects.toMatchObject({ code: 'UND_ERR_SOCKET', message: 'other side closed' });
}

describe('fault injection', () => {
  let sim: OxSimulator;
  let fullCsv: Buffer;
  beforeAll(async () => {
    sim = await OxSimulator.start();
    sim.generateFeedback({ rows: 2000, from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 2), seed: 11 });
    fullCsv = (await call(sim, EXPORT)).body;
  });
  afterEach(() => {
    sim.setFaults(undefined);
  });
  afterAll(async () => {
    await sim.close();
  });

  it('answers a script in order, with Retry-After on 429/503, then behaves normally', async () => {
    sim.setFaults({ script: [{ status: 503, retryAfterSeconds: 2 }, 'ok', 429, 500, 502], retryAfterSeconds: 7 });
    const statuses: Array<[number, unknown]> = [];
    for (let i = 0; i < 6; i++) {
      const res = await call(sim, EXPORT);
      statuses.push([res.status, res.headers['retry-after']]);
      if (res.status !== 200) expect(res.body.length).toBe(0);
    }
    expect(statuses).toEqual([
      [503, '2'],
      [200, undefined],
      [429, '7'],
      [500, undefined],
      [502, undefined],
      [200, undefined],
    ]);
  });

  it('answers a share of requests with errorStatus, only under pathPrefix', async () => {
    sim.setFaults({ errorRate: 1, errorStatus: 504, pathPrefix: '/userfeedback/' });
    expect((await call(sim, EXPORT)).status).toBe(504);
    expect((await call(sim, `/advertisement/v1/config/user${q({ contextId: 1, userId: 1 })}`, { method: 'DELETE' })).status).toBe(200);
    sim.setFaults({ errorRate: 0.5, seed: 3 });
    const statuses = await Promise.all(Array.from({ length: 40 }, async () => (await call(sim, `${EXPORT}/raw${q({ end: 1 })}`)).status));
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(5);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(5);
  });

  it('answers requests of one method with a 200 HTML login page that never reaches OX (loginPage, or scripted)', async () => {
    const before = sim.feedbackCount();
    sim.setFaults({ loginPage: true, method: 'DELETE' });
    const page = await call(sim, `${FEEDBACK}/default/star-rating-v1${q({ end: Date.UTC(2026, 0, 2) })}`, { method: 'DELETE' });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<title>Sign in</title>');
    expect(sim.feedbackCount()).toBe(before);
    expect((await call(sim, EXPORT)).headers['content-type']).toBe('text/csv'); // GET is left alone
    sim.setFaults({ script: ['login-page'] });
    expect((await call(sim, EXPORT)).text).toContain('<title>Sign in</title>');
    expect((await call(sim, EXPORT)).headers['content-type']).toBe('text/csv');
  });

  it('drops the connection in the middle of an export body', async () => {
    sim.setFaults({ dropExportAfterBytes: 5000 });
    const res = await request(`${sim.url}${EXPORT}`, { headers: { authorization: basic(REST) } });
    expect(res.statusCode).toBe(200);
    let received = 0;
    await expectSocketClosed(
      (async () => {
        for await (const chunk of res.body) received += (chunk as Buffer).length;
      })(),
    );
    expect(received).toBeLessThanOrEqual(5000);
    expect(received).toBeLessThan(fullCsv.length);
  });

  it("drops mid-body on a scripted 'drop-mid-body' (and the connection of a non-export request)", async () => {
    sim.setFaults({ script: ['drop-mid-body', 'drop-mid-body'] });
    const res = await request(`${sim.url}${EXPORT}`, { headers: { authorization: basic(REST) } });
    await expectSocketClosed(res.body.arrayBuffer());
    await expectSocketClosed(
      request(`${sim.url}${FEEDBACK}/default/star-rating-v1`, { method: 'DELETE', headers: { authorization: basic(REST) } }),
    );
    expect((await call(sim, EXPORT)).body.equals(fullCsv)).toBe(true);
  });

  it('throttles a slow body but delivers it completely', async () => {
    sim.setFaults({ slowBodyBytesPerSecond: 2_000_000 });
    const res = await call(sim, `${EXPORT}${q({ end: Date.UTC(2026, 0, 1, 6) })}`);
    expect(res.status).toBe(200);
    expect(csvRows(res.body).length).toBe(sim.feedbackCount({ end: Date.UTC(2026, 0, 1, 6) }));
  });

  it('adds latency before the answer (an early abort wins)', async () => {
    sim.setFaults({ latencyMs: 3000 });
    await expect(call(sim, EXPORT, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({
      name: 'TimeoutError',
      message: 'The operation was aborted due to timeout',
    });
  });

  it('rejects invalid fault options', () => {
    expect(() => sim.setFaults({ errorRate: 2 })).toThrow(/errorRate/);
  });
});

describe('request log', () => {
  it('records method, path, query, status and auth user (never the password)', async () => {
    const sim = await OxSimulator.start();
    try {
      await call(sim, `${EXPORT}${q({ start: 5, delimiter: ',' })}`);
      await call(sim, EXPORT, { auth: null });
      await call(sim, '/nowhere');
      expect(sim.requests).toEqual([
        { method: 'GET', path: EXPORT, query: { start: '5', delimiter: ',' }, status: 200, authUser: 'oxadmin' },
        { method: 'GET', path: EXPORT, query: {}, status: 401 },
        { method: 'GET', path: '/nowhere', query: {}, status: 404, authUser: 'oxadmin' },
      ]);
      expect(JSON.stringify(sim.requests)).not.toContain('secret');
      sim.resetRequests();
      expect(sim.requests).toHaveLength(0);
    } finally {
      await sim.close();
    }
  });
});
