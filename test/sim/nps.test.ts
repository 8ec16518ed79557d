import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { call, FEEDBACK, q } from './sim-http.js';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const FIXTURE = fileURLToPath(new URL('./fixtures/both-types.json', import.meta.url));
const NPS = `${FEEDBACK}/export/default/nps-v1`;
const STAR = `${FEEDBACK}/export/default/star-rating-v1`;

const NPS_HEADER =
  '"Date";"Score";"Question";"Comment";"App";"Entry Point";"Operating System";"Browser";"Browser Version";' +
  '"User Agent";"Screen Resolution";"Language";"User";"Server Version";"Client Version"\r';
const NPS_KEYS = [
  'date',
  'score',
  'questionid',
  'comment',
  'app',
  'entry_point',
  'operating_system',
  'browser',
  'browser_version',
  'user_agent',
  'screen_resolution',
  'language',
  'user',
  'server_version',
  'client_version',
];

describe('nps-v1 as OX 7.10.4+ serves it (fixture with both types)', () => {
  let sim: OxSimulator;
  beforeAll(async () => {
    sim = await OxSimulator.start({ fixture: FIXTURE });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('CSV: Question right after Score, score 0 valid, OX escaping in every cell', async () => {
    const res = await call(sim, NPS);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv');
    const full = '"Linux";"Firefox";"130.0";"Mozilla/5.0 (X11)";"1920x1080";"de_DE"';
    expect(res.text).toBe(
      `\uFEFF${NPS_HEADER}` +
        `"2026-11-01 08:40:00";"0";"0";"Never again.\r\nReally.";"mail";"main";${full};"${md5('1:3')}";"7.10.6-Rev30";"7.10.6-31"\r` +
        `"2026-11-01 08:40:01";"10";"3";"He said 'wow' \\|twice\\|";"portal";"";"";"";"";"";"";"";"${md5('1:4')}";"";""\r` +
        `"2026-11-01 08:40:02";"7";"1";"'-meh";"";"";"";"";"";"";"";"";"${md5('2:5')}";"";""\r` +
        `"2026-11-01 08:40:03";"9";"2";"";"";"";"";"";"";"";"";"";"${md5('2:6')}";"";""\r`,
    );
  });

  it('raw: the key questionid, every value a string', async () => {
    const rows = JSON.parse((await call(sim, `${NPS}/raw`)).text) as Array<Record<string, string>>;
    expect(rows.map((r) => Object.keys(r))).toEqual(rows.map(() => NPS_KEYS));
    expect(rows.map((r) => [r.score, r.questionid])).toEqual([
      ['0', '0'],
      ['10', '3'],
      ['7', '1'],
      ['9', '2'],
    ]);
    expect(rows[1]!.comment).toBe('He said "wow" |twice|');
  });

  it('star-rating-v1 beside it keeps its 14 columns (no Question)', async () => {
    const res = await call(sim, STAR);
    expect(res.text.split('\r')[0]).toBe(
      '\uFEFF"Date";"Score";"Comment";"App";"Entry Point";"Operating System";"Browser";"Browser Version";"User Agent";"Screen Resolution";"Language";"User";"Server Version";"Client Version"',
    );
    const raw = JSON.parse((await call(sim, `${STAR}/raw`)).text) as Array<Record<string, string>>;
    expect(raw).toHaveLength(2);
    expect(raw.every((r) => !('questionid' in r))).toBe(true);
  });

  it('an empty nps-v1 window is BOM + the nps-v1 header', async () => {
    expect((await call(sim, `${NPS}${q({ start: 1, end: 2 })}`)).text).toBe(`\uFEFF${NPS_HEADER}`);
  });

  it('a newer OX row with extra raw keys carries them in the raw export only', async () => {
    sim.addFeedback([
      { contextGroup: 'newer', type: 'nps-v1', date: 5000, contextId: 1, userId: 1, score: 8, questionid: 1, extraKeys: { mood: 'calm' } },
    ]);
    const raw = JSON.parse((await call(sim, `${FEEDBACK}/export/newer/nps-v1/raw`)).text) as Array<Record<string, string>>;
    expect(Object.keys(raw[0]!)).toEqual([...NPS_KEYS, 'mood']);
    expect(raw[0]!.mood).toBe('calm');
    expect((await call(sim, `${FEEDBACK}/export/newer/nps-v1`)).text.split('\r')[0]).toBe(`\uFEFF${NPS_HEADER.slice(0, -1)}`);
  });
});

describe('nps-v1 synthetic data', () => {
  let sim: OxSimulator;
  const from = Date.UTC(2026, 9, 1);
  const to = Date.UTC(2026, 9, 2);
  beforeAll(async () => {
    sim = await OxSimulator.start();
    sim.generateFeedback({ rows: 5000, from, to, seed: 3, type: 'nps-v1' });
    sim.generateFeedback({ rows: 5000, from, to, seed: 3 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('scores 0..10 (all of them), question ids 0..3, the nps-v1 columns; CSV and raw agree', async () => {
    const raw = JSON.parse((await call(sim, `${NPS}/raw`)).text) as Array<Record<string, string>>;
    expect(raw).toHaveLength(5000);
    expect(new Set(raw.map((r) => r.score))).toEqual(new Set(Array.from({ length: 11 }, (_, i) => String(i))));
    expect(new Set(raw.map((r) => r.questionid))).toEqual(new Set(['0', '1', '2', '3']));
    expect(Object.keys(raw[0]!)).toEqual(NPS_KEYS);
    const csv = (await call(sim, NPS)).text;
    expect(csv.startsWith(`\uFEFF${NPS_HEADER}`)).toBe(true);
    const rows = csv.slice(1 + NPS_HEADER.length, -1).split(/\r(?!\n)/);
    expect(rows).toHaveLength(5000);
    // The first three cells of each CSV row are the raw row's date, score and question.
    for (const [i, row] of rows.entries()) {
      const r = raw[i]!;
      expect(row.startsWith(`"${r.date}";"${r.score}";"${r.questionid}";`)).toBe(true);
    }
    // Promoters are the biggest group, as in real NPS surveys, but every group occurs.
    const promoters = raw.filter((r) => Number(r.score) >= 9).length;
    const detractors = raw.filter((r) => Number(r.score) <= 6).length;
    expect(promoters).toBeGreaterThan(detractors);
    expect(detractors).toBeGreaterThan(0);
  });

  it('star-rating-v1 stays 1..5 and without question', async () => {
    const raw = JSON.parse((await call(sim, `${STAR}/raw`)).text) as Array<Record<string, string>>;
    expect(new Set(raw.map((r) => r.score))).toEqual(new Set(['1', '2', '3', '4', '5']));
    expect(raw.some((r) => 'questionid' in r)).toBe(false);
  });
});

describe('nps-v1 fixture validation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oxbt-nps-fixture-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const start = (name: string, row: Record<string, unknown>) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify({ feedback: [{ date: 1, contextId: 1, userId: 1, ...row }] }));
    return OxSimulator.start({ fixture: file });
  };

  it.each([
    ['nps-11.json', { type: 'nps-v1', score: 11, questionid: 0 }, /nps-11\.json: feedback\.0\.score: expected an integer 0\.\.10/],
    ['nps-q4.json', { type: 'nps-v1', score: 5, questionid: 4 }, /nps-q4\.json: feedback\.0\.questionid: expected an integer 0\.\.3/],
    ['star-0.json', { score: 0 }, /star-0\.json: feedback\.0\.score: expected an integer >= 1/],
    ['star-q.json', { score: 3, questionid: 1 }, /star-q\.json: feedback\.0\.questionid: expected absent \(only nps-v1/],
  ])('%s is refused naming file and field', async (name, row, message) => {
    await expect(start(name, row)).rejects.toThrow(InputError);
    await expect(start(name, row)).rejects.toThrow(message);
  });

  it('score 0 is a valid nps-v1 score', async () => {
    const sim = await start('nps-0.json', { type: 'nps-v1', score: 0, questionid: 2 });
    try {
      expect(sim.feedbackCount({ type: 'nps-v1' })).toBe(1);
    } finally {
      await sim.close();
    }
  });
});
