/**
 * A transfer cut mid-body is started again inside the same call (the simulator sends the
 * headers and N bytes, then resets the connection, once): exports (OX CSV and raw), password
 * histories and catalogs over HTTP come back whole; `send` is never sent twice.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/ads/catalog-source.js';
import { OxClient } from '../../src/ox/ox-client.js';
import { OxError } from '../../src/ox/ox-error.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { collect, failure, oxConfig, readAll, SIM_CREDENTIALS, startSmtp } from './ox-test-kit.js';

const day = Date.UTC(2025, 6, 1);
const EXPORT = '/userfeedback/v1/export/default/star-rating-v1';
const window = { start: day, end: day + 86_400_000 };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a body cut mid-way is read again from the beginning', () => {
  let sim: OxSimulator;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let ox: OxClient;
  const events: Array<{ operation: string; status: number | 'network' }> = [];
  const requestsTo = (path: string) => sim.requests.filter((r) => r.path === path).length;

  beforeAll(async () => {
    smtp = await startSmtp();
    sim = await OxSimulator.start({
      credentials: { ...SIM_CREDENTIALS, contextAdmins: { '5': { user: 'ctx5admin', password: 'ctx5-Pa55' } } },
      smtpUrl: smtp.url,
    });
    sim.generateFeedback({ rows: 400, from: window.start, to: window.end, seed: 7 });
    sim.addUser({ contextId: 5, userId: 3, login: 'alice' });
    for (let i = 0; i < 4; i++)
      sim.addPasswordChange({ contextId: 5, userId: 3, date: day + i * 1000, client_id: `client-${i}`, client_address: '192.0.2.7' });
    ox = new OxClient(oxConfig(sim.url, { admin: { contexts: { '5': { user: 'ctx5admin', password: 'ctx5-Pa55' } } } }), {
      observer: (e) => events.push({ operation: e.operation, status: e.status }),
    });
  });
  afterEach(() => {
    sim.setFaults(undefined);
    sim.resetRequests();
    events.length = 0;
  });
  afterAll(async () => {
    await ox.close();
    await sim.close();
    await smtp.close();
  });

  it('OX CSV export: the second try is byte-identical to an uncut export, one retry, two requests counted', async () => {
    const whole = await ox.readExportCsv(window, (body) => readAll(body));
    expect(whole.retries).toBe(0);
    expect(whole.value.length).toBeGreaterThan(20_000);
    sim.resetRequests();
    events.length = 0;
    sim.setFaults({ pathPrefix: EXPORT, script: [{ dropAfterBytes: 9_000 }] });
    const seen: number[] = [];
    const cut = await ox.readExportCsv(window, async (body) => {
      const bytes = await readAll(body).catch((err: unknown) => {
        seen.push(-1);
        throw err;
      });
      seen.push(bytes.length);
      return bytes;
    });
    expect(cut.retries).toBe(1);
    expect(seen).toEqual([-1, whole.value.length]); // the first try broke off, the second read it all
    expect(sha(cut.value)).toBe(sha(whole.value));
    expect(requestsTo(EXPORT)).toBe(2);
    expect(events).toEqual([
      { operation: 'feedback.export', status: 200 },
      { operation: 'feedback.export', status: 200 },
    ]);
  });

  it('raw export: every record, once', async () => {
    const whole = await ox.readExportRaw(window, (records) => collect(records));
    sim.setFaults({ pathPrefix: `${EXPORT}/raw`, script: [{ dropAfterBytes: 5_000 }] });
    const cut = await ox.readExportRaw(window, (records) => collect(records));
    expect(cut.retries).toBe(1);
    expect(cut.value).toEqual(whole.value);
    expect(cut.value).toHaveLength(400);
  });

  it('a cut and a 503 share one retry budget; when it is used up the error says how many tries were made', async () => {
    sim.setFaults({ pathPrefix: EXPORT, script: [{ dropAfterBytes: 100 }, 503, { dropAfterBytes: 100 }] });
    const err = await failure(ox.readExportCsv(window, (body) => readAll(body)));
    expect(err).toBeInstanceOf(OxError);
    expect(err).toMatchObject({ operation: 'feedback.export', retryable: true, attempts: 3 });
    expect(requestsTo(EXPORT)).toBe(3);
  });

  it('a failure of the consumer itself is not retried', async () => {
    const err = await failure(
      ox.readExportCsv(window, async () => {
        throw new Error('disk full');
      }),
    );
    expect(err.message).toBe('disk full');
    expect(requestsTo(EXPORT)).toBe(1);
  });

  it('password-change history: read again whole', async () => {
    sim.setFaults({ pathPrefix: '/admin/v1/contexts/5', script: [{ dropAfterBytes: 30 }] });
    const changes = await ox.passwordChanges({ contextId: 5, userId: 3 });
    expect(changes.map((c) => c.client_id).sort()).toEqual(['client-0', 'client-1', 'client-2', 'client-3']);
    expect(sim.requests.filter((r) => r.path.startsWith('/admin/v1/contexts/5')).length).toBe(2);
  });

  it('send is never sent twice: a cut answer fails the call after one request', async () => {
    const SEND = '/userfeedback/v1/send/default/star-rating-v1';
    sim.setFaults({ pathPrefix: SEND, script: [{ dropAfterBytes: 3 }] });
    const err = await failure(ox.sendFeedback({ ...window, recipients: [{ address: 'a@example.com' }] }));
    expect(err).toBeInstanceOf(OxError);
    expect(requestsTo(SEND)).toBe(1);
  });
});

describe('a catalog over HTTP cut mid-body is read again', () => {
  const YAML = `resellers:\n  acme:\n    packages:\n${Array.from({ length: 50 }, (_, i) => `      p${i}: { config: { banner: "b${i}" } }\n`).join('')}`;
  let web: Server;
  let url: string;
  let served = 0;
  beforeAll(async () => {
    web = createServer((req, res) => {
      served++;
      const body = Buffer.from(YAML);
      res.writeHead(200, { 'content-type': 'application/yaml', 'content-length': String(body.length) });
      // The first answer breaks off after 100 bytes; the next ones are whole.
      if (served === 1) res.write(body.subarray(0, 100), () => res.destroy());
      else res.end(body);
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/catalog.yaml`;
  });
  afterAll(async () => {
    await new Promise((resolve) => web.close(resolve));
  });

  it('every entry, after one more request', async () => {
    const catalog = await loadCatalog(url, { retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 1000 } });
    expect(catalog.entries).toHaveLength(50);
    expect(served).toBe(2);
  });
});
