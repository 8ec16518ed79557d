import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { BOM, call, CSV_HEADER, csvRows, EXPORT, FEEDBACK, q } from './sim-http.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const T = Date.UTC(2026, 10, 1, 8, 30, 15, 999); // 2026-11-01 08:30:15.999 UTC

describe('CSV export bytes', () => {
  // A fresh simulator holding the same three rows for every test.
  let sim: OxSimulator;
  beforeEach(async () => {
    sim = await OxSimulator.start();
    sim.addFeedback([
      // inserted out of order on purpose
      { date: T + 60_000, contextId: 7, userId: 42, score: '5', comment: "=cmd|' /C calc'!A0", app: 'mail', entry_point: 'main' },
      {
        date: T,
        contextId: 1,
        userId: 3,
        score: 4,
        comment: 'He said "hi"\nthen\r\nleft\rfast; ok',
        app: 'calendar',
        entry_point: 'sidebar',
        operating_system: 'Linux',
        browser: 'Firefox',
        browser_version: '120.0',
        user_agent: 'Mozilla/5.0 (X11)',
        screen_resolution: '1920x1080',
        language: 'de_DE',
        server_version: '7.10.6-Rev30',
        client_version: '7.10.6-31',
      },
      { date: T + 60_000, contextId: 7, userId: 43, score: 1, comment: '|a|b', app: '+1', entry_point: '-x', operating_system: '@me' },
    ]);
  });
  afterEach(async () => {
    await sim.close();
  });

  it('writes BOM, quoted header, lone-CR rows, UTC dates, MD5 users, OX escaping, ascending order', async () => {
    const res = await call(sim, EXPORT);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv');
    expect(res.headers['content-encoding']).toBe('UTF-8');
    expect(res.headers['content-disposition']).toBeUndefined();
    expect(res.body.subarray(0, 3).equals(BOM)).toBe(true);
    const expected =
      `\uFEFF${CSV_HEADER}` +
      `"2026-11-01 08:30:15";"4";"He said 'hi'\r\nthen\r\nleft\r\nfast; ok";"calendar";"sidebar";"Linux";"Firefox";"120.0";"Mozilla/5.0 (X11)";"1920x1080";"de_DE";"${md5('1:3')}";"7.10.6-Rev30";"7.10.6-31"\r` +
      `"2026-11-01 08:31:15";"5";"'=cmd\\|' /C calc'!A0";"mail";"main";"";"";"";"";"";"";"${md5('7:42')}";"";""\r` +
      `"2026-11-01 08:31:15";"1";"'|a\\|b";"'+1";"'-x";"'@me";"";"";"";"";"";"${md5('7:43')}";"";""\r`;
    expect(res.text).toBe(expected);
    // Rows end with a lone CR: no CRLF between rows, and the body ends with CR.
    expect(res.body[res.body.length - 1]).toBe(0x0d);
    expect(res.text).not.toContain('"\r\n"');
  });

  it('uses the first character of `delimiter`', async () => {
    const tab = await call(sim, `${EXPORT}${q({ delimiter: '\t' })}`);
    expect(tab.text.split('\r')[0]).toBe(`\uFEFF${CSV_HEADER.slice(0, -1).replaceAll(';', '\t')}`);
    const multi = await call(sim, `${EXPORT}${q({ delimiter: ',;' })}`);
    expect(multi.text.split('\r')[1]).toMatch(/^"2026-11-01 08:30:15","4",/);
    const empty = await call(sim, `${EXPORT}?delimiter=`);
    expect(empty.text.split('\r')[0]).toBe(`\uFEFF${CSV_HEADER.slice(0, -1)}`);
  });

  it('answers BOM + header only when nothing matches', async () => {
    const res = await call(sim, `${EXPORT}${q({ start: 1, end: 2 })}`);
    expect(res.status).toBe(200);
    expect(res.text).toBe(`\uFEFF${CSV_HEADER}`);
  });
});

describe('time bounds are exclusive on both ends', () => {
  let sim: OxSimulator;
  beforeAll(async () => {
    sim = await OxSimulator.start();
    sim.addFeedback([0, 1000, 2000, 2000, 3000].map((date, i) => ({ date, contextId: 1, userId: i + 1, score: 3, comment: `at ${date}` })));
  });
  afterAll(async () => {
    await sim.close();
  });

  const comments = async (query: string): Promise<string[]> => {
    const res = await call(sim, `${FEEDBACK}/export/default/star-rating-v1/raw${query}`);
    expect(res.status).toBe(200);
    return (JSON.parse(res.text) as Array<{ comment: string }>).map((r) => r.comment);
  };

  it('filters date > start AND date < end', async () => {
    expect(await comments(q({ start: 1000, end: 3000 }))).toEqual(['at 2000', 'at 2000']);
    expect(await comments(q({ start: 999, end: 3000 }))).toEqual(['at 1000', 'at 2000', 'at 2000']);
    expect(await comments(q({ start: 1000, end: 3001 }))).toEqual(['at 2000', 'at 2000', 'at 3000']);
  });

  it('treats 0 and absent as open, so the epoch row is only reachable with start left out', async () => {
    expect(await comments('')).toEqual(['at 0', 'at 1000', 'at 2000', 'at 2000', 'at 3000']);
    expect(await comments(q({ start: 0, end: 0 }))).toHaveLength(5);
    expect(await comments(q({ end: 1000 }))).toEqual(['at 0']);
    expect(await comments(q({ start: 2000 }))).toEqual(['at 3000']);
  });

  it('puts a boundary row into exactly one of two adjacent half-open windows', async () => {
    // [0, 2000) and [2000, 4000) translated as the client does: start-1 (omitted for 0), end.
    const first = await comments(q({ end: 2000 }));
    const second = await comments(q({ start: 1999, end: 4000 }));
    expect(first).toEqual(['at 0', 'at 1000']);
    expect(second).toEqual(['at 2000', 'at 2000', 'at 3000']);
    expect(sim.feedbackCount({ start: 0, end: 2000 })).toBe(2);
    expect(sim.feedbackCount({ start: 2000, end: 4000 })).toBe(3);
  });

  it('allows end == start (matches nothing)', async () => {
    expect(await comments(q({ start: 2000, end: 2000 }))).toEqual([]);
  });

  it('answers 400 FEEDBACK-0006 for negative bounds and end < start', async () => {
    for (const [query, param] of [
      [q({ start: -1 }), 'start'],
      [q({ end: -5 }), 'end'],
      [q({ start: 3000, end: 1000 }), 'start, end'],
    ] as const) {
      const res = await call(sim, `${EXPORT}${query}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/json');
      const error = JSON.parse(res.text) as Record<string, unknown>;
      expect(error).toMatchObject({
        code: 'FEEDBACK-0006',
        categories: 'USER_INPUT',
        category: 1,
        error_params: [param],
        error_desc: `Provided value(s) for parameter(s) '${param}' is/are invalid.`,
      });
      expect(error.error).toEqual(expect.any(String));
      expect(error.error_id).toMatch(/^-?\d+-\d+$/);
    }
  });

  it('rejects non-numeric start/end with an empty 404 (framework, before the resource)', async () => {
    for (const query of ['?start=yesterday', '?end=1e3', '?start=12.5']) {
      const res = await call(sim, `${EXPORT}${query}`);
      expect(res.status).toBe(404);
      expect(res.body.length).toBe(0);
    }
  });
});

describe('type, context group and global database', () => {
  let sim: OxSimulator;
  beforeAll(async () => {
    sim = await OxSimulator.start({ contextGroups: ['brand-b'] });
    sim.addFeedback([{ contextGroup: 'brand-c', type: 'nps-v1', date: 5, contextId: 9, userId: 9, score: 10 }]);
  });
  afterAll(async () => {
    await sim.close();
  });

  it('answers 404 FEEDBACK-0003 for an unknown type', async () => {
    const res = await call(sim, `${FEEDBACK}/export/default/thumbs-v9`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'FEEDBACK-0003', error_desc: 'Unknown feedback type: thumbs-v9' });
  });

  it('answers 404 with an error object for an unknown context group', async () => {
    const res = await call(sim, `${FEEDBACK}/export/nowhere/star-rating-v1/raw`);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.text)).toMatchObject({ error_desc: 'No global database for context group "nowhere" found.' });
  });

  it('serves configured groups and groups holding feedback, nps-v1 included', async () => {
    expect((await call(sim, `${FEEDBACK}/export/brand-b/star-rating-v1/raw`)).text).toBe('[]');
    const nps = await call(sim, `${FEEDBACK}/export/brand-c/nps-v1/raw`);
    expect(JSON.parse(nps.text)).toEqual([expect.objectContaining({ score: '10', user: md5('9:9') })]);
  });

  it('answers 500 FEEDBACK-0005 when no global database is configured', async () => {
    const broken = await OxSimulator.start({ noGlobalDatabase: true });
    try {
      const res = await call(broken, EXPORT);
      expect(res.status).toBe(500);
      expect(JSON.parse(res.text)).toMatchObject({ code: 'FEEDBACK-0005', error_desc: 'No global database configured.' });
    } finally {
      await broken.close();
    }
  });
});

describe('raw JSON export and stored-value truncation', () => {
  let sim: OxSimulator;
  beforeEach(async () => {
    if (sim) await sim.close();
    sim = await OxSimulator.start();
  });
  afterAll(async () => {
    await sim.close();
  });

  it('answers [] when empty and string-only objects otherwise', async () => {
    const empty = await call(sim, `${EXPORT}/raw`);
    expect(empty.status).toBe(200);
    expect(empty.headers['content-type']).toBe('application/json');
    expect(empty.text).toBe('[]');

    sim.addFeedback([{ date: T, contextId: 1, userId: 3, score: 2, comment: 'say "x"\nok', app: 'mail' }]);
    const res = await call(sim, `${EXPORT}/raw`);
    expect(JSON.parse(res.text)).toEqual([
      {
        date: '2026-11-01 08:30:15',
        score: '2',
        comment: 'say "x"\nok',
        app: 'mail',
        entry_point: '',
        operating_system: '',
        browser: '',
        browser_version: '',
        user_agent: '',
        screen_resolution: '',
        language: '',
        user: md5('1:3'),
        server_version: '',
        client_version: '',
      },
    ]);
  });

  it('truncates over-long values to limit-4 characters plus " ..."', async () => {
    const long = (n: number): string => 'x'.repeat(n);
    sim.addFeedback([
      {
        date: T,
        contextId: 1,
        userId: 3,
        score: 5,
        comment: long(20001),
        user_agent: long(201),
        app: long(51),
        entry_point: long(50),
        operating_system: long(60),
        browser: long(51),
        screen_resolution: long(21),
        language: long(21),
        client_version: long(21),
        browser_version: long(300),
        server_version: long(300),
      },
    ]);
    const [row] = JSON.parse((await call(sim, `${EXPORT}/raw`)).text) as Array<Record<string, string>>;
    const truncated = (limit: number): string => `${long(limit - 4)} ...`;
    expect(row!.comment).toBe(truncated(20000));
    expect(row!.user_agent).toBe(truncated(200));
    expect(row!.app).toBe(truncated(50));
    expect(row!.entry_point).toBe(long(50)); // at the limit: untouched
    expect(row!.operating_system).toBe(truncated(50));
    expect(row!.browser).toBe(truncated(50));
    expect(row!.screen_resolution).toBe(truncated(20));
    expect(row!.language).toBe(truncated(20));
    expect(row!.client_version).toBe(truncated(20));
    expect(row!.browser_version).toBe(long(300)); // no limit
    expect(row!.server_version).toBe(long(300));
    const csv = csvRows((await call(sim, EXPORT)).body);
    expect(csv[0]).toContain(`"${truncated(20000)}"`);
  });
});

describe('synthetic feedback', () => {
  let sim: OxSimulator;
  const from = Date.UTC(2026, 9, 1);
  const to = Date.UTC(2026, 9, 8);
  beforeAll(async () => {
    sim = await OxSimulator.start();
    sim.generateFeedback({ rows: 20_000, from, to, seed: 7 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('is deterministic per seed, complete, ordered and inside [from, to)', async () => {
    const a = await call(sim, EXPORT);
    const other = await OxSimulator.start();
    try {
      other.generateFeedback({ rows: 20_000, from, to, seed: 7 });
      const b = await call(other, EXPORT);
      expect(b.body.equals(a.body)).toBe(true);
      other.generateFeedback({ rows: 20_000, from, to, seed: 8, contextGroup: 'other' });
      const c = await call(other, `${FEEDBACK}/export/other/star-rating-v1`);
      expect(c.body.equals(a.body)).toBe(false);
    } finally {
      await other.close();
    }
    const rows = csvRows(a.body);
    expect(rows).toHaveLength(20_000);
    expect(sim.feedbackCount()).toBe(20_000);
    const dates = rows.map((r) => r.slice(1, 20));
    expect([...dates].sort()).toEqual(dates);
    expect(dates[0]! >= '2026-10-01 00:00:00').toBe(true);
    expect(dates.at(-1)! < '2026-10-08 00:00:00').toBe(true);
  });

  it('contains the awkward values real users type', async () => {
    const text = (await call(sim, EXPORT)).text;
    expect(text).toContain("'="); // formula guard
    expect(text).toContain('\\|'); // escaped pipe
    expect(text).toMatch(/"[^"\r]*\r\n[^"\r]*"/); // in-cell CRLF
    expect(text).toMatch(/"[^"\r]*;[^"\r]*"/); // delimiter inside a cell
    expect(text).toMatch(/[äöüéñ]/); // non-ASCII
    expect(text).toContain(' ..."'); // a truncated user agent or comment
    const raw = JSON.parse((await call(sim, `${EXPORT}/raw`)).text) as Array<Record<string, string>>;
    expect(raw).toHaveLength(20_000);
    expect(raw.some((r) => r.comment!.includes('"'))).toBe(true);
    expect(raw.every((r) => Object.values(r).every((v) => typeof v === 'string') && Number(r.score) >= 1)).toBe(true);
  });

  it('merges explicit rows into generated ones by date', async () => {
    // Its own simulator: the other tests count the shared one's 20 000 rows.
    const merged = await OxSimulator.start();
    try {
      merged.generateFeedback({ rows: 20_000, from, to, seed: 7 });
      const mid = from + 3 * 86_400_000;
      merged.addFeedback([{ date: mid, contextId: 1, userId: 1, score: 5, comment: 'explicit-marker' }]);
      const raw = JSON.parse((await call(merged, `${EXPORT}/raw${q({ start: mid - 60_000, end: mid + 60_000 })}`)).text) as Array<
        Record<string, string>
      >;
      const dates = raw.map((r) => r.date!);
      expect([...dates].sort()).toEqual(dates);
      expect(raw.map((r) => r.comment)).toContain('explicit-marker');
      expect(merged.feedbackCount()).toBe(20_001);
    } finally {
      await merged.close();
    }
  });
});
