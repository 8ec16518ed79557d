/**
 * nps-v1 through feedback.export, and `csv` keeping every column OX sent: the type's known
 * columns in OX's order, then any raw key it does not know (a newer OX), never dropped.
 */
import { runChild } from '../helpers/child.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportFeedback } from '../../src/export/export-feedback.js';
import { deleteKeys, plainRedis } from '../daemon/helpers.js';
import { directGet, oxBounds, REDIS_URL, startExportEnv, type ExportEnv } from './helpers/export-env.js';
import { bundledCli } from '../helpers/bundle.js';

const FIXTURE = fileURLToPath(new URL('../sim/fixtures/both-types.json', import.meta.url));
const WINDOW = { start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 10, 2) };
const NPS_HEADERS = [
  'Date',
  'Score',
  'Question',
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
const STAR_KEYS = NPS_KEYS.filter((k) => k !== 'questionid');

/** The csv format's cell for a raw value: ISO date, formula guard (= + - @ | TAB CR). */
const csvValue = (key: string, value: string) =>
  key === 'date' ? `${value.replace(' ', 'T')}Z` : /^[=+\-@|\t\r]/.test(value) ? `'${value}` : value;
const parseCsv = (text: string): string[][] => parse(text, { record_delimiter: '\r\n', relax_column_count: false });

type Result = { rows: number; archive: { key: string } };

describe('nps-v1 and every raw column through feedback.export', () => {
  let env: ExportEnv;
  let raw: Array<Record<string, string>>;
  const archived = async (result: unknown) => readFile(join(env.archiveDir, (result as Result).archive.key));

  beforeAll(async () => {
    env = await startExportEnv();
    env.sim.loadFixture(JSON.parse(await readFile(FIXTURE, 'utf8')));
    raw = JSON.parse((await directGet(env.sim, '/userfeedback/v1/export/default/nps-v1/raw', oxBounds(WINDOW))).toString('utf8'));
  });
  afterAll(async () => {
    await env?.close();
  });

  it("ox-csv: the archived nps-v1 file is byte-identical to OX's export (Question after Score)", async () => {
    const outcome = await env.run(WINDOW, { type: 'nps-v1' }, { scheduleId: 'nps-oxcsv' });
    const direct = await directGet(env.sim, '/userfeedback/v1/export/default/nps-v1', oxBounds(WINDOW));
    const file = await archived(outcome.result);
    expect(file.equals(direct)).toBe(true);
    expect(file.toString('utf8').split('\r')[0]).toBe(`\uFEFF${NPS_HEADERS.map((h) => `"${h}"`).join(';')}`);
    expect((outcome.result as Result).rows).toBe(4);
  });

  it("csv: Question kept, in OX's column order, score 0 kept, every cell equal to the raw export", async () => {
    const outcome = await env.run(WINDOW, { type: 'nps-v1', format: 'csv' }, { scheduleId: 'nps-csv' });
    const rows = parseCsv((await archived(outcome.result)).toString('utf8'));
    expect(rows[0]).toEqual(NPS_HEADERS);
    expect(rows.slice(1)).toEqual(raw.map((r) => NPS_KEYS.map((k) => csvValue(k, r[k]!))));
    expect(rows.slice(1).map((r) => [r[1], r[2]])).toEqual([
      ['0', '0'],
      ['10', '3'],
      ['7', '1'],
      ['9', '2'],
    ]);
  });

  it("jsonl: questionid kept, keys in OX's column order", async () => {
    const outcome = await env.run(WINDOW, { type: 'nps-v1', format: 'jsonl' }, { scheduleId: 'nps-jsonl' });
    const lines = (await archived(outcome.result))
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines).toEqual(raw);
    expect(lines.map((l) => Object.keys(l))).toEqual(lines.map(() => NPS_KEYS));
  });

  it('the artifact reports the columns written and every raw key OX sent', async () => {
    const base = { contextGroup: 'default', type: 'nps-v1', gzip: false, window: WINDOW, spoolDir: env.spoolDir } as const;
    const oxCsv = await exportFeedback(env.services.ox, { ...base, format: 'ox-csv' });
    const csv = await exportFeedback(env.services.ox, { ...base, format: 'csv' });
    const chosen = await exportFeedback(env.services.ox, { ...base, format: 'csv', columns: ['date', 'Score', 'comment'] });
    const jsonl = await exportFeedback(env.services.ox, { ...base, format: 'jsonl' });
    try {
      expect(oxCsv.columns).toEqual(NPS_HEADERS);
      expect(oxCsv.keysSeen).toBeUndefined();
      expect(csv).toMatchObject({ columns: NPS_HEADERS, keysSeen: NPS_KEYS, keysLeftOut: [], passes: 1, rows: 4 });
      expect(chosen).toMatchObject({
        columns: ['Date', 'Score', 'Comment'],
        keysSeen: NPS_KEYS,
        keysLeftOut: NPS_KEYS.filter((k) => !['date', 'score', 'comment'].includes(k)),
      });
      expect(jsonl).toMatchObject({ columns: NPS_KEYS, keysSeen: NPS_KEYS, keysLeftOut: [] });
    } finally {
      await Promise.all([oxCsv, csv, chosen, jsonl].map((a) => a.cleanup()));
    }
  });

  it('an unknown raw key (a newer OX) on every row survives in csv and jsonl, after the known columns', async () => {
    const day = { start: Date.UTC(2026, 6, 1), end: Date.UTC(2026, 6, 2) };
    env.sim.addFeedback(
      [0, 1, 2].map((i) => ({
        type: 'nps-v1',
        date: day.start + 1000 * (i + 1),
        contextId: 1,
        userId: i,
        score: i,
        questionid: i,
        comment: `c${i}`,
        extraKeys: { mood: `m${i}`, channel: i === 1 ? '=web' : 'app' },
      })),
    );
    const csv = await env.run(day, { type: 'nps-v1', format: 'csv' }, { scheduleId: 'nps-extra-csv' });
    const rows = parseCsv((await archived(csv.result)).toString('utf8'));
    expect(rows[0]).toEqual([...NPS_HEADERS, 'mood', 'channel']);
    expect(rows.slice(1).map((r) => r.slice(-2))).toEqual([
      ['m0', 'app'],
      ['m1', "'=web"],
      ['m2', 'app'],
    ]);
    const jsonl = await env.run(day, { type: 'nps-v1', format: 'jsonl' }, { scheduleId: 'nps-extra-jsonl' });
    const lines = (await archived(jsonl.result))
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines.map((l) => [l.mood, l.channel])).toEqual([
      ['m0', 'app'],
      ['m1', '=web'],
      ['m2', 'app'],
    ]);
    expect(Object.keys(lines[0]!)).toEqual([...NPS_KEYS, 'mood', 'channel']);
  });

  it('a key first seen after the header was written: the export runs again with the wider header', async () => {
    const day = { start: Date.UTC(2026, 6, 5), end: Date.UTC(2026, 6, 6) };
    env.sim.addFeedback(
      [0, 1, 2, 3, 4].map((i) => ({
        date: day.start + 1000 * (i + 1),
        contextId: 1,
        userId: i,
        score: 1 + i,
        comment: `c${i}`,
        ...(i === 3 ? { extraKeys: { late: 'only row 4' } } : {}),
      })),
    );
    env.sim.resetRequests();
    const outcome = await env.run(day, { format: 'csv' }, { scheduleId: 'late-key' });
    const rows = parseCsv((await archived(outcome.result)).toString('utf8'));
    expect(rows[0]!.at(-1)).toBe('late');
    expect(rows.slice(1).map((r) => r.at(-1))).toEqual(['', '', '', 'only row 4', '']);
    expect(rows.every((r) => r.length === rows[0]!.length)).toBe(true);
    expect((outcome.result as Result).rows).toBe(5);
    // Two passes over the window: the first learnt the key, the second wrote it from the header on.
    expect(env.sim.requests.filter((r) => r.path.endsWith('/star-rating-v1/raw'))).toHaveLength(2);
  });

  it('refuses Question for star-rating-v1 before fetching anything', async () => {
    env.sim.resetRequests();
    await expect(env.run(WINDOW, { format: 'csv', columns: 'Date,Question' }, { scheduleId: 'star-question' })).rejects.toThrow(
      /unknown column "Question" \(a column of nps-v1 only; type is star-rating-v1\)/,
    );
    expect(env.sim.requests).toHaveLength(0);
  });

  it('formula guard: a cell starting with TAB or CR gets a quote too (and stays as is when off)', async () => {
    const day = { start: Date.UTC(2026, 6, 8), end: Date.UTC(2026, 6, 9) };
    env.sim.addFeedback([
      { date: day.start + 1000, contextId: 1, userId: 1, score: 2, comment: '\t=1+1', app: '\rcmd' },
      { date: day.start + 2000, contextId: 1, userId: 2, score: 3, comment: 'not\tat start', app: 'a\rb' },
    ]);
    const guarded = parseCsv((await archived((await env.run(day, { format: 'csv' }, { scheduleId: 'guard-on' })).result)).toString('utf8'));
    expect(guarded.slice(1).map((r) => [r[2], r[3]])).toEqual([
      ["'\t=1+1", "'\rcmd"],
      ['not\tat start', 'a\rb'],
    ]);
    const plain = parseCsv(
      (await archived((await env.run(day, { format: 'csv', formulaGuard: false }, { scheduleId: 'guard-off' })).result)).toString('utf8'),
    );
    expect(plain.slice(1).map((r) => [r[2], r[3]])).toEqual([
      ['\t=1+1', '\rcmd'],
      ['not\tat start', 'a\rb'],
    ]);
  });

  it('randomized: whatever extra keys rows carry, and wherever they first appear, csv holds every raw cell (seeded)', async () => {
    let run = 0;
    const key = fc.stringMatching(/^[a-z][a-z_]{0,7}$/).filter((k) => !NPS_KEYS.includes(k) && k !== 'type');
    const value = fc.oneof(fc.string(), fc.constantFrom('=x', '\tq', '\r', '-1', 'a,b', 'say "hi"', 'l1\nl2'));
    const row = fc.record({
      score: fc.integer({ min: 0, max: 10 }),
      questionid: fc.integer({ min: 0, max: 3 }),
      comment: value,
      extras: fc.dictionary(key, value, { maxKeys: 3 }),
    });
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 0, maxLength: 12 }), fc.boolean(), async (rows, nps) => {
        // One day per run: earlier runs' rows stay out of this window.
        const group = 'default';
        const start = Date.UTC(2027, 0, 1) + 86_400_000 * run++;
        const day = { start, end: start + 86_400_000 };
        const type = nps ? 'nps-v1' : 'star-rating-v1';
        env.sim.addFeedback(
          rows.map((r, i) => ({
            contextGroup: group,
            type,
            date: day.start + 1000 * (i + 1),
            contextId: 1,
            userId: i,
            score: nps ? r.score : 1 + (r.score % 5),
            ...(nps ? { questionid: r.questionid } : {}),
            comment: r.comment,
            extraKeys: r.extras,
          })),
        );
        const records: Array<Record<string, string>> = JSON.parse(
          (await directGet(env.sim, `/userfeedback/v1/export/${group}/${type}/raw`, oxBounds(day))).toString('utf8'),
        );
        const artifact = await exportFeedback(env.services.ox, {
          contextGroup: group,
          type,
          format: 'csv',
          gzip: false,
          window: day,
          spoolDir: env.spoolDir,
        });
        try {
          const table = parseCsv(await readFile(artifact.path, 'utf8'));
          const header = table[0]!;
          const known = nps ? NPS_KEYS : STAR_KEYS;
          const extras = [...new Set(rows.flatMap((r) => Object.keys(r.extras)))];
          // Known columns first in OX's order, then every extra key, each exactly once.
          expect(header.slice(0, known.length)).toEqual(nps ? NPS_HEADERS : NPS_HEADERS.filter((h) => h !== 'Question'));
          expect(new Set(header.slice(known.length))).toEqual(new Set(extras));
          expect(header).toHaveLength(known.length + extras.length);
          const keys = [...known, ...header.slice(known.length)];
          expect(table.slice(1)).toEqual(records.map((rec) => keys.map((k) => (k in rec ? csvValue(k, rec[k]!) : ''))));
          expect(artifact.keysLeftOut).toEqual([]);
          expect(new Set(artifact.keysSeen)).toEqual(new Set(records.flatMap((r) => Object.keys(r))));
        } finally {
          await artifact.cleanup();
        }
      }),
      { seed, numRuns: 25, verbose: true },
    );
  });
});

describe('ox-batch run (CLI): nps-v1 as csv keeps Question', () => {
  let env: ExportEnv;
  const redis = plainRedis();
  beforeAll(async () => {
    env = await startExportEnv();
    env.sim.loadFixture(JSON.parse(await readFile(FIXTURE, 'utf8')));
  });
  afterAll(async () => {
    await deleteKeys(redis, env.prefix);
    await redis.quit();
    await env?.close();
  });

  it('writes the nps-v1 columns with Question through the real CLI', async () => {
    const environment = {
      ...process.env,
      OXB_CONFIG: '',
      OX_URL: env.sim.url,
      OX_USER: 'oxadmin',
      OX_PASSWORD: 'secret',
      REDIS_URL,
      OXB_REDIS_PREFIX: env.prefix,
      OXB_ARCHIVE: 'fs',
      OXB_ARCHIVE_DIR: env.archiveDir,
      LOG_LEVEL: 'warn',
    };
    const args = [
      await bundledCli(),
      'run',
      'feedback.export',
      '--start',
      '2026-11-01',
      '--end',
      '2026-11-02',
      '--param',
      'type=nps-v1',
      '--param',
      'format=csv',
    ];
    const { code, stdout, stderr } = await runChild(process.execPath, args, { env: environment, timeoutMs: 60_000 });
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as { result?: Result } & Result;
    const key = (result.result ?? result).archive.key;
    const rows = parseCsv(await readFile(join(env.archiveDir, key), 'utf8'));
    expect(rows[0]).toEqual(NPS_HEADERS);
    expect(rows.slice(1).map((r) => r[2])).toEqual(['0', '3', '1', '2']);
  });
});
