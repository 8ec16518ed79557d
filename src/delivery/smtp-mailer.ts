/**
 * Mail over SMTP with nodemailer (`mail.smtp`, e.g. smtp://user:pass@relay:587). The caller's
 * Message-ID is used as given: it is deterministic per (schedule, window, recipients), so a
 * resent copy is recognisable as the same message by servers and mail clients.
 */
import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { MailConfig } from '../config/schema.js';
import { DeliveryError, InputError } from '../errors.js';
import { safeUrl, scrubText } from '../log/secrets.js';
import type { MailMessage, MailReceipt, Mailer } from './types.js';

/** Connection problems and 4xx replies are temporary in SMTP; 5xx replies and bad auth are not. */
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNRESET', 'ECONNREFUSED', 'EPROTOCOL']);

export class SmtpMailer implements Mailer {
  private transport: Transporter<SMTPTransport.SentMessageInfo> | undefined;

  constructor(private readonly config: MailConfig) {}

  async send(message: MailMessage): Promise<MailReceipt> {
    message.signal?.throwIfAborted();
    const transport = await this.connect();
    let info: SMTPTransport.SentMessageInfo;
    try {
      info = await transport.sendMail({
        from: message.from,
        to: message.to,
        cc: message.cc,
        subject: message.subject,
        text: message.text,
        ...(message.html === undefined ? {} : { html: message.html }),
        messageId: message.messageId,
        attachments: message.attachments?.map((a) => ({
          filename: a.filename,
          contentType: a.contentType,
          ...(a.content ? { content: a.content } : { path: a.path }),
          ...(a.cid ? { cid: a.cid, contentDisposition: 'inline' as const } : {}),
        })),
      });
    } catch (err) {
      throw smtpFailure(err, this.config.smtp!);
    }
    return {
      messageId: info.messageId,
      accepted: info.accepted.map(addressOf),
      rejected: info.rejected.map(addressOf),
      response: info.response,
    };
  }

  async close(): Promise<void> {
    this.transport?.close();
    this.transport = undefined;
  }

  private async connect(): Promise<Transporter<SMTPTransport.SentMessageInfo>> {
    if (!this.config.smtp) throw new InputError('mail.smtp (SMTP_URL) is not set: mail delivery needs an SMTP server');
    if (!this.transport) {
      // Loaded on first use: a process that never mails does not carry nodemailer.
      const { default: nodemailer } = await import('nodemailer');
      this.transport ??= nodemailer.createTransport(this.config.smtp);
    }
    return this.transport;
  }
}

export function createMailer(config: MailConfig): Mailer {
  return new SmtpMailer(config);
}

function addressOf(entry: string | { address: string }): string {
  return typeof entry === 'string' ? entry : entry.address;
}

/**
 * Failures that prove the server did not take the message: no connection, no authentication, an
 * SMTP reply refusing it. A socket that broke off mid-DATA without a reply may have delivered it.
 */
const NOT_SENT_CODES = new Set(['ECONNECTION', 'ECONNREFUSED', 'EDNS', 'EAUTH', 'ENOAUTH', 'ETLS', 'EENVELOPE']);

function smtpFailure(err: unknown, smtpUrl: string): DeliveryError {
  const e = err as { code?: string; responseCode?: number; message?: string };
  const notSent = e.responseCode !== undefined || NOT_SENT_CODES.has(e.code ?? '');
  const retryable =
    e.responseCode !== undefined
      ? e.responseCode >= 400 && e.responseCode < 500
      : TRANSIENT_CODES.has(e.code ?? '') || e.code === undefined;
  const reason = scrubText(e.message ?? String(err));
  return new DeliveryError(
    `SMTP delivery via ${safeUrl(smtpUrl)} failed${e.responseCode ? ` (${e.responseCode})` : e.code ? ` (${e.code})` : ''}: ${reason}`,
    retryable,
    { cause: err, notSent },
  );
}
