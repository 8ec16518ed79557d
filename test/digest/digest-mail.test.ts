/**
 * The digest mail end to end. `ox-batch run feedback-daily` (a CLI process, Redis ledger, OX
 * simulator, fs archive, smtp-server) exports six days in a row; the last day's mail is parsed
 * with mailparser (HTML part, inline PNG by cid, text part, the CSV attachment unchanged), its
 * figures are checked against the ledger's digests of the days before, and its HTML is rendered in
 * headless Chromium, whose screenshot must show the chart (non-blank, the expected size, both
 * bar colours). In-process runs cover digest: false, mail via OX's send, and an empty window.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import type { FeedbackDigest } from '../../src/digest/digest-types.js';
import { CHART_CID } from '../../src/digest/digest-html.js';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { deleteKeys, plainRedis, REDIS_URL, testPrefix } from '../daemon/helpers.js';
import { startExportEnv, type ExportEnv } from '../export/helpers/export-env.js';

const DAY = 86_400_000;
const FIRST = Date.UTC(2026, 10, 1);
const day = (i: number) => ({ start: FIRST + i * DAY, end: FIRST + (i + 1) * DAY });
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SPAWNING = 180_000;

interface ExportResult {
  rows: number;
  digest?: FeedbackDigest;
  archive?: { key: string; manifestKey: string };
  mail: Array<{ messageId?: string; accepted: string[] }>;
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** The captured mails as sent: mailparser would otherwise turn `cid:` links into data: URLs. */
function parsedKeepingCids(env: ExportEnv): Promise<ParsedMail[]> {
  return Promise.all(env.smtp!.messages.map((m) => simpleParser(m.raw, { keepCidLinks: true })));
}

/** What a mail client does with `cid:` references: show the related part. */
function htmlWithInlineImages(mail: ParsedMail): string {
  let html = mail.html as string;
  for (const a of mail.attachments) {
    if (a.cid) html = html.replaceAll(`cid:${a.cid}`, `data:${a.contentType};base64,${a.content.toString('base64')}`);
  }
  return html;
}

describe('the digest mail of a scheduled window (CLI run, Redis ledger, smtp-server, Chromium)', () => {
  let env: ExportEnv;
  let bundle: Awaited<ReturnType<typeof bundleCli>>;
  let dir: string;
  let browser: Browser;
  const prefix = testPrefix();
  const redis = plainRedis();
  const ledger = new RedisLedger(redis, prefix);
  let mails: ParsedMail[];
  let results: ExportResult[];

  beforeAll(async () => {
    [env, bundle, browser] = await Promise.all([
      startExportEnv({ smtp: true }),
      bundleCli(),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS }),
    ]);
    for (let i = 0; i < 6; i++) env.sim.generateFeedback({ rows: 150 + 30 * i, from: day(i).start, to: day(i).end, seed: 100 + i });
    dir = mkdtempSync(join(tmpdir(), 'oxbt-digest-mail-'));
    const configFile = join(dir, 'ox-batch.yaml');
    writeFileSync(
      configFile,
      [
        `ox: { url: "${env.sim.url}", retry: { attempts: 2, baseDelayMs: 1ms, maxDelayMs: 5ms } }`,
        `redis: { url: "${REDIS_URL}", prefix: ${prefix} }`,
        `archive: { kind: fs, dir: "${join(dir, 'archive')}" }`,
        `spool: { dir: "${join(dir, 'spool')}" }`,
        `mail: { smtp: "${env.smtp!.url}", from: "ox-batch@example.com" }`,
        'logging: { level: warn }',
        'schedules:',
        '  feedback-daily:',
        '    job: feedback.export',
        '    cron: "30 2 * * *"',
        '    tz: UTC',
        '    window: 1d',
        '    startAt: 2026-11-01',
        '    params: { deliver: [archive, mail], mailTo: "Product <pm@example.com>" }',
        '',
      ].join('\n'),
    );
    const run = await runCli(
      bundle.entry,
      ['--config', configFile, 'run', 'feedback-daily', '--start', '2026-11-01', '--end', '2026-11-07'],
      { OX_USER: 'oxadmin', OX_PASSWORD: 'secret' },
    );
    expect(run.code, run.stderr).toBe(0);
    mails = await parsedKeepingCids(env);
    results = [];
    for (let i = 0; i < 6; i++) results.push((await ledger.getWindow({ scheduleId: 'feedback-daily', ...day(i) }))!.result as ExportResult);
  }, SPAWNING);

  afterAll(async () => {
    await browser?.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
    await env?.close();
    bundle?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the digest in the ledger result and the manifest, with the comparison against earlier windows', async () => {
    expect(mails).toHaveLength(6);
    results.forEach((r, i) =>
      expect(r.digest).toMatchObject({
        rows: 150 + 30 * i,
        type: 'star-rating-v1',
        window: { start: new Date(day(i).start).toISOString() },
      }),
    );
    const last = results[5]!.digest!;
    const manifest = JSON.parse(readFileSync(join(dir, 'archive', results[5]!.archive!.manifestKey), 'utf8')) as {
      digest: FeedbackDigest;
      rows: number;
    };
    expect(manifest.digest).toEqual(last);
    // The previous window's own figures, read back from its ledger result: no second export.
    const previous = results[4]!.digest!;
    expect(last.history!.previous).toEqual({
      start: previous.window!.start,
      end: previous.window!.end,
      rows: previous.rows,
      mean: previous.scores.mean,
      distribution: previous.scores.distribution,
    });
    expect(last.history!.change.previous!.rows).toBe(30);
    expect(last.history!.change.previous!.mean).toBeCloseTo(last.scores.mean! - previous.scores.mean!, 2);
    const four = results.slice(1, 5).map((r) => r.digest!);
    expect(last.history!.lastFour).toMatchObject({ windows: 4, rows: four.reduce((a, d) => a + d.rows, 0) / 4 });
    expect(last.history!.lastFour!.mean).toBeCloseTo(four.reduce((a, d) => a + d.scores.mean!, 0) / 4, 2);
    expect(last.history!.trend.map((p) => p.rows)).toEqual([150, 180, 210, 240, 270, 300]);
    expect(results[0]!.digest!.history).toMatchObject({ previous: null, lastFour: null, change: { previous: null, lastFour: null } });
  });

  it('mails an HTML part with the chart inline by cid, a text part with the same figures, and the CSV attached unchanged', async () => {
    const mail = mails.find((m) => m.subject?.includes('2026-11-06T00:00:00Z to'))!;
    const digest = results[5]!.digest!;
    expect(typeof mail.html).toBe('string');
    expect((mail.html as string).includes(`src="cid:${CHART_CID}"`)).toBe(true);
    const image = mail.attachments.find((a) => a.cid === CHART_CID)!;
    expect(image).toMatchObject({ contentType: 'image/png', related: true, contentDisposition: 'inline' });
    expect(pngSize(image.content)).toEqual({ width: 1200, height: 520 });
    const files = mail.attachments.filter((a) => !a.related);
    expect(files.map((a) => a.filename)).toEqual(['star-rating-v1_20261106T000000Z_20261107T000000Z.csv']);
    expect(files[0]!.content.equals(await readFile(join(dir, 'archive', results[5]!.archive!.key)))).toBe(true);

    const text = mail.text!;
    expect(text).toContain('Feedback export of schedule feedback-daily');
    expect(text).toContain(`Rows: ${digest.rows}`);
    expect(text).toContain(`Star rating (1-5): mean ${digest.scores.mean!.toFixed(2)} over ${digest.scores.answers} answers`);
    const change = digest.history!.change.previous!;
    expect(text).toContain(`Against the previous window: mean ${change.mean! > 0 ? '+' : change.mean! < 0 ? '−' : '±'}`);
    for (const c of digest.comments) expect(text).toContain(c.text.split('\n')[0]!);
    // The HTML carries the same figures.
    expect(mail.html).toContain(`>${digest.scores.mean!.toFixed(2)}<`);
    expect(mail.html).toContain(digest.apps[0]!.app);
  });

  it('renders in headless Chromium with the chart visible: the expected size, not blank, this window and the previous one', async () => {
    const mail = mails.find((m) => m.subject?.includes('2026-11-06T00:00:00Z to'))!;
    const page = await browser.newPage({ viewport: { width: 720, height: 1000 } });
    try {
      await page.setContent(htmlWithInlineImages(mail), { waitUntil: 'load' });
      const img = page.locator('img').first();
      // Page scripts as text: this project compiles without the DOM library.
      const box = await page.evaluate(
        `(() => { const el = document.querySelector('img'); const r = el.getBoundingClientRect(); return { complete: el.complete, natural: [el.naturalWidth, el.naturalHeight], shown: [r.width, r.height] }; })()`,
      );
      expect(box).toEqual({ complete: true, natural: [1200, 520], shown: [600, 260] });
      const shot = await img.screenshot();
      writeFileSync(join(dir, 'chart-screenshot.png'), shot);
      expect(pngSize(shot)).toEqual({ width: 600, height: 260 });
      // Read the screenshot's pixels back in the page: a blank or broken image is one colour.
      const pixels = (await page.evaluate(`(async () => {
        const image = new Image();
        image.src = 'data:image/png;base64,${shot.toString('base64')}';
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = image.width;
        canvas.height = image.height;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(image, 0, 0);
        const { data } = ctx.getImageData(0, 0, image.width, image.height);
        let inked = 0, blue = 0, grey = 0;
        for (let i = 0; i < data.length; i += 4) {
          const r = data[i], g = data[i + 1], b = data[i + 2];
          if (r < 240 || g < 240 || b < 240) inked++;
          if (Math.abs(r - 0x2f) < 24 && Math.abs(g - 0x6f) < 24 && Math.abs(b - 0xdf) < 24) blue++;
          if (Math.abs(r - 0xb5) < 12 && Math.abs(g - 0xbf) < 12 && Math.abs(b - 0xcc) < 12) grey++;
        }
        return { total: data.length / 4, inked, blue, grey };
      })()`)) as { total: number; inked: number; blue: number; grey: number };
      expect(pixels.total).toBe(600 * 260);
      expect(pixels.inked / pixels.total).toBeGreaterThan(0.05);
      expect(pixels.blue).toBeGreaterThan(500); // this window's bars and the trend line
      expect(pixels.grey).toBeGreaterThan(300); // the previous window's bars
    } finally {
      await page.close();
    }
  });
});

describe('digest mail variants (in-process runs)', () => {
  let env: ExportEnv;
  const window = day(20);
  beforeAll(async () => {
    env = await startExportEnv({ smtp: true });
    env.sim.generateFeedback({ rows: 120, from: window.start, to: window.end, seed: 5 });
  });
  afterAll(async () => {
    await env?.close();
  });

  const lastMail = async () => (await parsedKeepingCids(env)).at(-1)!;

  it('digest: false mails the plain text and the file only; the result has no digest', async () => {
    const outcome = await env.run(window, { deliver: ['mail'], mailTo: 'a@example.com', digest: false }, { scheduleId: 'no-digest' });
    expect((outcome.result as ExportResult).digest).toBeUndefined();
    const mail = await lastMail();
    expect(mail.html || undefined).toBeUndefined();
    expect(mail.attachments.map((a) => a.contentType)).toEqual(['text/csv']);
    expect(mail.text).not.toContain('Feedback digest');
  });

  it('digest: true without mail puts the digest in the manifest and the result only', async () => {
    const before = env.smtp!.messages.length;
    const outcome = await env.run(window, { deliver: ['archive'], digest: true, digestComments: 2 }, { scheduleId: 'archive-digest' });
    const result = outcome.result as ExportResult;
    expect(result.digest).toMatchObject({ rows: 120 });
    expect(result.digest!.comments).toHaveLength(2);
    expect(await env.services.archive.readJson(result.archive!.manifestKey)).toMatchObject({ digest: { rows: 120 } });
    expect(env.smtp!.messages.length).toBe(before);
  });

  it('via ox: OX mails its own export, with the digest figures in the body it sends', async () => {
    await env.run(window, { deliver: ['mail'], mailTo: 'ox@example.com', via: 'ox' }, { scheduleId: 'via-ox' });
    const mail = await lastMail();
    expect(mail.text).toContain('Feedback digest: star-rating-v1');
    expect(mail.text).toContain('Rows: 120');
  });

  it('an empty window: the HTML says so, no chart, the (header-only) file attached', async () => {
    const empty = day(-31);
    const outcome = await env.run(empty, { deliver: ['mail'], mailTo: 'b@example.com' }, { scheduleId: 'empty' });
    expect((outcome.result as ExportResult).digest).toMatchObject({ rows: 0, scores: { answers: 0, mean: null } });
    const mail = await lastMail();
    expect(mail.html).toContain('No feedback in this window.');
    expect(mail.html).not.toContain('cid:');
    expect(mail.attachments.map((a) => a.filename)).toEqual(['star-rating-v1_20261001T000000Z_20261002T000000Z.csv']);
    expect(mail.text).toContain('No feedback in this window.');
  });
});

describe('the digest is the same for every format (job runs against the simulator)', () => {
  let env: ExportEnv;
  const window = day(25);
  beforeAll(async () => {
    env = await startExportEnv();
    env.sim.generateFeedback({ rows: 3000, from: window.start, to: window.end, seed: 77 });
  });
  afterAll(async () => {
    await env?.close();
  });

  it("ox-csv (byte scanner), jsonl (raw records) and csv (its transcoder's rows), gzipped or not: equal figures, comments as OX CSV writes them", async () => {
    const digests: FeedbackDigest[] = [];
    for (const [i, params] of [
      { format: 'ox-csv' },
      { format: 'ox-csv', compress: 'gzip' },
      { format: 'jsonl' },
      { format: 'jsonl', compress: 'gzip' },
      { format: 'csv' },
      { format: 'csv', compress: 'gzip' },
    ].entries()) {
      const outcome = await env.run(window, { ...params, digest: true, digestComments: 8 }, { scheduleId: `formats-${i}` });
      const result = outcome.result as ExportResult & { digestUnavailable?: string };
      expect(result.digestUnavailable).toBeUndefined();
      expect(result.digest!.rows).toBe(3000);
      digests.push(result.digest!);
    }
    const comparable = (d: FeedbackDigest) => ({
      ...d,
      history: undefined,
      comments: d.comments.map((c) => ({ ...c, text: c.text.replaceAll('"', "'") })),
    });
    for (const d of digests.slice(1)) expect(comparable(d)).toEqual(comparable(digests[0]!));
    expect(digests[0]!.comments).toHaveLength(8);

    // nps-v1 as the simulator serves it (Question after Score, questionid, scores 0..10).
    env.sim.generateFeedback({ rows: 2000, from: window.start, to: window.end, seed: 78, type: 'nps-v1' });
    const nps: FeedbackDigest[] = [];
    for (const [i, format] of ['ox-csv', 'jsonl', 'csv'].entries()) {
      const outcome = await env.run(window, { type: 'nps-v1', format, digest: true }, { scheduleId: `nps-${i}` });
      nps.push((outcome.result as ExportResult).digest!);
    }
    expect(nps[0]).toMatchObject({ type: 'nps-v1', scale: 'nps', rows: 2000, invalidScores: 0 });
    expect(nps[0]!.scores.distribution).toHaveLength(11);
    expect(nps[0]!.questions!.map((q) => q.question)).toEqual(['0', '1', '2', '3']);
    const { promoters = 0, detractors = 0, answers } = nps[0]!.scores;
    expect(nps[0]!.scores.nps).toBeCloseTo(((promoters - detractors) / answers) * 100, 1);
    expect(comparable(nps[1]!)).toEqual(comparable(nps[0]!));
    expect(comparable(nps[2]!)).toEqual(comparable(nps[0]!));

    // OX's answer breaks off and is read again from the start: the digest counts that read alone.
    for (const [i, format] of ['ox-csv', 'jsonl', 'csv'].entries()) {
      env.sim.setFaults({ pathPrefix: '/userfeedback/v1/export', script: [{ dropAfterBytes: 500_000 }] });
      const outcome = await env.run(window, { format, digest: true, digestComments: 8 }, { scheduleId: `cut-${i}` });
      env.sim.setFaults(undefined);
      const result = outcome.result as ExportResult & { oxRetries?: number };
      expect(result.oxRetries).toBe(1);
      expect(comparable(result.digest!)).toEqual(comparable(digests[0]!));
    }
  });
});
