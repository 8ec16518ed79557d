/**
 * The window grid (`/ui/windows`) and its JSON API, served by a real `ox-batch start` process:
 * windows exported for real by `ox-batch run` from the simulator, the other states written to the
 * ledger as a worker would, every state shown in its colour, a cell opened, the actions (through
 * the backfill path) and their refusals, auth and same-origin protection, in raw HTTP and in
 * Debian's Chromium. `OXB_UPDATE_SCREENSHOTS=1` writes the screenshots into docs/.
 */
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { DateTime } from 'luxon';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { OxError } from '../../src/ox/ox-error.js';
import { ScheduleState } from '../../src/queue/schedule-state.js';
import { STATE_COLOURS } from '../../src/http/window-grid-page.js';
import { sameOriginToken } from '../../src/http/same-origin.js';
import { CELL_STATES } from '../../src/queue/window-cells.js';
import { listeningUrl, runCli } from '../cli/cli-kit.js';
import { processWorld } from './process-world.js';
import { REDIS_URL, ROOT, waitFor } from '../daemon/helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const USER = 'operator';
const PASSWORD = 'grid-pw-1';
const ZONE = 'Europe/Berlin';
const HOUR = 3_600_000;

const world = processWorld('grid');
const { prefix, redis, dir } = world;
const ledger = new RedisLedger(redis, prefix);
const start = (args: string[], env: Record<string, string> = {}) => world.start(args, env);
let base = '';

/** Midnight in Berlin `n` days before today's. */
const day = (n: number) => DateTime.now().setZone(ZONE).startOf('day').minus({ days: n }).toMillis();
const dayWindow = (n: number) => ({ scheduleId: 'export-daily', start: day(n), end: day(n - 1) });
const hourStart = DateTime.now().toUTC().startOf('hour').toMillis();
const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const token = sameOriginToken(USER, PASSWORD);

const failedError = new OxError({
  operation: 'feedback.export',
  kind: 'http',
  retryable: true,
  status: 500,
  oxCode: 'FEEDBACK-0003',
  errorDesc: 'Database connection lost',
  errorId: '1234567890-42',
  attempts: 5,
});

beforeAll(async () => {
  await world.ready();
  const sim = start([
    'sim',
    '--port',
    '0',
    '--feedback-rows',
    '600',
    '--from',
    new Date(day(45)).toISOString(),
    '--to',
    new Date().toISOString(),
  ]);
  const simUrl = await waitFor(() => /^(http:\/\/\S+)$/m.exec(sim.output())?.[1], 'simulator URL', 20_000);
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `ox: { url: "${simUrl}", user: oxadmin, password: secret }`,
      `redis: { url: "${REDIS_URL}", prefix: "${prefix}" }`,
      'http: { host: 127.0.0.1, port: 0 }',
      `ui: { user: ${USER}, password: ${PASSWORD}, allowActions: true }`,
      `archive: { kind: fs, dir: "${join(dir, 'archive')}" }`,
      'logging: { level: info }',
      'schedules:',
      `  export-daily: { job: feedback.export, cron: "30 2 * * *", tz: ${ZONE}, window: 1d, lag: 30m, catchUp: 3, startAt: "${new Date(day(20)).toISOString()}", params: { deliver: [archive] } }`,
      `  export-hourly: { job: feedback.export, cron: "5 * * * *", tz: UTC, window: 1h, lag: 0, catchUp: 6, startAt: "${new Date(hourStart - 48 * HOUR).toISOString()}", params: { contextGroup: other, deliver: [archive] } }`,
      '  feedback-purge: { job: feedback.purge, cron: "0 5 * * *", tz: Europe/Berlin, params: { retention: 30d, archiveSchedule: export-daily } }',
      '  ads-sync: { job: ads.sync, every: 15m, params: { catalog: config/catalog.example.yaml } }',
      '',
    ].join('\n'),
  );
  const env = { REDIS_URL };
  // Three windows exported for real (archive object + manifest), by the CLI.
  const ran = await runCli(
    world.entry,
    ['--config', config, 'run', 'export-daily', '--start', new Date(day(12)).toISOString(), '--end', new Date(day(9)).toISOString()],
    env,
  );
  if (ran.code !== 0) throw new Error(`ox-batch run failed: ${ran.stderr}`);
  // The other states, written as a worker writes them.
  await ledger.markQueued(dayWindow(8), 'feedback.export', 'w.a');
  await ledger.beginWindow(dayWindow(8), 'feedback.export', 3);
  await ledger.markFailed(dayWindow(8), 'feedback.export', `OxError: ${failedError.message}`);
  await ledger.beginWindow(dayWindow(7), 'feedback.export', 1);
  await ledger.markFailed(
    dayWindow(7),
    'feedback.export',
    'RefusedError: archive object export-daily/… holds a different export; nothing replaced',
  );
  await ledger.beginWindow(dayWindow(6), 'feedback.export', 1);
  await ledger.markQueued(dayWindow(5), 'feedback.export', 'w.b');
  for (let h = 47; h >= 30; h--) {
    const w = { scheduleId: 'export-hourly', start: hourStart - h * HOUR, end: hourStart - (h - 1) * HOUR };
    await ledger.markDone(w, 'feedback.export', { rows: h, bytes: 100 * h, sha256: 'ab'.repeat(32) });
  }
  await ledger.recordAttempt({
    job: 'feedback.purge',
    scheduleId: 'feedback-purge',
    state: 'done',
    startedAt: Date.now() - 5000,
    finishedAt: Date.now() - 4000,
    result: {
      dryRun: false,
      mode: 'verified',
      cutoffMs: day(11),
      ox: { deleted: true },
      guard: { scheduleId: 'export-daily', watermark: new Date(day(9)).toISOString() },
    },
  });
  await ledger.recordAttempt({
    job: 'ads.sync',
    scheduleId: 'ads-sync',
    state: 'done',
    startedAt: Date.now() - 9000,
    finishedAt: Date.now() - 8000,
    result: { changed: 2 },
  });
  await ledger.recordAttempt({
    job: 'ads.sync',
    scheduleId: 'ads-sync',
    state: 'failed',
    startedAt: Date.now() - 3000,
    finishedAt: Date.now() - 2000,
    error: failedError.message,
  });
  // Paused: no tick changes the states this test wrote. The scheduler role runs no job worker,
  // so windows the actions queue stay queued where the test can see them.
  const state = new ScheduleState(redis, prefix);
  for (const id of ['export-daily', 'export-hourly', 'feedback-purge', 'ads-sync']) await state.setPaused(id, true);
  const daemon = start(['--config', config, 'start', '--role', 'scheduler'], env);
  base = await waitFor(() => listeningUrl(daemon.output()), 'daemon HTTP server', 30_000);
}, 120_000);

afterAll(() => world.close());

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${base}/api/schedules${path}`, {
    ...init,
    headers: { authorization: basic, ...(init.headers as Record<string, string> | undefined) },
  });
const post = (path: string, body: unknown, headers: Record<string, string> = { 'x-oxb-csrf': token }) =>
  api(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
type Cell = { start: number; end: number; state: string; overdue: boolean; attempts?: number; error?: string };
async function cells(id: string, from: number, to: number): Promise<Cell[]> {
  const res = await api(`/${id}/windows?from=${from}&to=${to}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { cells: Cell[] }).cells;
}
const stateAt = (list: Cell[], start: number) => list.find((c) => c.start === start)?.state;

describe('window grid JSON API (raw HTTP against the daemon)', () => {
  it('needs the dashboard credentials', async () => {
    for (const path of ['/api/schedules', '/api/schedules/export-daily/windows', '/ui/windows']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    }
  });

  it('lists every schedule with its status and the purge markers on the export row it guards', async () => {
    const body = (await (await api('')).json()) as {
      schedules: Array<{
        id: string;
        windowed: boolean;
        markers: Array<{ purgeScheduleId: string; watermark?: number; cutoff?: number }>;
        lastRunFailure?: string;
      }>;
    };
    expect(body.schedules.map((s) => s.id)).toEqual(['export-daily', 'export-hourly', 'feedback-purge', 'ads-sync']);
    const daily = body.schedules.find((s) => s.id === 'export-daily')!;
    expect(daily.markers).toEqual([expect.objectContaining({ purgeScheduleId: 'feedback-purge', watermark: day(9), cutoff: day(11) })]);
    expect(body.schedules.find((s) => s.id === 'ads-sync')).toMatchObject({ windowed: false, lastRunFailure: 'failed' });
  });

  it('gives each window its state: done, failed, refused, running, queued, owed, gap, open, before', async () => {
    const list = await cells('export-daily', day(25), Date.now());
    expect(stateAt(list, day(12))).toBe('done');
    expect(stateAt(list, day(10))).toBe('done');
    expect(stateAt(list, day(8))).toBe('failed');
    expect(stateAt(list, day(7))).toBe('refused');
    expect(stateAt(list, day(6))).toBe('running');
    expect(stateAt(list, day(5))).toBe('queued');
    // catchUp 3: the three newest closed windows are owed, older missing ones are gaps.
    const owed = list.filter((c) => c.state === 'owed').map((c) => c.start);
    const lastClosed = Date.now() >= day(0) + 30 * 60_000 ? 1 : 2;
    expect(owed).toEqual([day(lastClosed + 2), day(lastClosed + 1), day(lastClosed)]);
    expect(stateAt(list, day(4))).toBe(owed.includes(day(4)) ? 'owed' : 'gap');
    expect(stateAt(list, day(15))).toBe('gap');
    expect(stateAt(list, day(0))).toBe('open');
    expect(stateAt(list, day(22))).toBe('before');
    expect(list.find((c) => c.start === day(8))).toMatchObject({ attempts: 3, overdue: true });
    expect(list.find((c) => c.start === day(15))?.overdue).toBe(true);
    expect(list.find((c) => c.start === day(0))?.overdue).toBe(false);
  });

  it('opens a window: rows, bytes, sha256, archive path, manifest; attempts with OX code, error_desc and error_id', async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the JSON API answer; the assertions check its shape
    const done = (await (await api(`/export-daily/windows/${new Date(day(11)).toISOString()}`)).json()) as Record<string, any>;
    expect(done.state).toBe('done');
    expect(done.rows).toBeGreaterThan(0);
    expect(done.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(done.archive.kind).toBe('fs');
    expect(existsSync(done.archive.location)).toBe(true);
    expect(done.manifest).toMatchObject({ sha256: done.sha256 });
    expect(done.durationMs).toBeGreaterThanOrEqual(0);

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the JSON API answer; the assertions check its shape
    const failed = (await (await api(`/export-daily/windows/${day(8)}`)).json()) as Record<string, any>;
    expect(failed.attemptErrors).toEqual([
      expect.objectContaining({
        attempt: 3,
        oxError: { status: 500, code: 'FEEDBACK-0003', errorDesc: 'Database connection lost', errorId: '1234567890-42' },
      }),
    ]);

    const misaligned = await api(`/export-daily/windows/${day(8) + 1}`);
    expect(misaligned.status).toBe(400);
    expect(((await misaligned.json()) as { error: string }).error).toMatch(/is not the start of a 1d window in Europe\/Berlin/);
    const runs = (await (await api('/ads-sync/runs')).json()) as { runs: Array<{ state: string; oxError?: unknown }> };
    expect(runs.runs.map((r) => r.state)).toEqual(['failed', 'done']);
    expect(runs.runs[0]!.oxError).toMatchObject({ code: 'FEEDBACK-0003', errorId: '1234567890-42' });
  });

  it('refuses actions without same-origin proof, and changes nothing', async () => {
    const forged: Array<Record<string, string>> = [
      {},
      { 'x-oxb-csrf': 'nope' },
      { 'x-oxb-csrf': token, origin: 'http://evil.example' },
      { 'x-oxb-csrf': token, 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of forged) {
      const res = await post(`/export-daily/windows/${day(8)}/retry`, {}, headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(((await res.json()) as { error: string }).error).toMatch(/same-origin proof/);
    }
    expect((await ledger.getWindow(dayWindow(8)))?.state).toBe('failed');
  });

  it('retries a failed window through the backfill path, and refuses a done one and a queued one', async () => {
    const done = await post(`/export-daily/windows/${day(10)}/retry`, {});
    expect(done.status).toBe(409);
    expect(((await done.json()) as { error: string }).error).toMatch(
      /export-daily .* is done: a done window runs again only with `ox-batch enqueue --force`/,
    );
    const res = await post(`/export-daily/windows/${day(8)}/retry`, {});
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ counts: { queued: 1 } });
    expect((await ledger.getWindow(dayWindow(8)))?.state).toBe('queued');
    const again = await post(`/export-daily/windows/${day(8)}/retry`, {});
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toMatch(/is queued, not failed/);
  });

  it('backfills the windows of a range like ox-batch backfill: done ones are left alone', async () => {
    const res = await post('/export-hourly/backfill', {
      from: new Date(hourStart - 31 * HOUR).toISOString(),
      to: new Date(hourStart - 27 * HOUR).toISOString(),
    });
    expect(res.status).toBe(200);
    const result = (await res.json()) as { counts: Record<string, number>; windows: Array<{ status: string }> };
    expect(result.counts).toMatchObject({ done: 2, queued: 2 });
    expect(result.windows.map((w) => w.status)).toEqual(['done', 'done', 'queued', 'queued']);
    // The closed-window rule of the backfill path: a range reaching into an open window is
    // refused as a whole, naming the window and when it closes; nothing is queued.
    const open = await post('/export-daily/backfill', { from: day(3), to: Date.now() });
    expect(open.status).toBe(409);
    expect(((await open.json()) as { error: string }).error).toMatch(
      /^export-daily window \S+ is still open: it closes at \S+ \(end \+ lag 30m\)/,
    );
    expect((await ledger.getWindow(dayWindow(3)))?.state).toBeUndefined();
    const bad = await post('/export-hourly/backfill', { from: '2026-13-01', to: 'x' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^to: "x" is not a time/);
  });
});

describe('window grid in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let evil: Server;
  const shots = join(dir, 'shots');

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium (.ci/run does it in CI)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, viewport: { width: 1440, height: 900 } });
    // The API tests retried the failed window: the browser gets one of its own.
    await ledger.beginWindow(dayWindow(14), 'feedback.export', 2);
    await ledger.markFailed(dayWindow(14), 'feedback.export', `OxError: ${failedError.message}`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (evil ? evil.close(resolve) : resolve(undefined)));
    if (process.env.OXB_UPDATE_SCREENSHOTS === '1') {
      for (const name of ['window-grid.png', 'window-grid-detail.png'])
        if (existsSync(join(shots, name))) copyFileSync(join(shots, name), join(ROOT, 'docs', name));
    }
  });

  it('asks for the credentials', async () => {
    const anonymous = await browser.newContext();
    const outcome = await (await anonymous.newPage()).goto(`${base}/ui/windows`).then(
      (r) => `status ${r?.status()}`,
      (err: Error) => err.message,
    );
    expect(outcome).toMatch(/status 401|ERR_INVALID_AUTH_CREDENTIALS/);
    await anonymous.close();
  });

  it('shows every state in its colour, the legend and the purge markers; a month of hours and a year of days stay one screen', async () => {
    const page = await context.newPage();
    const started = Date.now();
    const response = await page.goto(`${base}/ui/windows?from=${encodeURIComponent(new Date(day(25)).toISOString())}`);
    const loadMs = Date.now() - started;
    expect(response?.status()).toBe(200);
    // A string: the test sources are compiled without the DOM library.
    const colours = (await page.evaluate(`(() => {
      const out = {};
      document.querySelectorAll('section[data-schedule="export-daily"] .c[data-state]').forEach((el) => { out[el.dataset.state] = getComputedStyle(el).backgroundColor; });
      return out;
    })()`)) as Record<string, string>;
    const rgb = (hex: string) =>
      `rgb(${parseInt(hex.slice(1, 3), 16)}, ${parseInt(hex.slice(3, 5), 16)}, ${parseInt(hex.slice(5, 7), 16)})`;
    for (const state of CELL_STATES) expect(colours[state], state).toBe(rgb(STATE_COLOURS[state]));
    for (const state of CELL_STATES) await page.locator(`[data-legend="${state}"]`).waitFor();
    expect(await page.locator('section[data-schedule="export-daily"] .m-wm').count()).toBeGreaterThan(0);
    expect(await page.locator('section[data-schedule="export-daily"] .m-cut').count()).toBeGreaterThan(0);
    expect(await page.locator('section[data-schedule="export-daily"] .c.overdue').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(shots, 'window-grid.png') });

    // A year of daily windows and a month of hourly ones (720 cells) fit the screen.
    const yearStarted = Date.now();
    await page.goto(`${base}/ui/windows?from=${encodeURIComponent(new Date(day(365)).toISOString())}`);
    const yearMs = Date.now() - yearStarted;
    const rendered = /rendered in (\d+) ms/.exec(await page.locator('header .meta').innerText())![1];
    expect(await page.locator('section[data-schedule="export-daily"] .c').count()).toBeGreaterThanOrEqual(365);
    expect(await page.evaluate('document.documentElement.scrollHeight')).toBeLessThanOrEqual(900);
    await page.goto(`${base}/ui/windows?from=${encodeURIComponent(new Date(Date.now() - 30 * 86_400_000).toISOString())}`);
    expect(await page.locator('section[data-schedule="export-hourly"] .c').count()).toBeGreaterThanOrEqual(720);
    expect(await page.evaluate('document.documentElement.scrollHeight')).toBeLessThanOrEqual(900);
    process.stdout.write(
      `window grid: 25 days loaded in ${loadMs} ms; a year of days + hours loaded in ${yearMs} ms, rendered by the daemon in ${rendered} ms\n`,
    );
    await page.close();
  }, 60_000);

  it('opens a cell: attempts with the OX error, then retries it (an action) and shows the refusal of a second retry', async () => {
    const page = await context.newPage();
    await page.goto(`${base}/ui/windows?from=${encodeURIComponent(new Date(day(25)).toISOString())}`);
    await page.locator(`section[data-schedule="export-daily"] .c[data-start="${day(7)}"]`).click();
    const panel = page.locator('#detail');
    await panel.getByText('refused', { exact: true }).waitFor();
    await expect.poll(() => panel.innerText()).toMatch(/holds a different export/);
    await page.locator(`section[data-schedule="export-daily"] .c[data-start="${day(14)}"]`).click();
    await panel.locator('td', { hasText: /^FEEDBACK-0003$/ }).waitFor();
    expect(await panel.innerText()).toMatch(/Database connection lost[\s\S]*1234567890-42/);
    await page.screenshot({ path: join(shots, 'window-grid-detail.png') });
    await panel.getByRole('button', { name: 'Retry this window' }).click();
    await expect.poll(() => page.locator('#status').innerText()).toMatch(/^export-daily: 1 queued, 0 failed ones queued again/);
    expect((await ledger.getWindow(dayWindow(14)))?.state).toBe('queued');
    await panel.getByRole('button', { name: 'Retry this window' }).click();
    await expect.poll(() => page.locator('#status').innerText()).toMatch(/is queued, not failed/);
    expect(await page.locator('#status').getAttribute('class')).toBe('err');

    // Today's window is open: backfilling it is refused by the closed-window rule.
    await page.locator(`section[data-schedule="export-daily"] .c[data-start="${day(0)}"]`).click();
    await panel.getByRole('button', { name: 'Backfill this window' }).click();
    await expect.poll(() => page.locator('#status').innerText()).toMatch(/is still open: it closes at/);
    expect(await ledger.getWindow({ scheduleId: 'export-daily', start: day(0), end: day(-1) })).toBeNull();

    // The done window opened: path, sha256, manifest.
    await page.locator(`section[data-schedule="export-daily"] .c[data-start="${day(11)}"]`).click();
    await expect.poll(() => panel.innerText()).toMatch(/sha256[\s\S]*[0-9a-f]{64}[\s\S]*Manifest/);
    await page.close();
  }, 60_000);

  it('a page of another site cannot make the browser act, even with the credentials cached', async () => {
    evil = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id="f" method="POST" action="${base}/api/schedules/export-daily/backfill"><input name="from" value="${day(20)}"><input name="to" value="${day(15)}"></form>
<script>fetch(${JSON.stringify(`${base}/api/schedules/export-daily/backfill`)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"from":0,"to":1}' }).finally(function () { document.getElementById('f').submit(); });</script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    // localhost is another origin than 127.0.0.1 (the daemon's).
    const evilUrl = `http://localhost:${(evil.address() as AddressInfo).port}/`;
    const page = await context.newPage();
    const answers: number[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/backfill')) answers.push(r.status());
    });
    await page.goto(evilUrl);
    await page.waitForURL(/backfill/, { timeout: 10_000 }).catch(() => undefined);
    await expect.poll(() => answers.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    // Unauthenticated tries answer 401 (the browser then sends the cached credentials): 403.
    expect(answers).toContain(403);
    expect(answers.filter((s) => s !== 401 && s !== 403)).toEqual([]);
    for (let n = 15; n <= 20; n++) expect((await ledger.getWindow(dayWindow(n)))?.state, `day ${n}`).toBeUndefined();
    await page.close();
  }, 60_000);
});
