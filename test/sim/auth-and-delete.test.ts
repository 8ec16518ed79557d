import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { call, csvRows, EXPORT, FEEDBACK, q, REST } from './sim-http.js';

const REALM = 'Basic realm="OX REST", encoding="UTF-8"';
const DELETE = `${FEEDBACK}/default/star-rating-v1`;

describe('REST authentication (/userfeedback, /advertisement)', () => {
  let sim: OxSimulator;
  beforeAll(async () => {
    sim = await OxSimulator.start();
  });
  afterAll(async () => {
    await sim.close();
  });

  const paths: Array<[string, 'GET' | 'PUT' | 'POST' | 'DELETE']> = [
    [EXPORT, 'GET'],
    [`${EXPORT}/raw`, 'GET'],
    [DELETE, 'DELETE'],
    [`${FEEDBACK}/send/default/star-rating-v1`, 'POST'],
    ['/advertisement/v1/config/user?contextId=1&userId=3', 'PUT'],
  ];

  it('answers 401 with the OX realm for missing or wrong credentials', async () => {
    for (const [path, method] of paths) {
      for (const auth of [null, { user: 'oxadmin', password: 'wrong' }, { user: 'someone', password: 'secret' }]) {
        const res = await call(sim, path, { method, auth, body: method === 'PUT' || method === 'POST' ? {} : undefined });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.headers['www-authenticate']).toBe(REALM);
      }
    }
    expect((await call(sim, EXPORT)).status).toBe(200);
  });

  it('answers 403 with an empty body everywhere when the server has no REST credentials', async () => {
    sim.setCredentials({ rest: null });
    try {
      for (const [path, method] of paths) {
        const res = await call(sim, path, { method, body: method === 'PUT' || method === 'POST' ? {} : undefined });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.length).toBe(0);
        expect(res.headers['www-authenticate']).toBeUndefined();
      }
    } finally {
      sim.setCredentials({ rest: REST });
    }
  });

  it('follows credential changes at run time', async () => {
    sim.setCredentials({ rest: { user: 'rest', password: 'n3w' } });
    try {
      expect((await call(sim, EXPORT)).status).toBe(401);
      expect((await call(sim, EXPORT, { auth: { user: 'rest', password: 'n3w' } })).status).toBe(200);
    } finally {
      sim.setCredentials({ rest: REST });
    }
  });
});

describe('DELETE /userfeedback/v1/{group}/{type}', () => {
  // A fresh simulator per test: the counts below are of the rows this test added.
  let sim: OxSimulator;
  beforeEach(async () => {
    sim = await OxSimulator.start();
  });
  afterEach(async () => {
    await sim.close();
  });

  it('answers JSON with successful as the string "true", start/end only when > 0', async () => {
    let res = await call(sim, `${DELETE}${q({ start: 0, end: 5000 })}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.text).toBe('{"successful":"true","type":"star-rating-v1","contextGroup":"default","end":5000}');
    res = await call(sim, `${DELETE}${q({ start: 10, end: 20 })}`, { method: 'DELETE' });
    expect(JSON.parse(res.text)).toEqual({ successful: 'true', type: 'star-rating-v1', contextGroup: 'default', start: 10, end: 20 });
    res = await call(sim, DELETE, { method: 'DELETE' });
    expect(JSON.parse(res.text)).toEqual({ successful: 'true', type: 'star-rating-v1', contextGroup: 'default' });
  });

  it('deletes only date > start AND date < end, and only `end` deletes everything before it', async () => {
    sim.addFeedback([100, 200, 300, 400].map((date) => ({ date, contextId: 1, userId: 1, score: 1, comment: `c${date}` })));
    await call(sim, `${DELETE}${q({ start: 100, end: 300 })}`, { method: 'DELETE' });
    expect(sim.feedbackCount()).toBe(3); // 100 and 300 are boundaries and survive
    await call(sim, `${DELETE}${q({ end: 400 })}`, { method: 'DELETE' });
    const rows = csvRows((await call(sim, EXPORT)).body);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('"c400"');
    await call(sim, DELETE, { method: 'DELETE' });
    expect(sim.feedbackCount()).toBe(0);
  });

  it('deletes ranges of generated rows without touching the rest', async () => {
    const from = Date.UTC(2026, 0, 1);
    sim.generateFeedback({ rows: 10_000, from, to: from + 10 * 86_400_000, seed: 3 });
    const day = (n: number): number => from + n * 86_400_000;
    const before = sim.feedbackCount({ start: day(2), end: day(4) });
    expect(before).toBeGreaterThan(1000);
    await call(sim, `${DELETE}${q({ start: day(2) - 1, end: day(4) })}`, { method: 'DELETE' });
    expect(sim.feedbackCount({ start: day(2), end: day(4) })).toBe(0);
    expect(sim.feedbackCount()).toBe(10_000 - before);
    // An overlapping delete: (day3, day5) holds only [day4, day5) still live.
    const liveDay4 = sim.feedbackCount({ start: day(4), end: day(5) });
    expect(liveDay4).toBeGreaterThan(500);
    await call(sim, `${DELETE}${q({ start: day(3), end: day(5) })}`, { method: 'DELETE' });
    const left = sim.feedbackCount();
    expect(left).toBe(10_000 - before - liveDay4);
    expect(csvRows((await call(sim, EXPORT)).body)).toHaveLength(left);
    const raw = JSON.parse((await call(sim, `${EXPORT}/raw${q({ start: day(2) - 1, end: day(5) })}`)).text) as unknown[];
    expect(raw).toHaveLength(0);
  });

  it('validates like the exports: 400 FEEDBACK-0006, 404 for non-numeric', async () => {
    const bad = await call(sim, `${DELETE}${q({ end: -1 })}`, { method: 'DELETE' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ code: 'FEEDBACK-0006' });
    expect((await call(sim, `${DELETE}?end=soon`, { method: 'DELETE' })).status).toBe(404);
  });

  it('answers text/plain prose in the legacy variant', async () => {
    const legacy = await OxSimulator.start({ legacy: { deleteProse: true } });
    try {
      legacy.addFeedback([{ date: 50, contextId: 1, userId: 1, score: 1 }]);
      const res = await call(legacy, `${DELETE}${q({ end: 100 })}`, { method: 'DELETE' });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/plain');
      expect(() => JSON.parse(res.text)).toThrow(SyntaxError);
      expect(res.text).toContain('star-rating-v1');
      expect(legacy.feedbackCount()).toBe(0);
    } finally {
      await legacy.close();
    }
  });
});
