/**
 * Runs the demo as `npm run demo` does (the built dist/ when it is current — `npm test` builds
 * first — else the TypeScript source through tsx) in a temp folder with its own Redis prefix, and
 * checks its summary against the files it wrote: archive objects and manifests, .eml mails, the
 * audit report.
 */
import { runChild } from '../helpers/child.js';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { simpleParser } from 'mailparser';
import { parse as parseCsv } from 'csv-parse/sync';
import { packageRoot } from '../../src/config/load-config.js';
import type { DemoSummary } from '../../src/demo/demo-summary.js';

const root = packageRoot();
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `oxbt-${randomUUID().slice(0, 8)}`;
let dir: string;
let redis: Redis;

/** `node dist/src/demo/demo.js` when dist is at least as new as the demo sources, else tsx. */
function demoCommand(): string[] {
  const built = join(root, 'dist', 'src', 'demo', 'demo.js');
  const sources = readdirSync(join(root, 'src', 'demo')).map((f) => statSync(join(root, 'src', 'demo', f)).mtimeMs);
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources)) return [built];
  return ['--import', 'tsx', join(root, 'src', 'demo', 'demo.ts')];
}

/** `timeoutMs` stays below the calling test's own timeout, so the demo never outlives its test. */
async function runDemo(env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runChild(process.execPath, demoCommand(), {
    cwd: root,
    env: { ...process.env, ...env },
    timeoutMs,
  });
  return { code, stdout, stderr };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oxb-demo-'));
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

describe('npm run demo', () => {
  it('says exactly that Redis does not answer, and how to get one (exit 1)', async () => {
    const port = await closedPort();
    const { code, stdout, stderr } = await runDemo(
      { REDIS_URL: `redis://127.0.0.1:${port}`, OXB_DEMO_DIR: join(dir, 'no-redis'), OXB_DEMO_PREFIX: prefix },
      25_000,
    );
    expect(code).toBe(1);
    expect(stderr).toContain(`Redis does not answer at redis://127.0.0.1:${port}`);
    expect(stderr).toMatch(/docker run .* redis/);
    expect(stderr).toContain('REDIS_URL=');
    expect(stdout).toBe('');
  }, 30_000);

  it('runs every step and its summary matches the files it wrote', async () => {
    const { code, stdout, stderr } = await runDemo({ REDIS_URL, OXB_DEMO_DIR: dir, OXB_DEMO_PREFIX: prefix }, 110_000);
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toContain('all steps succeeded');
    const summary = JSON.parse(await readFile(join(dir, 'demo', 'summary.json'), 'utf8')) as DemoSummary;
    const archiveDir = join(dir, 'archive');

    // Windows: the last 7 Berlin days, each archived with a manifest whose rows add up.
    expect(summary.windows.done).toBe(7);
    expect(summary.windows.keys).toHaveLength(7);
    let rows = 0;
    for (const key of summary.windows.keys) {
      expect(existsSync(join(archiveDir, key)), key).toBe(true);
      const manifest = JSON.parse(await readFile(join(archiveDir, `${key}.manifest.json`), 'utf8')) as { rows: number; bytes: number };
      expect(statSync(join(archiveDir, key)).size).toBe(manifest.bytes);
      rows += manifest.rows;
    }
    expect(rows).toBe(summary.windows.rows);
    expect(rows).toBeGreaterThan(0);
    expect(stdout).toContain(`windows   7 daily windows ${summary.windows.from} .. ${summary.windows.to}`);
    expect(stdout).toContain(`rows      ${rows} exported in the backfill`);

    // Files: what the summary counts is what is on disk.
    const onDisk = (await readdir(archiveDir, { recursive: true, withFileTypes: true })).filter(
      (e) => e.isFile() && !e.name.startsWith('.'),
    );
    const manifests = onDisk.filter((e) => e.name.endsWith('.manifest.json'));
    expect(summary.files.manifests).toHaveLength(manifests.length);
    expect(summary.files.data).toHaveLength(onDisk.length - manifests.length);
    expect(summary.files.data.length).toBe(summary.windows.done + summary.windows.historyDone + 1);
    expect(stdout).toContain(`files     ${summary.files.data.length} archive files + ${manifests.length} manifests`);

    // Mails: one per backfilled window with the artifact attached and its digest, one audit report.
    const emls = (await readdir(join(dir, 'mail'))).filter((f) => f.endsWith('.eml'));
    expect(emls).toHaveLength(summary.mails.count);
    expect(emls).toHaveLength(8);
    expect(stdout).toContain(`mails     8 in`);
    const parsed = await Promise.all(emls.map(async (f) => simpleParser(await readFile(join(dir, 'mail', f)))));
    const exports = parsed.filter((m) => /^OX feedback feedback-daily: /.test(m.subject ?? ''));
    expect(exports).toHaveLength(7);
    for (const mail of exports) {
      // The gzipped CSV, and the digest: HTML with its chart inline, figures in the text part.
      expect(mail.attachments.filter((a) => !a.related).map((a) => a.filename)).toEqual([expect.stringMatching(/\.csv\.gz$/)]);
      expect(mail.attachments.filter((a) => a.related).map((a) => a.contentType)).toEqual(['image/png']);
      expect(mail.html).toContain('Comments worth reading');
      expect(mail.text).toMatch(/Star rating \(1-5\): mean \d\.\d\d over \d+ answers/);
    }
    // Day by day: from the second window on, each digest compares with the day before.
    expect(exports.filter((m) => /Against the previous window: mean [+−±]/.test(m.text ?? ''))).toHaveLength(6);
    const audit = parsed.find((m) => /^OX password changes /.test(m.subject ?? ''))!;
    expect(audit.html).toContain('Flagged changes first');
    expect(new Set(parsed.map((m) => m.messageId)).size).toBe(8);

    // Purge: refused first (nothing archived before the week), then deleted up to the retention
    // cutoff, which the verified archive covers.
    expect(summary.purge.refusedFirst).toBe(true);
    expect(summary.purge.refusal).toMatch(/refused/);
    expect(summary.purge.rowsDeleted).toBeGreaterThan(0);
    expect(summary.purge.rowsDeleted + summary.purge.rowsLeft).toBe(summary.purge.rowsBefore);
    expect(Date.parse(summary.purge.guardWatermark!)).toBeGreaterThanOrEqual(Date.parse(summary.purge.cutoff!));
    expect(stdout).toContain(`purged    feedback before ${summary.purge.cutoff}`);

    // Ads: every catalog entry created.
    expect(summary.ads.created).toBeGreaterThan(0);
    expect(summary.ads.failed).toBe(0);

    // Audit: the report has one row per change and the flagged count matches its flag column.
    const report = parseCsv(await readFile(join(archiveDir, summary.audit.key!), 'utf8'), { columns: true }) as Array<
      Record<string, string>
    >;
    expect(report).toHaveLength(summary.audit.changes!);
    expect(report.filter((r) => r.flag !== '')).toHaveLength(summary.audit.flaggedRows!);
    expect(report.some((r) => r.client_id === 'curl/8.5.0' && /unknown-client/.test(r.flag!))).toBe(true);
    expect(report.some((r) => /burst/.test(r.flag!))).toBe(true);
  }, 120_000);
});
