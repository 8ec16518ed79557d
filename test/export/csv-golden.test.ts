/**
 * Golden test of the `csv` format: for every fixture and option set, the bytes exportFeedback
 * writes equal those of the csv-stringify implementation it replaced (helpers/reference-csv.ts),
 * which reads the same raw export through the OX client's record parser.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportFeedback } from '../../src/export/export-feedback.js';
import { knownColumns, selectColumns } from '../../src/export/feedback-columns.js';
import { ColumnsGrew, RawColumns } from '../../src/export/raw-columns.js';
import type { OxApi } from '../../src/ox/types.js';
import { referenceCsv } from './helpers/reference-csv.js';
import { startExportEnv, type ExportEnv } from './helpers/export-env.js';

const FIXTURE = fileURLToPath(new URL('../sim/fixtures/both-types.json', import.meta.url));
const DAY = 86_400_000;

export interface CsvOptions {
  delimiter?: string;
  header?: boolean;
  formulaGuard?: boolean;
  columns?: string[];
}

/** What the replaced implementation wrote for this window: raw records → csv-stringify. */
export async function referenceBytes(
  ox: OxApi,
  query: { contextGroup: string; type: string; start: number; end: number },
  options: CsvOptions,
): Promise<Buffer> {
  let extraKeys: readonly string[] = [];
  for (;;) {
    const columns = new RawColumns(knownColumns(query.type), selectColumns(options.columns, query.type), extraKeys);
    const parts: string[] = [];
    try {
      for await (const text of referenceCsv(
        ox.exportRaw(query),
        {
          columns,
          delimiter: options.delimiter ?? ',',
          header: options.header ?? true,
          formulaGuard: options.formulaGuard ?? true,
        },
        { rows: 0 },
      ))
        parts.push(text);
      return Buffer.from(parts.join(''), 'utf8');
    } catch (err) {
      if (!(err instanceof ColumnsGrew)) throw err;
      extraKeys = err.extraKeys;
    }
  }
}

async function fastBytes(
  env: ExportEnv,
  query: { contextGroup: string; type: string; start: number; end: number },
  options: CsvOptions,
): Promise<Buffer> {
  const artifact = await exportFeedback(env.services.ox, {
    contextGroup: query.contextGroup,
    type: query.type,
    format: 'csv',
    gzip: false,
    window: { start: query.start, end: query.end },
    spoolDir: env.spoolDir,
    ...options,
  });
  try {
    return await readFile(artifact.path);
  } finally {
    await artifact.cleanup();
  }
}

const OPTION_SETS: CsvOptions[] = [
  {},
  { delimiter: ';' },
  { delimiter: '\t', header: false },
  { delimiter: '|', formulaGuard: false },
  { delimiter: "'" },
  { delimiter: '-' },
  { delimiter: ' ' },
  { delimiter: 'e' },
  { delimiter: '§' },
  { columns: ['Comment', 'date', 'score'] },
];

const TRICKY = [
  'He said "great" and left',
  'line one\nline two',
  'windows\r\nbreak',
  'old mac\rbreak',
  'semi;colon, and comma',
  'Grüße aus Köln, 日本語, emoji 🎉',
  "=cmd|' /C calc'!A0",
  '+SUM(A1:A2)',
  '-1 is my score',
  '@import data',
  '|pipe first',
  '\ttab first',
  '\rcr first',
  '',
  ' ',
  '"',
  '""',
  '\\',
  'back\\slash',
  '\u2028\u2029 separators',
  '\u0000nul',
  '\u007fdel',
  'quote at end"',
  ',',
  ';',
  "'",
  "it's",
  'a\tb',
  'x'.repeat(300),
];

describe('csv golden: the fast path writes what csv-stringify wrote', () => {
  let env: ExportEnv;
  const windows: Array<{ name: string; query: { contextGroup: string; type: string; start: number; end: number } }> = [];
  beforeAll(async () => {
    env = await startExportEnv();
    env.sim.loadFixture(JSON.parse(await readFile(FIXTURE, 'utf8')));
    windows.push({
      name: 'fixture star-rating-v1',
      query: { contextGroup: 'default', type: 'star-rating-v1', start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 10, 2) },
    });
    windows.push({
      name: 'fixture nps-v1',
      query: { contextGroup: 'default', type: 'nps-v1', start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 10, 2) },
    });
    const tricky = Date.UTC(2026, 0, 5);
    env.sim.addFeedback(
      TRICKY.map((comment, i) => ({
        date: tricky + 1000 * (i + 1),
        contextId: 2,
        userId: i,
        score: 1 + (i % 5),
        comment,
        app: TRICKY[(i + 3) % TRICKY.length],
        entry_point: TRICKY[(i + 7) % TRICKY.length],
        language: TRICKY[(i + 11) % TRICKY.length],
      })),
    );
    windows.push({
      name: 'tricky values in every column',
      query: { contextGroup: 'default', type: 'star-rating-v1', start: tricky, end: tricky + DAY },
    });
    const extras = Date.UTC(2026, 0, 9);
    env.sim.addFeedback(
      [0, 1, 2, 3].map((i) => ({
        type: 'nps-v1',
        date: extras + 1000 * (i + 1),
        contextId: 3,
        userId: i,
        score: i * 3,
        questionid: i,
        comment: TRICKY[i * 5],
        ...(i === 0
          ? { extraKeys: { mood: '=up' } as Record<string, string> }
          : i === 2
            ? { extraKeys: { late: 'a,b', mood: 'x"y' } }
            : {}),
      })),
    );
    windows.push({
      name: 'extra keys, one first seen in row 3',
      query: { contextGroup: 'default', type: 'nps-v1', start: extras, end: extras + DAY },
    });
    const generated = Date.UTC(2025, 5, 1);
    env.sim.generateFeedback({ rows: 3_000, from: generated, to: generated + DAY, seed: 5 });
    env.sim.generateFeedback({ rows: 3_000, from: generated, to: generated + DAY, seed: 6, type: 'nps-v1' });
    windows.push({
      name: 'generated star-rating-v1',
      query: { contextGroup: 'default', type: 'star-rating-v1', start: generated, end: generated + DAY },
    });
    windows.push({ name: 'generated nps-v1', query: { contextGroup: 'default', type: 'nps-v1', start: generated, end: generated + DAY } });
    windows.push({
      name: 'empty window',
      query: { contextGroup: 'default', type: 'nps-v1', start: Date.UTC(2020, 0, 1), end: Date.UTC(2020, 0, 2) },
    });
  });
  afterAll(async () => {
    await env?.close();
  });

  it('byte for byte on every fixture and option set', async () => {
    let compared = 0;
    for (const { name, query } of windows) {
      for (const options of OPTION_SETS) {
        const reference = await referenceBytes(env.services.ox, query, options);
        const fast = await fastBytes(env, query, options);
        expect(
          fast.equals(reference),
          `${name} ${JSON.stringify(options)}: first difference at byte ${firstDifference(fast, reference)}`,
        ).toBe(true);
        compared += 1;
      }
    }
    expect(compared).toBe(windows.length * OPTION_SETS.length);
  }, 180_000); // 140 exports: seconds on an idle machine, more on a shared one
});

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
