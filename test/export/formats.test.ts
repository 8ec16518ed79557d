import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directGet, filesBelow, oxBounds, startExportEnv, type ExportEnv } from './helpers/export-env.js';

const DAY = 86_400_000;
const START = Date.UTC(2026, 10, 1);
const WINDOW = { start: START, end: START + DAY };
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

const TRICKY_COMMENTS = [
  'He said "great" and left',
  'line one\nline two',
  'windows\r\nbreak',
  'semi;colon, and comma',
  'Grüße aus Köln, 日本語, emoji 🎉',
  "=cmd|' /C calc'!A0",
  '+SUM(A1:A2)',
  '-1 is my score',
  '@import data',
  '|pipe first',
  '',
];

const RAW_KEYS = [
  'date',
  'score',
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
const HEADERS = [
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

const guarded = (text: string) => (/^[=+\-@|]/.test(text) ? `'${text}` : text);
const isoOf = (oxDate: string) => `${oxDate.replace(' ', 'T')}Z`;

describe('feedback.export formats', () => {
  let env: ExportEnv;
  let raw: Array<Record<string, string>>;
  beforeAll(async () => {
    env = await startExportEnv();
    env.sim.addFeedback(
      TRICKY_COMMENTS.map((comment, i) => ({
        date: START + 3_600_000 * (i + 1),
        contextId: 10 + i,
        userId: 3,
        score: (i % 5) + 1,
        comment,
        app: i === 3 ? '=HYPERLINK("x")' : 'mail',
        entry_point: 'toolbar',
        operating_system: 'Linux',
        browser: 'Firefox',
        browser_version: '130.0',
        user_agent: 'Mozilla/5.0 (X11; Linux x86_64)',
        screen_resolution: '1920x1080',
        language: 'de_DE',
        server_version: '7.10.6',
        client_version: '7.10.6',
      })),
    );
    // Noise outside the window on both sides.
    env.sim.addFeedback([
      { date: START - 1, contextId: 1, userId: 1, score: 1, comment: 'before' },
      { date: START + DAY, contextId: 1, userId: 1, score: 1, comment: 'after' },
    ]);
    raw = JSON.parse((await directGet(env.sim, '/userfeedback/v1/export/default/star-rating-v1/raw', oxBounds(WINDOW))).toString('utf8'));
    raw.sort((a, b) => a.date!.localeCompare(b.date!));
  });
  afterAll(async () => {
    await env?.close();
  });

  it('ox-csv: the archived file is byte-identical to a direct export of the window, with a manifest', async () => {
    const outcome = await env.run(WINDOW, {}, { scheduleId: 'fmt-oxcsv' });
    expect(outcome.status).toBe('done');
    const direct = await directGet(env.sim, '/userfeedback/v1/export/default/star-rating-v1', oxBounds(WINDOW));
    const result = outcome.result as {
      rows: number;
      bytes: number;
      sha256: string;
      archive: { key: string; manifestKey: string; verifiedAt: string; location: string };
    };
    expect(result.archive.key).toBe('fmt-oxcsv/default/star-rating-v1/2026/11/01/star-rating-v1_20261101T000000Z_20261102T000000Z.csv');
    const archived = await readFile(join(env.archiveDir, result.archive.key));
    expect(archived.equals(direct)).toBe(true);
    expect(archived.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(result.rows).toBe(TRICKY_COMMENTS.length);
    expect(result.bytes).toBe(direct.length);
    expect(result.sha256).toBe(sha256(direct));
    expect(result.archive.location).toBe(join(env.archiveDir, result.archive.key));
    const manifest = JSON.parse(await readFile(join(env.archiveDir, result.archive.manifestKey), 'utf8'));
    expect(manifest).toMatchObject({
      schedule: 'fmt-oxcsv',
      contextGroup: 'default',
      type: 'star-rating-v1',
      format: 'ox-csv',
      compress: 'none',
      window: { start: '2026-11-01T00:00:00.000Z', end: '2026-11-02T00:00:00.000Z' },
      rows: TRICKY_COMMENTS.length,
      bytes: direct.length,
      sha256: sha256(direct),
      oxUrl: env.sim.url,
    });
    expect(typeof manifest.exportedAt).toBe('string');
    expect(typeof manifest.toolVersion).toBe('string');
    expect(JSON.stringify(manifest)).not.toContain('secret');
    const record = await env.services.ledger.getWindow({ scheduleId: 'fmt-oxcsv', ...WINDOW });
    expect(record?.state).toBe('done');
    expect((record?.result as typeof result).archive.verifiedAt).toMatch(/^2\d{3}-/);
    expect(await filesBelow(env.spoolDir)).toEqual([]);
  });

  it('ox-csv + gzip: a .csv.gz whose content is the direct export', async () => {
    const outcome = await env.run(WINDOW, { compress: 'gzip' }, { scheduleId: 'fmt-gzip' });
    const result = outcome.result as { rows: number; sha256: string; archive: { key: string } };
    expect(result.archive.key.endsWith('.csv.gz')).toBe(true);
    const stored = await readFile(join(env.archiveDir, result.archive.key));
    const direct = await directGet(env.sim, '/userfeedback/v1/export/default/star-rating-v1', oxBounds(WINDOW));
    expect(gunzipSync(stored).equals(direct)).toBe(true);
    expect(result.sha256).toBe(sha256(stored));
    expect(result.rows).toBe(TRICKY_COMMENTS.length);
  });

  it('gzip compressionLevel: 1 and 9 give different files of the same content; the manifest says which', async () => {
    const direct = await directGet(env.sim, '/userfeedback/v1/export/default/star-rating-v1', oxBounds(WINDOW));
    const sizes: number[] = [];
    for (const level of [1, 9]) {
      const outcome = await env.run(WINDOW, { compress: 'gzip', compressionLevel: level }, { scheduleId: `fmt-gzip-${level}` });
      const result = outcome.result as { archive: { key: string; manifestKey: string }; compressionLevel: number };
      const stored = await readFile(join(env.archiveDir, result.archive.key));
      expect(gunzipSync(stored).equals(direct)).toBe(true);
      expect(result.compressionLevel).toBe(level);
      expect(JSON.parse(await readFile(join(env.archiveDir, result.archive.manifestKey), 'utf8')).compressionLevel).toBe(level);
      sizes.push(stored.length);
    }
    expect(sizes[0]).not.toBe(sizes[1]);
    for (const bad of [0, 10, 'fast', 2.5]) {
      await expect(env.run(WINDOW, { compress: 'gzip', compressionLevel: bad }, { scheduleId: 'fmt-gzip-bad' })).rejects.toThrow(
        /compressionLevel/,
      );
    }
  });

  it('csv: RFC 4180 with CRLF, OX headers, ISO dates, formula guard — field by field equal to the raw export', async () => {
    const outcome = await env.run(WINDOW, { format: 'csv' }, { scheduleId: 'fmt-csv' });
    expect(outcome.status).toBe('done');
    const result = outcome.result as { rows: number; archive: { key: string } };
    const text = await readFile(join(env.archiveDir, result.archive.key), 'utf8');
    expect(text.startsWith(`${HEADERS.join(',')}\r\n`)).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    const rows: string[][] = parse(text, { record_delimiter: '\r\n' });
    expect(rows[0]).toEqual(HEADERS);
    expect(rows.length - 1).toBe(raw.length);
    expect(result.rows).toBe(raw.length);
    for (const [i, record] of raw.entries()) {
      expect(rows[i + 1]).toEqual(RAW_KEYS.map((key) => (key === 'date' ? isoOf(record.date!) : guarded(record[key]!))));
    }
    // The cases the issue names, spelled out.
    const comments = rows.slice(1).map((r) => r[2]);
    expect(comments).toContain('He said "great" and left');
    expect(comments).toContain('line one\nline two');
    expect(comments).toContain('semi;colon, and comma');
    expect(comments).toContain('Grüße aus Köln, 日本語, emoji 🎉');
    expect(comments).toContain("'=cmd|' /C calc'!A0");
    expect(comments).toContain("'-1 is my score");
    expect(rows.slice(1).some((r) => r[3] === '\'=HYPERLINK("x")')).toBe(true);
    expect(text).toContain('"He said ""great"" and left"');
  });

  it('csv: chosen columns, delimiter, no header, formula guard off', async () => {
    const outcome = await env.run(
      WINDOW,
      { format: 'csv', columns: 'date,Comment,entry point', delimiter: ';', header: false, formulaGuard: false },
      { scheduleId: 'fmt-csv-cols' },
    );
    expect(outcome.status).toBe('done');
    const text = await readFile(join(env.archiveDir, (outcome.result as { archive: { key: string } }).archive.key), 'utf8');
    const rows: string[][] = parse(text, { delimiter: ';', record_delimiter: '\r\n' });
    expect(rows).toEqual(raw.map((r) => [isoOf(r.date!), r.comment, r.entry_point]));
    expect(text).toContain('"semi;colon, and comma"');
  });

  it('jsonl: one object per line, equal to the raw export records', async () => {
    const outcome = await env.run(WINDOW, { format: 'jsonl' }, { scheduleId: 'fmt-jsonl' });
    const result = outcome.result as { rows: number; archive: { key: string } };
    expect(result.archive.key.endsWith('.jsonl')).toBe(true);
    const text = await readFile(join(env.archiveDir, result.archive.key), 'utf8');
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual(raw);
    expect(Object.keys(JSON.parse(lines[0]!))).toEqual(RAW_KEYS);
    expect(result.rows).toBe(raw.length);
  });

  it('an empty window gives a header-only artifact and still a manifest', async () => {
    const empty = { start: Date.UTC(2025, 0, 1), end: Date.UTC(2025, 0, 2) };
    for (const format of ['ox-csv', 'csv', 'jsonl'] as const) {
      const outcome = await env.run(empty, { format }, { scheduleId: `fmt-empty-${format}` });
      expect(outcome.status).toBe('done');
      const result = outcome.result as { rows: number; archive: { key: string; manifestKey: string } };
      expect(result.rows).toBe(0);
      const content = await readFile(join(env.archiveDir, result.archive.key));
      if (format === 'ox-csv') {
        expect(content.equals(await directGet(env.sim, '/userfeedback/v1/export/default/star-rating-v1', oxBounds(empty)))).toBe(true);
        expect(content.toString('utf8')).toBe(`\uFEFF${HEADERS.map((h) => `"${h}"`).join(';')}\r`);
      }
      if (format === 'csv') expect(content.toString('utf8')).toBe(`${HEADERS.join(',')}\r\n`);
      if (format === 'jsonl') expect(content.length).toBe(0);
      const manifest = JSON.parse(await readFile(join(env.archiveDir, result.archive.manifestKey), 'utf8'));
      expect(manifest).toMatchObject({ rows: 0, format, bytes: content.length });
    }
  });

  it('a row stamped exactly at a window boundary lands in exactly one of two adjacent windows', async () => {
    const boundary = Date.UTC(2026, 5, 1, 12);
    env.sim.addFeedback([{ date: boundary, contextId: 7, userId: 7, score: 4, comment: 'on the boundary' }]);
    const before = { start: boundary - 3_600_000, end: boundary };
    const after = { start: boundary, end: boundary + 3_600_000 };
    const counts: number[] = [];
    for (const window of [before, after]) {
      const outcome = await env.run(window, { format: 'jsonl' }, { scheduleId: 'fmt-boundary' });
      const result = outcome.result as { rows: number; archive: { key: string } };
      const text = await readFile(join(env.archiveDir, result.archive.key), 'utf8');
      counts.push(text.split('\n').filter((l) => l.includes('on the boundary')).length);
      expect(result.rows).toBe(counts.at(-1));
    }
    expect(counts).toEqual([0, 1]);
  });

  it('rejects bad params before fetching anything', async () => {
    env.sim.resetRequests();
    await expect(env.run(WINDOW, { format: 'xml' }, { scheduleId: 'fmt-bad' })).rejects.toThrow(/format/);
    await expect(env.run(WINDOW, { format: 'csv', columns: 'Date,Mood' }, { scheduleId: 'fmt-bad' })).rejects.toThrow(
      /unknown column "Mood"/,
    );
    await expect(env.run(WINDOW, { subject: 'rows: {rowz}' }, { scheduleId: 'fmt-bad' })).rejects.toThrow(/\{rowz\}/);
    await expect(env.run(WINDOW, { contextGroup: '../etc' }, { scheduleId: 'fmt-bad' })).rejects.toThrow(/archive path/);
    await expect(env.run(WINDOW, { deliver: 'mail', mailTo: 'ops@example.com' }, { scheduleId: 'fmt-bad' })).rejects.toThrow(/SMTP_URL/);
    expect(env.sim.requests).toHaveLength(0);
  });
});
