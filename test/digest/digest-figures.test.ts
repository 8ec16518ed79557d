/**
 * Digest figures against hand-computed ones, on fixtures written by OX's documented CSV rules
 * (test/digest/fixtures: the same rows as OX's CSV and as its raw JSON), for both feedback types,
 * an empty window, one row and a window with only detractors — through both feeders (raw records,
 * and the byte scanner over OX's CSV however the bytes are split into chunks).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DigestAccumulator } from '../../src/digest/digest-accumulator.js';
import type { WindowFigures } from '../../src/digest/digest-types.js';
import { OxCsvDigestScanner } from '../../src/digest/ox-csv-digest-scanner.js';
import { OxCsvRowCounter } from '../../src/export/ox-csv-row-counter.js';
import { csvCell } from '../../src/sim/ox-csv-writer.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const SEED = Number(process.env.FC_SEED ?? 1414);

function records(name: string): Array<Record<string, string>> {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Array<Record<string, string>>;
}

function fromRecords(type: string, rows: Array<Record<string, string>>, comments = 5): WindowFigures {
  const digest = new DigestAccumulator(type, { comments });
  for (const row of rows) digest.addRecord(row);
  return digest.figures();
}

function fromCsv(type: string, bytes: Buffer, cuts: number[] = [], comments = 5): WindowFigures & { unreadable: number } {
  const digest = new DigestAccumulator(type, { comments });
  const scanner = new OxCsvDigestScanner(digest);
  const counter = new OxCsvRowCounter(';', (b, s, e, cut) => scanner.row(b, s, e, cut));
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    counter.update(bytes.subarray(at, cut));
    at = cut;
  }
  counter.update(bytes.subarray(at));
  counter.finish();
  expect(counter.rows).toBe(digest.rows);
  expect(scanner.unavailable).toBeUndefined();
  return { ...digest.figures(), unreadable: scanner.unreadableRows };
}

function both(name: string, type: string, comments = 5): { raw: WindowFigures; csv: WindowFigures } {
  const csv = fromCsv(type, readFileSync(join(FIXTURES, `${name}.csv`)), [], comments);
  expect(csv.unreadable).toBe(0);
  const { unreadable: _u, ...figures } = csv;
  return { raw: fromRecords(type, records(name), comments), csv: figures };
}

/** OX writes " as ' in its CSV: the one difference the two feeders may show. */
function asOxWouldWrite(figures: WindowFigures): WindowFigures {
  return { ...figures, comments: figures.comments.map((c) => ({ ...c, text: c.text.replaceAll('"', "'") })) };
}

describe('digest figures, star-rating-v1 (hand-computed)', () => {
  it('7 rows: mean, 1..5 distribution, apps, clients and the comments worth reading', () => {
    const { raw, csv } = both('star-rating-7-rows', 'star-rating-v1');
    for (const figures of [raw, csv]) {
      expect(figures).toMatchObject({ type: 'star-rating-v1', scale: 'stars', rows: 7, invalidScores: 0 });
      // scores 5 4 1 2 5 3 1: sum 21 over 7
      expect(figures.scores).toEqual({ answers: 7, mean: 3, distribution: [2, 1, 1, 1, 2] });
      expect(figures.questions).toBeUndefined();
      expect(figures.apps).toEqual([
        { app: 'mail', rows: 3, answers: 3, mean: 3.67, distribution: [1, 0, 0, 0, 2] },
        { app: 'calendar', rows: 2, answers: 2, mean: 2.5, distribution: [1, 0, 0, 1, 0] },
        { app: 'drive', rows: 1, answers: 1, mean: 2, distribution: [0, 1, 0, 0, 0] },
        { app: '', rows: 1, answers: 1, mean: 3, distribution: [0, 0, 1, 0, 0] },
      ]);
      expect(figures.otherApps).toBeUndefined();
      expect(figures.browsers).toEqual({
        values: [
          { value: 'Chrome', rows: 3 },
          { value: 'Safari', rows: 2 },
          { value: 'Firefox', rows: 2 },
        ],
        distinct: 3,
        capped: false,
      });
      expect(figures.operatingSystems.values).toEqual([
        { value: 'Windows', rows: 4 },
        { value: 'MacOS', rows: 1 },
        { value: 'Linux', rows: 1 },
        { value: 'iOS', rows: 1 },
      ]);
      expect(figures.languages.values).toEqual([
        { value: 'en_US', rows: 4 },
        { value: 'de_DE', rows: 2 },
        { value: 'fr_FR', rows: 1 },
      ]);
      // Lowest score first (1, 1, 2, 4, 5), among equal scores the longest; the empty one is not worth reading.
      expect(figures.comments.map((c) => [c.score, c.date.slice(11), c.app])).toEqual([
        [1, '09:00:00', 'mail'],
        [1, '12:00:00', 'calendar'],
        [2, '09:30:00', 'drive'],
        [4, '08:10:00', 'calendar'],
        [5, '10:00:00', 'mail'],
      ]);
      // The formula guard and the pipe escape of OX's CSV are undone; line breaks read as \n.
      expect(figures.comments[0]).toMatchObject({ text: "=cmd|' /C calc'!A0", length: 18, truncated: false });
      expect(figures.comments[2]).toMatchObject({ text: 'Line one\nline two, and longer text here', length: 39 });
    }
    expect(raw.comments[3]!.text).toBe('Nice "new" calendar');
    expect(csv.comments[3]!.text).toBe("Nice 'new' calendar");
    expect(csv).toEqual(asOxWouldWrite(raw));
  });

  it('digestComments chooses how many comments: 2, and 0 for none', () => {
    expect(both('star-rating-7-rows', 'star-rating-v1', 2).csv.comments.map((c) => c.date.slice(11))).toEqual(['09:00:00', '12:00:00']);
    expect(both('star-rating-7-rows', 'star-rating-v1', 0).raw.comments).toEqual([]);
  });

  it('one row', () => {
    const { raw, csv } = both('star-rating-1-row', 'star-rating-v1');
    for (const figures of [raw, csv]) {
      expect(figures.rows).toBe(1);
      expect(figures.scores).toEqual({ answers: 1, mean: 4, distribution: [0, 0, 0, 1, 0] });
      expect(figures.apps).toEqual([{ app: 'mail', rows: 1, answers: 1, mean: 4, distribution: [0, 0, 0, 1, 0] }]);
      expect(figures.comments).toEqual([{ score: 4, app: 'mail', date: '2026-11-01 08:00:00', length: 4, text: 'Fine', truncated: false }]);
    }
  });

  it('an empty window: zero rows, no mean, nothing listed', () => {
    const { raw, csv } = both('star-rating-empty', 'star-rating-v1');
    for (const figures of [raw, csv]) {
      expect(figures).toEqual({
        type: 'star-rating-v1',
        scale: 'stars',
        rows: 0,
        invalidScores: 0,
        scores: { answers: 0, mean: null, distribution: [0, 0, 0, 0, 0] },
        apps: [],
        browsers: { values: [], distinct: 0, capped: false },
        operatingSystems: { values: [], distinct: 0, capped: false },
        languages: { values: [], distinct: 0, capped: false },
        comments: [],
      });
    }
  });

  it('a score that is not 1..5 counts as a row, not in the figures', () => {
    const rows = records('star-rating-7-rows').slice(0, 2);
    const figures = fromRecords('star-rating-v1', [
      ...rows,
      { ...rows[0]!, score: '0' },
      { ...rows[0]!, score: '' },
      { ...rows[0]!, score: '4.5' },
      { ...rows[0]!, score: '6' },
    ]);
    expect(figures).toMatchObject({ rows: 6, invalidScores: 4, scores: { answers: 2, mean: 4.5, distribution: [0, 0, 0, 1, 1] } });
  });
});

describe('digest figures, nps-v1 (hand-computed)', () => {
  it('8 rows over two questions: NPS, promoters/passives/detractors and the 0..10 distribution, per question and per app', () => {
    const { raw, csv } = both('nps-v1-8-rows', 'nps-v1');
    for (const figures of [raw, csv]) {
      expect(figures).toMatchObject({ type: 'nps-v1', scale: 'nps', rows: 8, invalidScores: 0 });
      // 10 9 8 6 | 0 7 10 3: promoters 3, passives 2, detractors 3; 0 is a valid score.
      expect(figures.scores).toEqual({
        answers: 8,
        mean: 6.63,
        distribution: [1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 2],
        nps: 0,
        promoters: 3,
        passives: 2,
        detractors: 3,
      });
      expect(figures.questions).toEqual([
        {
          question: '0',
          answers: 4,
          mean: 8.25,
          distribution: [0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1],
          nps: 25,
          promoters: 2,
          passives: 1,
          detractors: 1,
        },
        {
          question: '1',
          answers: 4,
          mean: 5,
          distribution: [1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1],
          nps: -25,
          promoters: 1,
          passives: 1,
          detractors: 2,
        },
      ]);
      expect(figures.apps.map((a) => [a.app, a.rows, a.nps, a.mean, a.questions!.map((q) => [q.question, q.nps])])).toEqual([
        [
          'mail',
          4,
          0,
          5.5,
          [
            ['0', 100],
            ['1', -100],
          ],
        ],
        ['calendar', 2, -50, 7, [['0', -50]]],
        ['drive', 2, 50, 8.5, [['1', 50]]],
      ]);
      expect(figures.comments.map((c) => [c.score, c.question, c.text])).toEqual([
        [0, '1', "Terrible search, can't find anything"],
        [3, '1', 'meh'],
        [6, '0', 'Too slow'],
        [9, '0', 'Love it'],
        [10, '1', 'Great'],
      ]);
    }
    expect(csv).toEqual(raw);
  });

  it('only detractors: NPS −100', () => {
    const { raw, csv } = both('nps-v1-only-detractors', 'nps-v1');
    for (const figures of [raw, csv]) {
      expect(figures.scores).toMatchObject({ answers: 3, mean: 3.67, nps: -100, promoters: 0, passives: 0, detractors: 3 });
      expect(figures.questions).toEqual([
        {
          question: '2',
          answers: 3,
          mean: 3.67,
          distribution: [1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0],
          nps: -100,
          promoters: 0,
          passives: 0,
          detractors: 3,
        },
      ]);
      expect(figures.apps.map((a) => [a.app, a.nps])).toEqual([
        ['mail', -100],
        ['portal', -100],
      ]);
    }
  });

  it('an empty nps-v1 window: no NPS', () => {
    const { raw, csv } = both('nps-v1-empty', 'nps-v1');
    for (const figures of [raw, csv]) {
      expect(figures.scores).toEqual({
        answers: 0,
        mean: null,
        distribution: Array(11).fill(0),
        nps: null,
        promoters: 0,
        passives: 0,
        detractors: 0,
      });
      expect(figures.questions).toEqual([]);
    }
  });
});

describe('the OX CSV scanner', () => {
  it("reads the fixtures exactly as the simulator writes cells (the fixtures follow OX's rules)", () => {
    for (const name of ['star-rating-7-rows', 'nps-v1-8-rows']) {
      const text = readFileSync(join(FIXTURES, `${name}.csv`), 'utf8');
      const rows = records(name);
      const lines = text
        .slice(1)
        .split(/\r(?!\n)/)
        .filter(Boolean);
      rows.forEach((row, i) => expect(lines[i + 1]).toBe(Object.values(row).map(csvCell).join(';')));
    }
  });

  it('gives the same figures however the bytes are split into chunks (seeded, FC_SEED to replay)', () => {
    const bytes = readFileSync(join(FIXTURES, 'nps-v1-8-rows.csv'));
    const expected = fromRecords('nps-v1', records('nps-v1-8-rows'));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const { unreadable, ...figures } = fromCsv('nps-v1', bytes, cuts);
        expect(unreadable).toBe(0);
        expect(figures).toEqual(expected);
      }),
      { seed: SEED, numRuns: 300 },
    );
  }, 120_000);

  it('agrees with the raw-record path on random rows of both types, any delimiter and chunking (seeded)', () => {
    const text = fc.string({
      unit: fc.oneof(
        fc.constantFrom('"', "'", '|', ';', ',', '\r', '\n', '\r\n', '=', '+', '-', '@', ' ', '€', '🙂'),
        fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }),
      ),
      maxLength: 30,
    });
    const row = (nps: boolean) =>
      fc.record({
        score: fc.oneof(fc.integer({ min: 0, max: 11 }).map(String), fc.constantFrom('', 'x', '-1')),
        questionid: nps ? fc.constantFrom('0', '1', '2', '3', '') : fc.constant(undefined),
        comment: text,
        app: fc.constantFrom('mail', 'calendar', '', '=app', 'a|b', 'drive'),
        operating_system: fc.constantFrom('Windows', 'MacOS', ''),
        browser: fc.constantFrom('Chrome', 'Firefox', '+x'),
        language: fc.constantFrom('en_US', 'de_DE', ''),
        user_agent: text,
      });
    fc.assert(
      fc.property(
        fc
          .boolean()
          .chain((nps) =>
            fc.tuple(
              fc.constant(nps),
              fc.array(row(nps), { maxLength: 25 }),
              fc.constantFrom(';', ',', '\t', '§'),
              fc.array(fc.nat(), { maxLength: 8 }),
            ),
          ),
        ([nps, rows, delimiter, cutSeeds]) => {
          const type = nps ? 'nps-v1' : 'star-rating-v1';
          const headers = [
            'Date',
            'Score',
            ...(nps ? ['Question'] : []),
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
          const keys = [
            'date',
            'score',
            ...(nps ? ['questionid'] : []),
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
          const raw = rows.map((r, i) => {
            const full: Record<string, string> = {
              date: `2026-11-01 10:00:${String(i).padStart(2, '0')}`,
              entry_point: 'main',
              browser_version: '1.0',
              screen_resolution: '1x1',
              user: 'ab',
              server_version: '7',
              client_version: '8',
            };
            for (const [k, v] of Object.entries(r)) if (v !== undefined) full[k] = v;
            return full;
          });
          const csv = Buffer.from(
            `\uFEFF${headers.map(csvCell).join(delimiter)}\r${raw.map((r) => `${keys.map((k) => csvCell(r[k] ?? '')).join(delimiter)}\r`).join('')}`,
            'utf8',
          );
          const cuts = cutSeeds.map((n) => 1 + (n % Math.max(1, csv.length - 1)));
          const { unreadable, ...figures } = fromCsv(type, csv, cuts);
          expect(unreadable).toBe(0);
          // OX's CSV cannot tell " from ' and writes line breaks as CRLF: compare what both can know.
          const fromRaw = fromRecords(
            type,
            raw.map((r) => ({ ...r, comment: oxNormalised(r.comment!), app: oxNormalised(r.app!), browser: oxNormalised(r.browser!) })),
          );
          expect(figures).toEqual(fromRaw);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  }, 120_000);

  it('says the digest is unavailable for a header it cannot read, and counts nothing', () => {
    const digest = new DigestAccumulator('star-rating-v1');
    const scanner = new OxCsvDigestScanner(digest);
    const counter = new OxCsvRowCounter(';', (b, s, e, cut) => scanner.row(b, s, e, cut));
    counter.update(Buffer.from('\uFEFF"Date";"Comment"\r"2026-11-01 00:00:00";"x"\r'));
    counter.finish();
    expect(scanner.unavailable).toMatch(/header is not one the digest can read \(Date, Comment\)/);
    expect(digest.rows).toBe(0);
  });
});

/**
 * What a value looks like after OX's CSV and our reading of it: " → ', line breaks → CRLF, and a
 * leading ' before = + - @ reads as OX's formula guard (before | it cannot: OX escapes that pipe).
 */
function oxNormalised(value: string): string {
  const text = value.replaceAll('"', "'").replace(/\r\n|\r|\n/g, '\r\n');
  return /^'[=+\-@]/.test(text) ? text.slice(1) : text;
}
