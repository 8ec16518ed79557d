/**
 * Notifications of a real `ox-batch start` process to a real HTTP receiver (Slack-compatible
 * JSON) and a real SMTP server: failed, refused and overdue windows and a refused purge, each
 * window and state announced once — across checks, a failed delivery and a restarted daemon —
 * and never a secret in what is sent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { ScheduleState } from '../../src/queue/schedule-state.js';
import { listeningUrl, stopCli } from '../cli/cli-kit.js';
import { REDIS_URL, waitFor } from '../daemon/helpers.js';
import { startSmtpCapture, type SmtpCapture } from '../delivery/helpers/smtp-capture.js';
import { processWorld } from './process-world.js';

const DAY = 86_400_000;
const HOOK_TOKEN = 'T0000/B0000/hook-secret-xyz';
const OX_PASSWORD = 'S3cr3t-ox';

describe('alert notifications from a real daemon (webhook receiver + smtp-server)', () => {
  const world = processWorld('alerts');
  const ledger = new RedisLedger(world.redis, world.prefix);
  const today = Math.floor(Date.now() / DAY) * DAY;
  const win = (n: number) => ({ scheduleId: 'export-daily', start: today - n * DAY, end: today - (n - 1) * DAY });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- webhook bodies as received; the assertions check their shape
  const posts: Array<{ path: string; body: any }> = [];
  let failNext = 1;
  let receiver: Server;
  let smtp: SmtpCapture;
  let config = '';

  const startDaemon = async () => {
    const daemon = world.start(['--config', config, 'start', '--role', 'scheduler'], { REDIS_URL, OX_PASSWORD });
    await waitFor(() => listeningUrl(daemon.output()), 'daemon HTTP server', 30_000);
    return daemon;
  };

  beforeAll(async () => {
    await world.ready();
    receiver = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => {
        text += d.toString();
      });
      req.on('end', () => {
        if (failNext > 0) {
          failNext--;
          res.statusCode = 500;
          res.end('busy');
          return;
        }
        posts.push({ path: req.url ?? '', body: JSON.parse(text) });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    smtp = await startSmtpCapture();
    config = join(world.dir, 'config.yaml');
    writeFileSync(
      config,
      [
        'ox: { url: "http://127.0.0.1:9", user: oxadmin, password: "${OX_PASSWORD}" }',
        `redis: { url: "${REDIS_URL}", prefix: "${world.prefix}" }`,
        'http: { host: 127.0.0.1, port: 0 }',
        'logging: { level: info }',
        `mail: { smtp: "${smtp.url}", from: "ox-batch@example.com" }`,
        `alerts: { webhook: "http://127.0.0.1:${(receiver.address() as AddressInfo).port}/services/${HOOK_TOKEN}", mailTo: ["ops@example.com"], checkEvery: 300ms }`,
        'schedules:',
        `  export-daily: { job: feedback.export, every: 60s, tz: UTC, window: 1d, lag: 0, startAt: "${new Date(today - 4 * DAY).toISOString()}", params: { deliver: [archive] } }`,
        '  purge: { job: feedback.purge, every: 60s, params: { retention: 30d, archiveSchedule: export-daily } }',
        '',
      ].join('\n'),
    );
    // Four closed days since startAt, none done: three overdue (the newest is within alertAfter).
    await ledger.beginWindow(win(3), 'feedback.export', 5);
    await ledger.markFailed(
      win(3),
      'feedback.export',
      `OxError: OX feedback.export failed: HTTP 500 FEEDBACK-0003 - proxy to http://oxadmin:${OX_PASSWORD}@ox:8009 failed (error_id 77-1)`,
    );
    await ledger.recordAttempt({
      job: 'feedback.purge',
      scheduleId: 'purge',
      state: 'failed',
      startedAt: Date.now() - 2000,
      finishedAt: Date.now() - 1000,
      error: 'RefusedError: feedback.purge default/star-rating-v1: refused: nothing verified in the archive; nothing deleted',
    });
    const state = new ScheduleState(world.redis, world.prefix);
    for (const id of ['export-daily', 'purge']) await state.setPaused(id, true);
  }, 60_000);

  afterAll(async () => {
    await world.close();
    await new Promise((resolve) => receiver?.close(resolve));
    await smtp?.close();
  });

  it('announces each window and state once, retries a failed delivery, and survives a restart without repeating', async () => {
    const first = await startDaemon();
    // The first POST is answered 500: the claims are given back and the next check sends again.
    await waitFor(() => posts.length >= 1, 'webhook notification', 20_000);
    await waitFor(() => smtp.messages.length >= 1, 'mail notification', 20_000);
    const body = posts[0]!.body as { text: string; blocks: Array<{ type: string }> };
    expect(posts[0]!.path).toBe(`/services/${HOOK_TOKEN}`);
    expect(body.blocks.map((b) => b.type)).toEqual(['header', 'section']);
    expect(body.text.split('\n')[0]).toBe('ox-batch: 1 failed, 1 refused, 3 overdue');
    const lines = body.text.split('\n').filter((l) => l.startsWith('- '));
    expect(lines).toHaveLength(5);
    expect(
      lines.find(
        (l) =>
          l.startsWith('- purge (feedback.purge) run of ') &&
          l.includes(' was refused: RefusedError: feedback.purge default/star-rating-v1: refused'),
      ),
    ).toBeDefined();
    expect(lines.filter((l) => l.startsWith('- export-daily (feedback.export) window') && l.includes('is overdue'))).toHaveLength(3);
    expect(
      lines.find((l) => l.includes(' failed after 5 attempt(s): OxError: OX feedback.export failed: HTTP 500 FEEDBACK-0003')),
    ).toBeDefined();

    // Nothing new: no second message, however many checks run.
    await new Promise((r) => setTimeout(r, 1500));
    expect(posts).toHaveLength(1);
    expect(smtp.messages).toHaveLength(1);

    // A new state of a window that was announced as overdue: only that one is sent.
    await ledger.beginWindow(win(4), 'feedback.export', 2);
    await ledger.markFailed(win(4), 'feedback.export', 'OxError: OX feedback.export failed: HTTP 503');
    await waitFor(() => posts.length >= 2, 'second webhook notification', 20_000);
    expect((posts[1]!.body as { text: string }).text).toMatch(
      /^ox-batch: 1 failed\n- export-daily \(feedback\.export\) window \S+ \(1d UTC\) failed after 2 attempt\(s\): OxError: OX feedback.export failed: HTTP 503\n/,
    );

    // A restarted daemon (another process) announces nothing again.
    await stopCli([first]);
    await startDaemon();
    await new Promise((r) => setTimeout(r, 1500));
    expect(posts).toHaveLength(2);
    await waitFor(() => smtp.messages.length >= 2, 'second mail', 10_000);
    expect(smtp.messages).toHaveLength(2);
  }, 90_000);

  it('never sends a secret: no password, no webhook token, no SMTP URL', async () => {
    const mails = await smtp.parsed();
    expect(mails[0]!.subject).toBe('ox-batch: 1 failed, 1 refused, 3 overdue');
    expect(smtp.messages[0]!.envelopeTo).toEqual(['ops@example.com']);
    const sent = [...posts.map((p) => JSON.stringify(p.body)), ...mails.map((m) => `${m.subject}\n${m.text}`)].join('\n');
    expect(sent).toContain('proxy to http://***@ox:8009');
    for (const secret of [OX_PASSWORD, HOOK_TOKEN, 'hook-secret', smtp.url]) expect(sent).not.toContain(secret);
  });
});
