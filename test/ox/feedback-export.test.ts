import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { OxClient } from '../../src/ox/ox-client.js';
import { OxError } from '../../src/ox/ox-error.js';
import { InputError } from '../../src/errors.js';
import { collect, failure, oxConfig, readAll, SIM_CREDENTIALS } from './ox-test-kit.js';

const HEADER = [
  'Date',
  'Score',
  'Comment',
  'App',
  'Entry Point',
  'Operating System',
  'Browser',
  'Browser Version',
  'User Agent',
  'Screen Resolution',
  'Language',
  'User',
  'Server Version',
  'Client Version',
];
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Rows of OX's CSV: separated by a lone CR (a CRLF inside a quoted cell is data). */
function csvRows(bytes: Buffer): string[] {
  expect(bytes.subarray(0, 3)).toEqual(BOM);
  const text = bytes.subarray(3).toString('utf8');
  expect(text.endsWith('\r')).toBe(true);
  return text.slice(0, -1).split(/\r(?!\n)/);
}

describe('OxClient feedback exports against the simulator', () => {
  let sim: OxSimulator;
  let ox: OxClient;

  beforeAll(async () => {
    sim = await OxSimulator.start({ credentials: SIM_CREDENTIALS });
    ox = new OxClient(oxConfig(sim.url));
  });
  afterAll(async () => {
    await ox.close();
    await sim.close();
  });

  it('passes OX CSV bytes through untouched: BOM, quoted header, lone-CR rows, quote replacement, formula guard, UTC dates, MD5 user', async () => {
    const t = Date.UTC(2021, 0, 2, 3, 4, 5, 678);
    sim.addFeedback([
      {
        date: t,
        contextId: 1,
        userId: 2,
        score: 4,
        comment: 'say "hi"\nthere',
        app: "=cmd|' /C calc'!A0",
        entry_point: '+mail',
        browser: 'Fire|fox',
      },
    ]);
    const bytes = await readAll(await ox.exportCsv({ start: t - 10, end: t + 10 }));
    const rows = csvRows(bytes);
    expect(rows[0]).toBe(HEADER.map((h) => `"${h}"`).join(';'));
    expect(rows).toHaveLength(2);
    const row = rows[1]!;
    expect(row.startsWith('"2021-01-02 03:04:05";"4";')).toBe(true);
    expect(row).toContain(`"say 'hi'\r\nthere"`); // " becomes ', line breaks CRLF inside the cell
    expect(row).toContain(`"'=cmd\\|' /C calc'!A0"`); // formula guard and \| escaping, byte for byte
    expect(row).toContain(`"'+mail"`);
    expect(row).toContain(`"Fire\\|fox"`);
    expect(row).toContain(`"${createHash('md5').update('1:2').digest('hex')}"`);
    expect(bytes.includes(Buffer.from('\r\n"'))).toBe(false); // no CRLF row ends
  });

  it('uses the first character of the delimiter and answers BOM plus header for an empty window', async () => {
    const bytes = await readAll(await ox.exportCsv({ start: Date.UTC(1999, 0, 1), end: Date.UTC(1999, 0, 2), delimiter: ',' }));
    expect(csvRows(bytes)).toEqual([HEADER.map((h) => `"${h}"`).join(',')]);
  });

  it('puts a row stamped exactly at a boundary into exactly one of two adjacent windows', async () => {
    const b = Date.UTC(2022, 5, 1);
    sim.addFeedback([
      { date: b - 1, contextId: 3, userId: 1, score: 1, comment: 'before' },
      { date: b, contextId: 3, userId: 1, score: 2, comment: 'at-boundary' },
      { date: b + 1, contextId: 3, userId: 1, score: 3, comment: 'after' },
      { date: b + 3_600_000, contextId: 3, userId: 1, score: 5, comment: 'at-end' },
    ]);
    const first = await collect(ox.exportRaw({ start: new Date(b - 3_600_000), end: new Date(b) }));
    const second = await collect(ox.exportRaw({ start: b, end: b + 3_600_000 }));
    expect(first.map((r) => r.comment)).toEqual(['before']);
    expect(second.map((r) => r.comment)).toEqual(['at-boundary', 'after']);
    expect(sim.feedbackCount({ start: b, end: b + 3_600_000 })).toBe(second.length);
    // OX's bounds are exclusive: the client sent start - 1 and end as is.
    const query = sim.requests.at(-1)!.query;
    expect(query).toMatchObject({ start: String(b - 1), end: String(b + 3_600_000) });
    // and the CSV export agrees with the raw one
    const csv = csvRows(await readAll(await ox.exportCsv({ start: b, end: b + 3_600_000 })));
    expect(csv.slice(1).map((r) => r.split(';')[2])).toEqual(['"at-boundary"', '"after"']);
  });

  it('leaves start out for a window starting at the epoch and end out for an open window', async () => {
    sim.addFeedback([
      { date: 0, contextId: 4, userId: 1, score: 3, comment: 'epoch' },
      { date: 5, contextId: 4, userId: 1, score: 3, comment: 'five' },
    ]);
    const rows = await collect(ox.exportRaw({ start: 0, end: 10 }));
    expect(rows.map((r) => r.comment)).toEqual(['epoch', 'five']);
    expect(sim.requests.at(-1)!.query).toEqual({ end: '10' });
    await readAll(await ox.exportCsv({ start: new Date(0) }));
    expect(sim.requests.at(-1)!.query).toEqual({});
    await collect(ox.exportRaw({ start: 1000 }));
    expect(sim.requests.at(-1)!.query).toEqual({ start: '999' });
  });

  it('raw export: every value a string, missing fields empty, score as string', async () => {
    const t = Date.UTC(2023, 2, 3, 4, 5, 6);
    sim.addFeedback([{ date: t, contextId: 7, userId: 8, score: 5, comment: 'fine', app: 'mail' }]);
    const [row, ...rest] = await collect(ox.exportRaw({ start: t, end: t + 1 }));
    expect(rest).toEqual([]);
    expect(row).toMatchObject({
      date: '2023-03-03 04:05:06',
      score: '5',
      comment: 'fine',
      app: 'mail',
      browser: '',
      user: createHash('md5').update('7:8').digest('hex'),
    });
    for (const value of Object.values(row!)) expect(typeof value).toBe('string');
  });

  it('rejects windows that make no sense before asking OX', async () => {
    expect(() => ox.exportRaw({ start: 10, end: 5 })).toThrow(InputError);
    await expect(ox.exportCsv({ start: -1 })).rejects.toThrow(InputError);
    await expect(ox.deleteFeedback({ end: Number.NaN })).rejects.toThrow(InputError);
  });

  it('maps an unknown feedback type and an unknown context group to OxErrors with the OX error object', async () => {
    const err = await failure(ox.exportCsv({ type: 'no-such-type-v9' }));
    expect(err).toBeInstanceOf(OxError);
    expect(err).toMatchObject({
      operation: 'feedback.export',
      status: 404,
      kind: 'http',
      retryable: false,
      oxCode: 'FEEDBACK-0003',
      code: 'OXB_OX_HTTP',
    });
    expect(err.errorId).toMatch(/\S/);
    expect(err.message).toContain('FEEDBACK-0003');
    expect(err.message).toContain(err.errorId);
    expect(err.message).toContain(err.errorDesc);
    const group = await failure(collect(ox.exportRaw({ contextGroup: 'nowhere' })));
    expect(group).toMatchObject({ operation: 'feedback.raw', status: 404, retryable: false });
    expect(group.errorDesc).toContain('nowhere');
  });

  it('streams a 200,000-element raw export with bounded heap growth', async () => {
    const from = Date.UTC(2024, 0, 1);
    const to = Date.UTC(2024, 1, 1);
    sim.generateFeedback({ rows: 200_000, from, to, seed: 7, contextGroup: 'bulk' });
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    let count = 0;
    for await (const record of ox.exportRaw({ contextGroup: 'bulk', start: from, end: to })) {
      count++;
      if (typeof record.score !== 'string') throw new Error('score is not a string');
      if (count % 5_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    expect(count).toBe(200_000);
    expect(count).toBe(sim.feedbackCount({ contextGroup: 'bulk', start: from, end: to }));
    // Measured: streaming grows the heap by ~20 MB; holding the 200k records (even without the
    // body text) grows it by ~115 MB. The bound sits between the two.
    const growthMb = (peak - baseline) / 1024 / 1024;
    expect(growthMb).toBeLessThan(60);
  }, 60_000);
});
