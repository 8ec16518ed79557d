import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError, InputError } from '../../src/errors.js';
import { createMailer } from '../../src/delivery/smtp-mailer.js';
import { startSmtpCapture, type SmtpCapture } from './helpers/smtp-capture.js';

const mailConfig = (smtp?: string) => ({ smtp, from: 'ox-batch@example.com', to: [], maxAttachmentBytes: 1024, claimLeaseMs: 60_000 });

describe('SmtpMailer against smtp-server', () => {
  let smtp: SmtpCapture;
  let work: string;
  beforeAll(async () => {
    smtp = await startSmtpCapture({ rejectRecipients: ['nobody@example.com'] });
    work = await mkdtemp(join(tmpdir(), 'oxbt-mail-'));
  });
  afterAll(async () => {
    await smtp?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('sends with the given Message-ID, recipients and attachment', async () => {
    const attachment = join(work, 'report.csv');
    await writeFile(attachment, '"Date";"Comment"\r"2026-11-01 00:00:00";"Grüße; \'hi\'"\r');
    const mailer = createMailer(mailConfig(smtp.url));
    const receipt = await mailer.send({
      from: 'ox-batch@example.com',
      to: ['ops@example.com'],
      cc: ['boss@example.com'],
      subject: 'Feedback 2026-11-01',
      text: 'see attachment',
      messageId: '<oxb.test.20261101T000000Z.abc@example.com>',
      attachments: [{ filename: 'star-rating-v1_x.csv', path: attachment, contentType: 'text/csv' }],
    });
    await mailer.close();
    expect(receipt.messageId).toBe('<oxb.test.20261101T000000Z.abc@example.com>');
    expect(receipt.accepted.sort()).toEqual(['boss@example.com', 'ops@example.com']);
    const [mail] = await smtp.parsed();
    expect(mail!.messageId).toBe('<oxb.test.20261101T000000Z.abc@example.com>');
    expect(mail!.subject).toBe('Feedback 2026-11-01');
    expect(mail!.attachments).toHaveLength(1);
    expect(mail!.attachments[0]!.filename).toBe('star-rating-v1_x.csv');
    expect(mail!.attachments[0]!.content.toString('utf8')).toBe('"Date";"Comment"\r"2026-11-01 00:00:00";"Grüße; \'hi\'"\r');
  });

  it('reports an unreachable server as retryable, without the SMTP password', async () => {
    const down = await startSmtpCapture();
    await down.close();
    const mailer = createMailer(mailConfig(`smtp://user:hunter2@127.0.0.1:${down.port}`));
    const failure = await mailer
      .send({ from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't', messageId: '<x@y>' })
      .catch((e: unknown) => e);
    await mailer.close();
    expect(failure).toBeInstanceOf(DeliveryError);
    expect((failure as DeliveryError).retryable).toBe(true);
    expect((failure as DeliveryError).message).not.toContain('hunter2');
  });

  it('reports a permanently rejected recipient as not retryable', async () => {
    const mailer = createMailer(mailConfig(smtp.url));
    const failure = await mailer
      .send({ from: 'a@example.com', to: ['nobody@example.com'], subject: 's', text: 't', messageId: '<y@y>' })
      .catch((e: unknown) => e);
    await mailer.close();
    expect(failure).toBeInstanceOf(DeliveryError);
    expect((failure as DeliveryError).retryable).toBe(false);
  });

  it('names the missing setting when no SMTP server is configured', async () => {
    const mailer = createMailer(mailConfig(undefined));
    await expect(mailer.send({ from: 'a@b.c', to: ['b@b.c'], subject: 's', text: 't', messageId: '<z@y>' })).rejects.toBeInstanceOf(
      InputError,
    );
    await expect(mailer.send({ from: 'a@b.c', to: ['b@b.c'], subject: 's', text: 't', messageId: '<z@y>' })).rejects.toThrow(/SMTP_URL/);
  });
});
