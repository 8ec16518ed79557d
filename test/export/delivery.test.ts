import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedbackExport } from '../../jobs/feedback-export.js';
import { executeAttempt } from '../../src/queue/attempt.js';
import { startSmtpCapture } from '../delivery/helpers/smtp-capture.js';
import { directGet, filesBelow, oxBounds, startExportEnv, type ExportEnv } from './helpers/export-env.js';

const DAY = 86_400_000;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const dayWindow = (y: number, m: number, d: number) => ({ start: Date.UTC(y, m - 1, d), end: Date.UTC(y, m - 1, d) + DAY });

interface Result {
  rows: number;
  bytes: number;
  sha256: string;
  archive?: { key: string; manifestKey: string; bytes: number; sha256: string; verifiedAt: string; location: string; reused?: boolean };
  mail: Array<{ via: string; messageId?: string; accepted: string[]; alreadyMailed: string[]; linkExpiresAt?: string }>;
}

describe('feedback.export to S3 (s3rver behind a fault-injecting proxy)', () => {
  let env: ExportEnv;
  const big = dayWindow(2026, 3, 1);
  beforeAll(async () => {
    env = await startExportEnv({ archive: 's3', smtp: true, config: { archive: { prefix: 'exports' } } });
    env.sim.generateFeedback({ rows: 20_000, from: big.start, to: big.end, seed: 7 });
    env.sim.generateFeedback({ rows: 50, from: Date.UTC(2026, 3, 1), to: Date.UTC(2026, 3, 2), seed: 8 });
  });
  afterAll(async () => {
    await env?.close();
  });

  it('uploads a >5 MiB artifact as multipart, writes the manifest after the data object, records the verified object', async () => {
    env.proxy!.requests.length = 0;
    const outcome = await env.run(big, {}, { scheduleId: 's3-big' });
    expect(outcome.status).toBe('done');
    const result = outcome.result as Result;
    expect(result.bytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(result.rows).toBe(20_000);
    expect(result.archive!.key).toBe(
      'exports/s3-big/default/star-rating-v1/2026/03/01/star-rating-v1_20260301T000000Z_20260302T000000Z.csv',
    );
    expect(result.archive!.location).toBe(`s3://${env.s3!.bucket}/${result.archive!.key}`);
    const writes = env.proxy!.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
    const parts = writes.filter((r) => r.url.includes('partNumber='));
    expect(parts.length).toBeGreaterThanOrEqual(2);
    const complete = writes.findIndex((r) => r.method === 'POST' && r.url.includes('uploadId='));
    const manifest = writes.findIndex((r) => r.method === 'PUT' && r.url.includes('.manifest.json'));
    expect(complete).toBeGreaterThanOrEqual(0);
    expect(manifest).toBeGreaterThan(complete);
    // Verification read the object back before the manifest went up.
    const readBack = env.proxy!.requests.findIndex(
      (r) => r.method === 'GET' && r.url.includes('star-rating-v1_20260301T000000Z_20260302T000000Z.csv') && !r.url.includes('manifest'),
    );
    expect(readBack).toBeGreaterThan(env.proxy!.requests.findIndex((r) => r.method === 'POST' && r.url.includes('uploadId=')));
    const stored = await env.services.archive.readJson<{ rows: number; sha256: string }>(result.archive!.manifestKey);
    expect(stored).toMatchObject({ rows: 20_000, sha256: result.sha256, format: 'ox-csv' });
    const direct = await directGet(env.sim, '/userfeedback/v1/export/default/star-rating-v1', oxBounds(big));
    expect(result.sha256).toBe(sha256(direct));
    const record = await env.services.ledger.getWindow({ scheduleId: 's3-big', ...big });
    expect((record!.result as Result).archive).toMatchObject({ key: result.archive!.key, sha256: result.sha256, bytes: result.bytes });
    const deliveries = await env.services.ledger.listDeliveries({ scheduleId: 's3-big', ...big });
    expect(deliveries[`archive:${result.archive!.key}`]).toMatchObject({ sha256: result.sha256, verifiedAt: result.archive!.verifiedAt });
  });

  it('rides out S3 500s: a few are retried in the call, a longer outage fails the try and the next one finishes', async () => {
    const window = dayWindow(2026, 4, 1);
    env.proxy!.requests.length = 0;
    env.proxy!.failNext(2);
    const first = await env.run(window, {}, { scheduleId: 's3-500-short' });
    expect(first.status).toBe('done');
    expect(env.proxy!.requests.filter((r) => r.status === 500)).toHaveLength(2);

    env.proxy!.failNext(1000);
    const failed = await env.run(window, {}, { scheduleId: 's3-500-long' }).catch((e: { permanent?: boolean; message: string }) => e);
    env.proxy!.failNext(0);
    expect(failed).toMatchObject({ permanent: false });
    expect((failed as Error).message).toMatch(/S3 .* failed \(HTTP 500/);
    expect((await env.services.ledger.getWindow({ scheduleId: 's3-500-long', ...window }))!.state).toBe('failed');
    const retried = await env.run(window, {}, { scheduleId: 's3-500-long' });
    expect(retried.status).toBe('done');
    const result = retried.result as Result;
    expect(await env.services.archive.verify(result.archive!.key, { bytes: result.bytes, sha256: result.sha256 })).toMatchObject({
      ok: true,
    });
  });

  it('mails a presigned link instead of an attachment above mail.maxAttachmentBytes', async () => {
    const linkEnv = env.withConfig({ mail: { maxAttachmentBytes: 1000 } });
    const before = env.smtp!.messages.length;
    const outcome = await linkEnv.run(dayWindow(2026, 4, 1), { deliver: 'mail', mailTo: 'ops@example.com' }, { scheduleId: 's3-link' });
    expect(outcome.status).toBe('done');
    const result = outcome.result as Result;
    expect(result.bytes).toBeGreaterThan(1000);
    expect(result.archive?.key).toBeDefined();
    expect(result.mail[0]!.linkExpiresAt).toBeDefined();
    expect(env.smtp!.messages.length).toBe(before + 1);
    const mail = (await env.smtp!.parsed()).at(-1)!;
    // Only the digest's inline chart travels with the mail; the file is linked, in both parts.
    expect(mail.attachments.filter((a) => !a.related)).toHaveLength(0);
    const url = /https?:\/\/\S+X-Amz-Signature=\S+/.exec(mail.text!)?.[0];
    expect(url).toContain('X-Amz-Expires=3600');
    expect(mail.html).toContain(`<a href="${url!.replaceAll('&', '&amp;')}">Download it</a>`);
    const download = Buffer.from(await (await fetch(url!)).arrayBuffer());
    expect(sha256(download)).toBe(result.sha256);
  });
});

describe('feedback.export mail and failures (fs archive, smtp-server)', () => {
  let env: ExportEnv;
  const window = dayWindow(2026, 11, 1);
  beforeAll(async () => {
    env = await startExportEnv({ smtp: true });
    env.sim.generateFeedback({ rows: 2000, from: window.start, to: window.end, seed: 3 });
  });
  afterAll(async () => {
    await env?.close();
  });

  it('mails once with the right attachment, also when the job runs again after the SMTP server accepted', async () => {
    const params = {
      deliver: ['archive', 'mail'],
      mailTo: 'Ops Team <ops@example.com>',
      mailCc: 'boss@example.com',
      subject: '{schedule}: {rows} rows from {start}',
    };
    const outcome = await env.run(window, params, { scheduleId: 'mail-once' });
    expect(outcome.status).toBe('done');
    const result = outcome.result as Result;
    expect(env.smtp!.messages.filter((m) => m.envelopeTo.includes('ops@example.com'))).toHaveLength(1);
    const mail = (await env.smtp!.parsed()).find((m) => m.messageId === result.mail[0]!.messageId)!;
    expect(mail.subject).toBe('mail-once: 2000 rows from 2026-11-01T00:00:00Z');
    expect(mail.messageId).toMatch(/^<oxb\.mail-once\.20261101T000000Z\.[0-9a-f]{16}@example\.com>$/);
    // The file, unchanged, beside the digest's inline chart.
    const files = mail.attachments.filter((a) => !a.related);
    expect(files).toHaveLength(1);
    expect(files[0]!.filename).toBe('star-rating-v1_20261101T000000Z_20261102T000000Z.csv');
    const archived = await readFile(join(env.archiveDir, result.archive!.key));
    expect(files[0]!.content.equals(archived)).toBe(true);
    expect(result.mail[0]!.accepted.sort()).toEqual(['boss@example.com', 'ops@example.com']);

    // The worker died after SMTP accepted and before the window was marked done: BullMQ runs
    // the stalled job again.
    await env.services.ledger.markRunning({ scheduleId: 'mail-once', ...window }, 'feedback.export', 2);
    const again = await env.run(window, params, { scheduleId: 'mail-once', attempt: 3 });
    expect(again.status).toBe('done');
    expect((again.result as Result).mail[0]).toMatchObject({ accepted: [], alreadyMailed: ['ops@example.com', 'boss@example.com'] });
    expect((again.result as Result).archive!.reused).toBe(true);
    expect(env.smtp!.messages.filter((m) => m.envelopeTo.includes('ops@example.com'))).toHaveLength(1);
  });

  it('SMTP down: the try fails retryably after archiving; the next try mails and does not archive again', async () => {
    const down = await startSmtpCapture();
    await down.close();
    const params = { deliver: 'archive,mail', mailTo: 'later@example.com' };
    const failed = await env
      .withConfig({ mail: { smtp: `smtp://127.0.0.1:${down.port}` } })
      .run(window, params, { scheduleId: 'smtp-down' })
      .catch((e: { permanent?: boolean; message: string }) => e);
    expect(failed).toMatchObject({ permanent: false });
    expect((failed as Error).message).toMatch(/SMTP delivery .* failed/);
    const files = await filesBelow(env.archiveDir);
    const key = files.find((f) => f.startsWith('smtp-down/') && f.endsWith('.csv'))!;
    expect(key).toBeDefined();
    const inodeBefore = (await stat(join(env.archiveDir, key))).ino;

    const outcome = await env.run(window, params, { scheduleId: 'smtp-down' });
    expect(outcome.status).toBe('done');
    const result = outcome.result as Result;
    expect(result.archive).toMatchObject({ key, reused: true });
    expect((await stat(join(env.archiveDir, key))).ino).toBe(inodeBefore);
    expect(env.smtp!.messages.filter((m) => m.envelopeTo.includes('later@example.com'))).toHaveLength(1);
  });

  it('a rejected recipient fails the window by name; the next run mails only that recipient', async () => {
    const picky = await startSmtpCapture({ rejectRecipients: ['nobody@example.com'] });
    try {
      const params = { deliver: 'mail', mailTo: 'ok@example.com,nobody@example.com' };
      const failed = await env
        .withConfig({ mail: { smtp: picky.url } })
        .run(window, params, { scheduleId: 'smtp-reject' })
        .catch((e: { permanent?: boolean; message: string }) => e);
      expect(failed).toMatchObject({ permanent: true });
      expect((failed as Error).message).toContain('nobody@example.com');
      expect(picky.messages).toHaveLength(1);
      expect(picky.messages[0]!.envelopeTo).toEqual(['ok@example.com']);

      const outcome = await env.run(window, params, { scheduleId: 'smtp-reject' });
      expect(outcome.status).toBe('done');
      expect((outcome.result as Result).mail[0]).toMatchObject({ accepted: ['nobody@example.com'], alreadyMailed: ['ok@example.com'] });
      expect(env.smtp!.messages.filter((m) => m.envelopeTo.includes('ok@example.com'))).toHaveLength(0);
    } finally {
      await picky.close();
    }
  });

  it('OX drops the connection mid-body: the try fails and no partial artifact is ever visible', async () => {
    for (const format of ['ox-csv', 'csv'] as const) {
      env.sim.setFaults({ dropExportAfterBytes: 100_000 });
      const failed = await env.run(window, { format }, { scheduleId: `drop-${format}` }).catch((e: { permanent?: boolean }) => e);
      env.sim.setFaults(undefined);
      expect(failed).toMatchObject({ permanent: false });
      expect((await filesBelow(env.archiveDir)).filter((f) => f.startsWith(`drop-${format}/`))).toEqual([]);
      expect(await filesBelow(env.spoolDir)).toEqual([]);
      const outcome = await env.run(window, { format }, { scheduleId: `drop-${format}` });
      expect(outcome.status).toBe('done');
      expect((outcome.result as Result).rows).toBe(2000);
    }
  });

  it('an abort mid-export (shutdown) stops the try, leaves nothing behind and is not permanent', async () => {
    env.sim.setFaults({ slowBodyBytesPerSecond: 200_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const failed = await executeAttempt({
      kind: feedbackExport,
      services: env.services,
      window,
      params: {},
      scheduleId: 'abort-mid',
      signal: controller.signal,
    }).catch((e: { permanent?: boolean }) => e);
    env.sim.setFaults(undefined);
    expect(failed).toMatchObject({ permanent: false });
    expect((failed as Error).message).toMatch(/abort/i);
    expect((await filesBelow(env.archiveDir)).filter((f) => f.startsWith('abort-mid/'))).toEqual([]);
    expect(await filesBelow(env.spoolDir)).toEqual([]);
  });

  it('a dry run exports and counts but delivers nothing', async () => {
    const before = env.smtp!.messages.length;
    const outcome = await executeAttempt({
      kind: feedbackExport,
      services: env.services,
      window,
      params: { deliver: 'archive,mail', mailTo: 'dry@example.com' },
      scheduleId: 'dry',
      dryRun: true,
    });
    expect(outcome.result).toMatchObject({
      dryRun: true,
      rows: 2000,
      wouldDeliver: ['archive', 'mail'],
      archiveKey: 'dry/default/star-rating-v1/2026/11/01/star-rating-v1_20261101T000000Z_20261102T000000Z.csv',
    });
    expect((await filesBelow(env.archiveDir)).filter((f) => f.startsWith('dry/'))).toEqual([]);
    expect(env.smtp!.messages.length).toBe(before);
    expect(await env.services.ledger.getWindow({ scheduleId: 'dry', ...window })).toBeNull();
  });

  it('an oversize artifact cannot be mailed from an fs archive: the error says why', async () => {
    const failed = await env
      .withConfig({ mail: { maxAttachmentBytes: 100 } })
      .run(window, { deliver: 'mail', mailTo: 'ops@example.com' }, { scheduleId: 'fs-oversize' })
      .catch((e: { permanent?: boolean; message: string }) => e);
    expect(failed).toMatchObject({ permanent: true });
    expect((failed as Error).message).toMatch(/mail.maxAttachmentBytes \(100\).*needs archive.kind s3/);
  });

  it('via ox: OX mails its own export; recipients OX reports in fail/pgpFail fail the delivery by address', async () => {
    const before = env.smtp!.messages.length;
    const outcome = await env.run(
      window,
      { deliver: 'mail', via: 'ox', mailTo: 'viaox@example.com', compress: 'gzip', subject: 'OX sends {rows}' },
      { scheduleId: 'via-ox' },
    );
    expect(outcome.status).toBe('done');
    expect((outcome.result as Result).mail[0]).toMatchObject({ via: 'ox', accepted: ['viaox@example.com'] });
    expect(env.smtp!.messages.length).toBe(before + 1);
    const mail = (await env.smtp!.parsed()).at(-1)!;
    expect(mail.subject).toBe('OX sends 2000');
    expect(mail.attachments[0]!.filename).toMatch(/\.csv\.gz$/);

    const badKey = '-----BEGIN PGP PUBLIC KEY BLOCK-----\nthis is not a key\n-----END PGP PUBLIC KEY BLOCK-----';
    const failed = await env
      .run(
        window,
        {
          deliver: 'mail',
          via: 'ox',
          mailTo: 'good@example.com,bad(address@example.com,locked@example.com',
          pgpKeys: { 'locked@example.com': badKey },
        },
        { scheduleId: 'via-ox-fail' },
      )
      .catch((e: { permanent?: boolean; message: string }) => e);
    expect(failed).toMatchObject({ permanent: true });
    expect((failed as Error).message).toContain('bad(address@example.com');
    expect((failed as Error).message).toContain('locked@example.com');
    expect((failed as Error).message).not.toContain('this is not a key');
    const deliveries = await env.services.ledger.listDeliveries({ scheduleId: 'via-ox-fail', ...window });
    expect(Object.keys(deliveries)).toEqual(['mail:good@example.com']);
  });
});
