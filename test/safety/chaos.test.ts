/**
 * kill -9 of a daemon in the middle of a real export, and a second daemon finishing the window:
 * once while the archive upload (S3, behind a proxy that holds the PUT) is in flight, once right
 * after the SMTP server accepted the mail. Afterwards: one data object and one manifest for the
 * window, one mail per recipient (the same Message-ID, should the kill have fallen between the
 * server's 250 and the ledger's record of it), and no spool file left behind.
 */
import { readdir } from 'node:fs/promises';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../daemon/helpers.js';
import { startFaultyProxy, startS3, type FaultyProxy, type TestS3 } from '../delivery/helpers/s3-server.js';
import type { SmtpCaptureOptions } from '../delivery/helpers/smtp-capture.js';
import { DAY, HOUR, startSafetyWorld, type DaemonProcess, type SafetyWorld } from './helpers/world.js';

const today = Math.floor(Date.now() / DAY) * DAY;
const window = { start: today - DAY, end: today };
const key = { scheduleId: 'feedback-daily', ...window };
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const RECIPIENTS = ['pm@example.com', 'support@example.com'];

let world: SafetyWorld | undefined;
let s3: TestS3 | undefined;
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await world?.close();
  await proxy?.close();
  await s3?.close();
  world = undefined;
  proxy = undefined;
  s3 = undefined;
});

async function setUp(smtp: boolean | SmtpCaptureOptions): Promise<string> {
  s3 = await startS3('oxbt-chaos');
  proxy = await startFaultyProxy(s3.endpoint);
  world = await startSafetyWorld({ smtp });
  world.sim.addFeedback(
    Array.from({ length: 50 }, (_, i) => ({
      date: window.start + i * 60_000 + HOUR,
      contextId: 1,
      userId: i + 1,
      score: 1 + (i % 5),
      comment: `row ${i}`,
    })),
  );
  return world.config('chaos', [
    `archive: { kind: s3, bucket: oxbt-chaos, endpoint: "${proxy.endpoint}", forcePathStyle: true, accessKeyId: S3RVER, secretAccessKey: S3RVER }`,
    'worker: { concurrency: 1, lockDurationMs: 1500, stalledIntervalMs: 1000, backoffMs: 200 }',
    `mail: { smtp: "${world.smtp!.url}", from: ox-batch@example.com, claimLeaseMs: 3s }`,
    'schedules:',
    '  feedback-daily:',
    '    job: feedback.export',
    '    cron: "0 2 * * *"',
    '    window: 1d',
    '    lag: 0',
    `    startAt: ${isoDay(window.start)}`,
    `    params: { deliver: [archive, mail], mailTo: [${RECIPIENTS.join(', ')}] }`,
  ]);
}

async function assertOnceEach(w: SafetyWorld): Promise<void> {
  const objects = await s3!.objects();
  expect(objects).toHaveLength(2);
  expect(objects[1]).toBe(`${objects[0]}.manifest.json`);
  const ids = new Map<string, Set<string>>();
  for (const m of w.smtp!.messages) {
    const id = (await simpleParser(m.raw)).messageId!;
    for (const to of m.envelopeTo) ids.set(to, (ids.get(to) ?? new Set()).add(id));
  }
  for (const to of RECIPIENTS) expect([...(ids.get(to) ?? [])], to).toHaveLength(1);
  expect(await readdir(w.spoolDir).catch(() => [])).toEqual([]);
  expect((await w.ledger.getWindow(key))?.state).toBe('done');
}

describe('kill -9 in the middle of a real export, a second daemon finishes', () => {
  it('during the archive upload: one object, one manifest, one mail per recipient, no spool left', async () => {
    const file = await setUp(true);
    proxy!.holdMatching((method, url) => method === 'PUT' && !url.includes('.manifest.json'));
    const first = await world!.startDaemon(file);
    await world!.cli(file, ['enqueue', 'feedback-daily', '--start', isoDay(window.start), '--end', isoDay(window.end)]);
    await waitFor(() => proxy!.held() > 0, 'the upload to be in flight', 20_000);
    expect(await readdir(world!.spoolDir)).toHaveLength(1);
    await first.kill();
    proxy!.holdMatching(undefined);
    proxy!.releaseHeld();

    const second: DaemonProcess = await world!.startDaemon(file);
    await waitFor(async () => (await world!.ledger.getWindow(key))?.state === 'done', 'the second daemon to finish the window', 40_000);
    await second.stop();
    await assertOnceEach(world!);
    expect(world!.smtp!.messages).toHaveLength(1);
  }, 120_000);

  it('right after the SMTP server accepted: one object, one manifest, one Message-ID per recipient, no spool left', async () => {
    let first: DaemonProcess | undefined;
    const file = await setUp({
      afterAccept: () => {
        if (first) first.process.kill('SIGKILL');
      },
    });
    first = await world!.startDaemon(file);
    await world!.cli(file, ['enqueue', 'feedback-daily', '--start', isoDay(window.start), '--end', isoDay(window.end)]);
    await first.exited;
    const mailedBeforeKill = world!.smtp!.messages.length;
    expect(mailedBeforeKill).toBe(1);
    first = undefined;

    const second = await world!.startDaemon(file);
    await waitFor(async () => (await world!.ledger.getWindow(key))?.state === 'done', 'the second daemon to finish the window', 40_000);
    await second.stop();
    await assertOnceEach(world!);
    // A kill between the server's 250 and the ledger's record sends once more, as the same message.
    expect(world!.smtp!.messages.length).toBeLessThanOrEqual(2);
  }, 120_000);
});
