import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { chromium, type Browser } from 'playwright-core';
import { mountDashboard } from '../../src/http/dashboard.js';
import { createHttpApp } from '../../src/http/http-server.js';
import { Metrics } from '../../src/http/metrics.js';
import { silentLogger } from '../../src/log/logger.js';
import { loadConfig, packageRoot } from '../../src/config/load-config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { jobKinds } from '../../jobs/index.js';
import { ScheduleState } from '../../src/queue/schedule-state.js';
import { join } from 'node:path';
import { sameOriginToken } from '../../src/http/same-origin.js';
import { waitFor } from '../daemon/helpers.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
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

const prefix = `oxbt-${randomUUID().slice(0, 8)}`;
const USER = 'operator';
const PASSWORD = `pw-${randomUUID()}`;

// Queue and scheduler names as an ox-batch deployment has them: one queue per job kind, one
// scheduler per configured schedule.
const QUEUES: Record<string, string[]> = {
  'feedback.export': ['feedback-daily', 'feedback-hourly'],
  'feedback.purge': ['feedback-purge'],
  'ads.sync': ['ads-sync'],
  'passwd.audit': ['passwd-audit'],
};

let redis: Redis;
const queues: Queue[] = [];
const servers: Server[] = [];

async function serve(ui: { user?: string; password?: string; allowActions: boolean }, daemonApp = false): Promise<string> {
  // The daemon's own app with the dashboard added through its mountDashboard hook, or a bare one.
  const app = daemonApp
    ? createHttpApp({
        metrics: new Metrics(),
        readiness: async () => ({ ready: true, checks: {} }),
        log: silentLogger(),
        mountDashboard: (a) => mountDashboard(a, queues, ui),
      })
    : express();
  if (!daemonApp) mountDashboard(app, queues, ui);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  for (const [name, schedulers] of Object.entries(QUEUES)) {
    const queue = new Queue(name, { connection: redis, prefix });
    queue.on('error', () => undefined);
    for (const id of schedulers) {
      await queue.upsertJobScheduler(id, { pattern: '0 2 * * *', tz: 'Europe/Berlin' }, { name: 'tick', data: { schedule: id } });
    }
    queues.push(queue);
  }
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  for (const queue of queues) await queue.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('dashboard access control (real HTTP requests)', () => {
  it('is switched off with a clear message when no credentials are configured', async () => {
    const base = await serve({ allowActions: false });
    for (const path of ['/ui', '/ui/', '/ui/api/queues', '/ui/job-schedulers']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toMatch(/dashboard is disabled: no credentials are configured.*UI_USER/);
    }
    // A password alone is not enough: both must be set.
    const half = await serve({ password: PASSWORD, allowActions: true });
    expect((await fetch(`${half}/ui/api/queues`, { headers: { authorization: basic('', PASSWORD) } })).status).toBe(404);
  });

  it('asks for Basic auth, refuses wrong credentials and serves the board to the right ones', async () => {
    const base = await serve({ user: USER, password: PASSWORD, allowActions: false });
    const anonymous = await fetch(`${base}/ui/api/queues`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="ox-batch dashboard"/);
    expect(await anonymous.text()).not.toContain('feedback.export');

    const wrong = await fetch(`${base}/ui/api/queues`, { headers: { authorization: basic(USER, 'nope') } });
    expect(wrong.status).toBe(401);
    const garbage = await fetch(`${base}/ui/`, { headers: { authorization: 'Bearer abc' } });
    expect(garbage.status).toBe(401);

    const ok = await fetch(`${base}/ui/api/queues`, { headers: { authorization: basic(USER, PASSWORD) } });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
    expect(body.queues.map((q) => q.name).sort()).toEqual(Object.keys(QUEUES).sort());
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
  });

  it('mounts through the daemon HTTP server hook without hiding /healthz, /readyz or /metrics', async () => {
    const base = await serve({ user: USER, password: PASSWORD, allowActions: false }, true);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('oxb_job_runs_total');
    expect((await fetch(`${base}/ui/`)).status).toBe(401);
    const page = await fetch(`${base}/ui/`, { headers: { authorization: basic(USER, PASSWORD) } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<base href="\/ui\/"/);
  });

  it('is read-only unless ui.allowActions: changes are refused and nothing changes', async () => {
    const base = await serve({ user: USER, password: PASSWORD, allowActions: false });
    const res = await fetch(`${base}/ui/api/queues/feedback.export/pause`, {
      method: 'PUT',
      headers: { authorization: basic(USER, PASSWORD) },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/read-only.*ui\.allowActions/);
    const removed = await fetch(`${base}/ui/api/queues/ads.sync/job-schedulers/ads-sync/remove`, {
      method: 'PUT',
      headers: { authorization: basic(USER, PASSWORD) },
    });
    expect(removed.status).toBe(403);
    expect(await queues[0]!.isPaused()).toBe(false);
    expect(await queues.find((q) => q.name === 'ads.sync')!.getJobScheduler('ads-sync')).toBeTruthy();

    const open = await serve({ user: USER, password: PASSWORD, allowActions: true });
    const listed = (await (await fetch(`${open}/ui/api/queues`, { headers: { authorization: basic(USER, PASSWORD) } })).json()) as {
      queues: Array<{ readOnlyMode: boolean }>;
    };
    expect(listed.queues.every((q) => !q.readOnlyMode)).toBe(true);
  });
});

/** A job of `queue` that failed (a worker ran it and it threw for good). */
async function failedJob(queue: Queue, name: string): Promise<string> {
  const job = await queue.add(
    name,
    { type: 'window', scheduleId: 'feedback-daily', job: 'feedback.export', start: 0, end: 1, params: {} },
    { jobId: `${name}-${randomUUID().slice(0, 6)}` },
  );
  const worker = new Worker(
    queue.name,
    async () => {
      throw new UnrecoverableError('boom');
    },
    { connection: redis.duplicate(), prefix, autorun: true },
  );
  try {
    await waitFor(async () => (await job.getState()) === 'failed', `job ${job.id} to fail`, 10_000, 25);
  } finally {
    await worker.close();
  }
  expect(await job.getState()).toBe('failed');
  return job.id!;
}

describe('dashboard actions: an allow-list, and only with same-origin proof (raw HTTP requests)', () => {
  const token = sameOriginToken(USER, PASSWORD);
  let base: string;
  let exportQueue: Queue;
  const auth = { authorization: basic(USER, PASSWORD) };

  beforeAll(async () => {
    base = await serve({ user: USER, password: PASSWORD, allowActions: true });
    exportQueue = queues.find((q) => q.name === 'feedback.export')!;
  });

  const put = (path: string, headers: Record<string, string> = {}, method = 'PUT', body?: unknown) =>
    fetch(`${base}/ui${path}`, {
      method,
      headers: { ...auth, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const host = () => new URL(base).host;

  it('puts the token inline in the page (never in a script another site could include)', async () => {
    const page = await (await fetch(`${base}/ui/`, { headers: auth })).text();
    expect(page).toContain(`<meta name="oxb-csrf" content="${token}">`);
    const script = await (await fetch(`${base}/ui/oxb-same-origin.js`, { headers: auth })).text();
    expect(script).toContain('x-oxb-csrf');
    expect(script).not.toContain(token);
    expect((await fetch(`${base}/ui/oxb-same-origin.js`)).status).toBe(401);
  });

  it('refuses a change without the token, with a wrong one, from another origin or another site', async () => {
    const id = await failedJob(exportQueue, 'csrf');
    const path = `/api/queues/feedback.export/${id}/retry`;
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /x-oxb-csrf header is missing/],
      [{ 'x-oxb-csrf': 'forged' }, /x-oxb-csrf header is wrong/],
      [{ 'x-oxb-csrf': token, origin: 'https://evil.example' }, /Origin https:\/\/evil.example is not this host/],
      [{ 'x-oxb-csrf': token, origin: `http://${host()}`, 'sec-fetch-site': 'cross-site' }, /Sec-Fetch-Site is cross-site/],
    ];
    for (const [headers, message] of cases) {
      const res = await put(path, headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
    }
    // Basic auth is still checked first: the token alone is worth nothing.
    expect((await fetch(`${base}/ui${path}`, { method: 'PUT', headers: { 'x-oxb-csrf': token } })).status).toBe(401);
    expect(await (await exportQueue.getJob(id))!.getState()).toBe('failed');
  });

  it('retries a failed job with same-origin proof, and refuses to retry a completed one', async () => {
    const id = await failedJob(exportQueue, 'retry');
    const proof = { 'x-oxb-csrf': token, origin: `http://${host()}`, 'sec-fetch-site': 'same-origin' };
    const res = await put(`/api/queues/feedback.export/${id}/retry`, proof);
    expect(res.status).toBe(204);
    expect(['waiting', 'prioritized']).toContain(await (await exportQueue.getJob(id))!.getState());
    // A curl with the token and no Origin (not a browser) passes the same-origin check; the job
    // is no longer failed, so the allow-list refuses it.
    const again = await put(`/api/queues/feedback.export/${id}/retry`, { 'x-oxb-csrf': token });
    expect(again.status).toBe(403);
    expect(((await again.json()) as { error: string }).error).toMatch(/only a failed job can be retried from here \(this one is waiting/);
  });

  it('removes a single job, and refuses everything outside the allow-list (nothing changes)', async () => {
    const proof = { 'x-oxb-csrf': token, origin: `http://${host()}` };
    const waiting = await exportQueue.add('x', { keep: true }, { jobId: `remove-${randomUUID().slice(0, 6)}` });
    const kept = await exportQueue.add('x', { keep: true }, { jobId: `keep-${randomUUID().slice(0, 6)}` });
    const refused: Array<[string, string, unknown?]> = [
      ['POST', '/api/queues/feedback.export/add', { name: 'x', data: { type: 'window' } }],
      ['PATCH', `/api/queues/feedback.export/${kept.id}/update-data`, { jobData: { params: { force: true } } }],
      ['PATCH', `/api/queues/feedback.export/${kept.id}/delay`, { delay: 1000 }],
      ['PATCH', `/api/queues/feedback.export/${kept.id}/priority`, { priority: 1 }],
      ['PUT', '/api/queues/feedback.export/obliterate'],
      ['PUT', '/api/queues/feedback.export/empty'],
      ['PUT', '/api/queues/feedback.export/clean/completed'],
      ['PUT', '/api/queues/feedback.export/retry/completed'],
      ['PUT', '/api/queues/feedback.export/pause'],
      ['PUT', '/api/queues/pause'],
      ['PUT', '/api/queues/feedback.export/concurrency', { concurrency: 1 }],
      ['PUT', '/api/queues/ads.sync/job-schedulers/ads-sync/remove'],
      ['PATCH', '/api/queues/ads.sync/job-schedulers/ads-sync', { every: 1000 }],
      ['PUT', '/api/queues/ads.sync/job-schedulers/ads-sync/run'],
    ];
    for (const [method, path, body] of refused) {
      const res = await put(path, proof, method, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(((await res.json()) as { error: string }).error, `${method} ${path}`).toMatch(
        /refused: not an allowed dashboard action\. Allowed: retry failed jobs, promote delayed jobs, remove single jobs/,
      );
    }
    expect((await exportQueue.getJob(kept.id!))!.data).toEqual({ keep: true });
    expect(await exportQueue.isPaused()).toBe(false);
    expect(await queues.find((q) => q.name === 'ads.sync')!.getJobScheduler('ads-sync')).toBeTruthy();
    expect(await exportQueue.getWaitingCount()).toBeGreaterThanOrEqual(2);

    const removed = await put(`/api/queues/feedback.export/${waiting.id}/clean`, proof);
    expect(removed.status).toBeLessThan(300);
    expect(await exportQueue.getJob(waiting.id!)).toBeUndefined();
    expect(await exportQueue.getJob(kept.id!)).toBeTruthy();
  });
});

describe('dashboard in a real browser (Debian chromium via playwright-core)', () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: apt-get install -y chromium (.ci/run does it in CI)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('shows every queue and every job scheduler after logging in', async () => {
    const base = await serve({ user: USER, password: PASSWORD, allowActions: false });

    const anonymous = await browser!.newContext();
    // Headless Chromium has no login prompt: an auth challenge it cannot answer fails navigation.
    const refused = await (await anonymous.newPage()).goto(`${base}/ui/`).then(
      (r) => `status ${r?.status()}`,
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/status 401|ERR_INVALID_AUTH_CREDENTIALS/);
    await anonymous.close();

    const context = await browser!.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
    const page = await context.newPage();
    const response = await page.goto(`${base}/ui/`);
    expect(response?.status()).toBe(200);
    for (const name of Object.keys(QUEUES)) {
      await page.getByText(name, { exact: true }).first().waitFor({ timeout: 20_000 });
    }

    await page.goto(`${base}/ui/job-schedulers`);
    for (const id of Object.values(QUEUES).flat()) {
      await page.getByText(id, { exact: true }).first().waitFor({ timeout: 20_000 });
    }
    const text = await page.locator('body').innerText();
    for (const id of Object.values(QUEUES).flat()) expect(text).toContain(id);
    await context.close();
  }, 90_000);

  it('retries failed jobs from the board: the page sends the same-origin token with the change', async () => {
    const base = await serve({ user: USER, password: PASSWORD, allowActions: true });
    const queue = queues.find((q) => q.name === 'feedback.export')!;
    const id = await failedJob(queue, 'browser');
    const context = await browser!.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
    try {
      const page = await context.newPage();
      const requests: Array<{ method: string; url: string; token?: string }> = [];
      page.on('request', (r) => {
        if (r.method() !== 'GET') requests.push({ method: r.method(), url: r.url(), token: r.headers()['x-oxb-csrf'] });
      });
      await page.goto(`${base}/ui/queue/feedback.export?status=failed`);
      await page.getByText(id).first().waitFor({ timeout: 20_000 });
      await page.getByRole('button', { name: 'Retry all' }).click();
      await page.getByRole('button', { name: 'Confirm' }).click();
      await waitFor(async () => (await (await queue.getJob(id))!.getState()) !== 'failed', 'Retry all to move the failed job', 10_000, 100);
      expect(['waiting', 'prioritized']).toContain(await (await queue.getJob(id))!.getState());
      const retry = requests.find((r) => r.url.endsWith('/feedback.export/retry/failed'));
      expect(retry).toMatchObject({ method: 'PUT', token: sameOriginToken(USER, PASSWORD) });
    } finally {
      await context.close();
    }
  }, 90_000);

  it('on a running daemon with the example schedules: both queues and one scheduler per schedule', async () => {
    const daemonPrefix = `${prefix}-d`;
    const config = loadConfig({
      file: join(packageRoot(), 'config', 'schedules.example.yaml'),
      env: {},
      overrides: {
        redis: { url: REDIS_URL, prefix: daemonPrefix },
        http: { host: '127.0.0.1', port: 0 },
        ui: { user: USER, password: PASSWORD },
        logging: { level: 'silent' },
      },
    });
    // Ticks of a new scheduler fire at once: paused, so no job of the example runs here.
    const state = new ScheduleState(redis, daemonPrefix);
    for (const id of Object.keys(config.schedules)) await state.setPaused(id, true);
    const daemon = await Daemon.start({ config, kinds: jobKinds, log: silentLogger(), port: 0 });
    const context = await browser!.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
    try {
      const page = await context.newPage();
      await page.goto(`${daemon.http!.url}/ui/`);
      for (const name of ['jobs', 'ticks']) await page.getByText(name, { exact: true }).first().waitFor({ timeout: 20_000 });
      await page.goto(`${daemon.http!.url}/ui/job-schedulers`);
      for (const id of Object.keys(config.schedules)) {
        await page.getByText(`tick.${id}`, { exact: true }).first().waitFor({ timeout: 20_000 });
      }
    } finally {
      await context.close();
      await daemon.stop({ graceMs: 1_000 });
      const keys = await redis.keys(`${daemonPrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
  }, 90_000);
});
