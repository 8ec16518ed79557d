import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { OxClient } from '../../src/ox/ox-client.js';
import { OxError } from '../../src/ox/ox-error.js';
import { waitFor } from '../daemon/helpers.js';
import {
  closedPort,
  collect,
  failure,
  memoryLogger,
  oxConfig,
  readAll,
  REST_PASSWORD,
  REST_USER,
  SIM_CREDENTIALS,
  startSmtp,
} from './ox-test-kit.js';

const day = Date.UTC(2025, 6, 1);
const SEND = '/userfeedback/v1/send/default/star-rating-v1';
const EXPORT = '/userfeedback/v1/export/default/star-rating-v1';

describe('OxClient errors and retries against the simulator', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let sim: OxSimulator;
  const clients: OxClient[] = [];
  const events: Array<{ operation: string; status: number | 'network' }> = [];
  const logged = memoryLogger();

  function client(overrides: Record<string, unknown> = {}, url = sim.url): OxClient {
    const c = new OxClient(oxConfig(url, overrides), {
      log: logged.log,
      observer: (e) => events.push({ operation: e.operation, status: e.status }),
    });
    clients.push(c);
    return c;
  }
  const requestsTo = (path: string) => sim.requests.filter((r) => r.path === path).length;

  beforeAll(async () => {
    smtp = await startSmtp();
    sim = await OxSimulator.start({ credentials: SIM_CREDENTIALS, smtpUrl: smtp.url });
    sim.addFeedback([{ date: day, contextId: 1, userId: 1, score: 5, comment: 'x'.repeat(5000) }]);
  });
  afterEach(() => {
    sim.setFaults(undefined);
    sim.setCredentials(SIM_CREDENTIALS);
    sim.resetRequests();
    events.length = 0;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sim.close();
    await smtp.close();
    // No secret in any log line written during these tests, retries and failures included.
    const text = logged.lines.join('');
    expect(logged.lines.length).toBeGreaterThan(0);
    expect(text).not.toContain(REST_PASSWORD);
    expect(text).not.toContain(Buffer.from(`${REST_USER}:${REST_PASSWORD}`).toString('base64'));
    expect(text).not.toContain('wrong-Pa55');
  });

  it('an OX error object becomes an OxError with operation, status, code, error_desc and error_id', async () => {
    const err = await failure(client().deleteFeedback({ type: 'unknown-v1', end: day }));
    expect(err).toBeInstanceOf(OxError);
    expect(err).toMatchObject({
      name: 'OxError',
      operation: 'feedback.delete',
      status: 404,
      kind: 'http',
      retryable: false,
      oxCode: 'FEEDBACK-0003',
      code: 'OXB_OX_HTTP',
    });
    expect(err.errorDesc).toMatch(/\S/);
    expect(err.errorId).toMatch(/\S/);
    expect(err.message).toBe(`OX feedback.delete failed: HTTP 404 Not Found FEEDBACK-0003 - ${err.errorDesc} (error_id ${err.errorId})`);
  });

  it('send: a 500 FEEDBACK-0007 (OX has no SMTP) is reported and not retried', async () => {
    const noSmtp = await OxSimulator.start({ credentials: SIM_CREDENTIALS });
    try {
      const err = await failure(client({}, noSmtp.url).sendFeedback({ end: day, recipients: [{ address: 'a@example.com' }] }));
      expect(err).toMatchObject({ status: 500, oxCode: 'FEEDBACK-0007', retryable: false });
      expect(noSmtp.requests).toHaveLength(1); // a send is not retried after a 500: OX may have mailed
    } finally {
      await noSmtp.close();
    }
  });

  it('401 (wrong credentials) and 403 (no REST credentials on the server) are told apart, never retried, never show the password', async () => {
    const wrong = client({ password: 'wrong-Pa55' });
    const unauthorised = await failure(wrong.exportCsv({ end: day }));
    expect(unauthorised).toMatchObject({ status: 401, retryable: false, kind: 'http' });
    expect(unauthorised.message).toContain('ox.user / ox.password');
    expect(unauthorised.message).not.toContain('wrong-Pa55');
    expect(requestsTo(EXPORT)).toBe(1);

    sim.setCredentials({ rest: null });
    const forbidden = await failure(client().setUserConfig({ contextId: 1, userId: 1, config: {} }));
    expect(forbidden).toMatchObject({ status: 403, retryable: false });
    expect(forbidden.message).toContain('no REST credentials configured');
    expect(forbidden.message).not.toContain(REST_PASSWORD);
  });

  it('retries a 503 and succeeds with the next answer', async () => {
    sim.setFaults({ script: [503, 'ok'], pathPrefix: EXPORT });
    const csv = await readAll(await client().exportCsv({ start: day, end: day + 1 }));
    expect(csv.toString('utf8')).toContain('xxxx');
    expect(requestsTo(EXPORT)).toBe(2);
    expect(events.map((e) => e.status)).toEqual([503, 200]);
  });

  it('retries 429, 500, 502 and 504 as well', async () => {
    sim.setFaults({ script: [429, 500, 502, 504, 'ok'], pathPrefix: '/userfeedback/v1/export' });
    const rows = await collect(client({ retry: { attempts: 5 } }).exportRaw({ start: day, end: day + 1 }));
    expect(rows).toHaveLength(1);
    expect(events.map((e) => e.status)).toEqual([429, 500, 502, 504, 200]);
  });

  it('waits as long as Retry-After says', async () => {
    sim.setFaults({ script: [{ status: 503, retryAfterSeconds: 1 }, 'ok'], pathPrefix: EXPORT });
    const started = Date.now();
    await readAll(await client().exportCsv({ start: day, end: day + 1 }));
    // backoff alone would wait at most 5 ms (maxDelayMs in these tests)
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(requestsTo(EXPORT)).toBe(2);
  });

  it('fails at once when Retry-After is longer than maxRetryAfterMs', async () => {
    sim.setFaults({ script: [{ status: 429, retryAfterSeconds: 600 }], pathPrefix: EXPORT });
    const err = await failure(client({ retry: { maxRetryAfterMs: 1000 } }).exportCsv({ end: day }));
    expect(err).toMatchObject({ status: 429, retryable: true });
    expect(err.message).toContain('maxRetryAfterMs');
    expect(requestsTo(EXPORT)).toBe(1);
  });

  it('never retries a 400 (nor 404)', async () => {
    sim.setFaults({ script: [400, 'ok'], pathPrefix: EXPORT });
    const err = await failure(client().exportCsv({ end: day }));
    expect(err).toMatchObject({ status: 400, retryable: false, kind: 'http' });
    expect(err.message).toContain('HTTP 400 Bad Request');
    expect(requestsTo(EXPORT)).toBe(1);
  });

  it('gives up after the configured attempts and says so', async () => {
    sim.setFaults({ errorRate: 1, errorStatus: 502, pathPrefix: EXPORT });
    const err = await failure(client({ retry: { attempts: 4 } }).exportCsv({ end: day }));
    expect(err).toMatchObject({ status: 502, retryable: true, attempts: 4 });
    expect(err.message).toContain('after 4 attempts');
    expect(requestsTo(EXPORT)).toBe(4);
  });

  it('an abort stops a retry loop while it waits', async () => {
    sim.setFaults({ errorRate: 1, errorStatus: 503, retryAfterSeconds: 30, pathPrefix: EXPORT });
    const controller = new AbortController();
    const pending = client({ retry: { attempts: 10, maxRetryAfterMs: 60_000 } }).exportCsv({ end: day, signal: controller.signal });
    await waitFor(
      () => requestsTo(EXPORT) > 0 && sim.requests.at(-1)!.status !== 0,
      'the first 503 answered (the client now waits out Retry-After)',
      10_000,
      5,
    );
    controller.abort(new Error('shutdown'));
    const err = await failure(pending);
    expect(err).toMatchObject({ kind: 'aborted', retryable: false });
    expect(requestsTo(EXPORT)).toBe(1);
  });

  it('an aborted signal sends nothing', async () => {
    const err = await failure(client().deleteFeedback({ end: day, signal: AbortSignal.abort() }));
    expect(err).toMatchObject({ kind: 'aborted' });
    expect(sim.requests).toHaveLength(0);
  });

  it('send is never retried after a timeout in the middle of the request', async () => {
    // undici checks header timeouts on a ~0.5 s tick: keep the answer far beyond the timeout
    sim.setFaults({ latencyMs: 3000, pathPrefix: SEND });
    const err = await failure(
      client({ timeouts: { headersMs: 300 }, retry: { attempts: 5 } }).sendFeedback({
        start: day,
        end: day + 1,
        recipients: [{ address: 'ops@example.com' }],
      }),
    );
    expect(err).toMatchObject({ kind: 'timeout', retryable: false });
    expect(err.message).toContain('not retried');
    expect(requestsTo(SEND)).toBe(1);
  });

  it('an idempotent call is retried after the same timeout', async () => {
    sim.setFaults({ latencyMs: 3000, pathPrefix: EXPORT });
    const err = await failure(client({ timeouts: { headersMs: 200 }, retry: { attempts: 2 } }).exportCsv({ end: day }));
    expect(err).toMatchObject({ kind: 'timeout', retryable: true, attempts: 2 });
    expect(requestsTo(EXPORT)).toBe(2);
  });

  it('send is retried after a 503 (refused before OX ran it), not after a 502', async () => {
    sim.setFaults({ script: [503, 'ok'], pathPrefix: SEND });
    const sent = await client().sendFeedback({ start: day, end: day + 1, recipients: [{ address: 'ops@example.com' }] });
    expect(sent.normal).toEqual(['ops@example.com']);
    expect(requestsTo(SEND)).toBe(2);

    sim.resetRequests();
    sim.setFaults({ script: [502, 'ok'], pathPrefix: SEND });
    const err = await failure(client().sendFeedback({ start: day, end: day + 1, recipients: [{ address: 'ops@example.com' }] }));
    expect(err).toMatchObject({ status: 502, retryable: false });
    expect(requestsTo(SEND)).toBe(1);
  });

  it('send is retried when the connection is refused (it never reached OX)', async () => {
    const port = await closedPort();
    const err = await failure(
      client({ retry: { attempts: 3 } }, `http://127.0.0.1:${port}`).sendFeedback({ end: day, recipients: [{ address: 'a@example.com' }] }),
    );
    expect(err).toMatchObject({ kind: 'network', retryable: true, attempts: 3 });
    expect(err.message).toContain('ECONNREFUSED');
    expect(events.filter((e) => e.operation === 'feedback.send').map((e) => e.status)).toEqual(['network', 'network', 'network']);
  });

  it('an export body cut off mid-stream fails the stream with a retryable OxError', async () => {
    sim.addFeedback(
      Array.from({ length: 50 }, (_, i) => ({ date: day + 10 + i, contextId: 2, userId: i, score: 3, comment: 'y'.repeat(500) })),
    );
    sim.setFaults({ script: ['drop-mid-body'], dropExportAfterBytes: 4000, pathPrefix: EXPORT });
    const err = await failure(readAll(await client().exportCsv({ start: day, end: day + 100 })));
    expect(err).toMatchObject({ operation: 'feedback.export', kind: 'network', retryable: true });

    sim.setFaults({ script: ['drop-mid-body'], dropExportAfterBytes: 4000, pathPrefix: `${EXPORT}/raw` });
    const rawErr = await failure(collect(client().exportRaw({ start: day, end: day + 100 })));
    expect(rawErr).toMatchObject({ operation: 'feedback.raw', retryable: true });
  });

  it('an empty-body 500 on /userfeedback still reads as an OxError with the reason phrase', async () => {
    sim.setFaults({ script: [500], pathPrefix: '/userfeedback/v1/default' });
    const err = await failure(client({ retry: { attempts: 1 } }).deleteFeedback({ end: day }));
    expect(err).toMatchObject({ status: 500, kind: 'http', retryable: true });
    expect(err.oxCode).toBeUndefined();
    expect(err.message).toMatch(/^OX feedback.delete failed: HTTP 500 /);
  });

  it('a base URL with credentials in it is shown without them', async () => {
    const url = new URL(sim.url);
    const c = new OxClient(oxConfig(`http://${REST_USER}:${REST_PASSWORD}@${url.host}`, {}, { OX_USER: '', OX_PASSWORD: '' }));
    clients.push(c);
    expect(c.baseUrl).not.toContain(REST_PASSWORD);
    expect(await c.setUserConfig({ contextId: 9, userId: 9, config: 1 })).toBe('created'); // the URL's user info authenticates
  });

  it('a path prefix in ox.url (OX behind a reverse proxy) is kept in every request', async () => {
    const err = await failure(client({}, `${sim.url}/ox-rest/`).deleteFeedback({ end: day }));
    expect(sim.requests.at(-1)!.path).toBe('/ox-rest/userfeedback/v1/default/star-rating-v1');
    expect(err).toMatchObject({ status: 404, retryable: false });
    expect(err.message).toContain(`no such endpoint below ${sim.url}/ox-rest`);
  });
});
