/** A real SMTP server for tests (smtp-server) that keeps every message it accepts. */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SmtpCapture {
  url: string;
  port: number;
  messages: Array<{ envelopeTo: string[]; raw: Buffer }>;
  parsed(): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

export interface SmtpCaptureOptions {
  port?: number;
  rejectRecipients?: string[];
  /**
   * Awaited after a message's data arrived, before the server answers 250 and keeps it: delays
   * the acceptance, or, never settling, stalls it (a stalled message is never kept: its sender
   * never learnt it was accepted).
   */
  beforeAccept?: (envelopeTo: string[]) => Promise<void>;
  /** Called right after the server answered 250 for a message (without beforeAccept). */
  afterAccept?: (envelopeTo: string[]) => void;
}

export async function startSmtpCapture(options: SmtpCaptureOptions = {}): Promise<SmtpCapture> {
  const messages: SmtpCapture['messages'] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (options.rejectRecipients?.includes(address.address)) {
        const err = Object.assign(new Error('mailbox unavailable'), { responseCode: 550 });
        callback(err);
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const envelopeTo = session.envelope.rcptTo.map((r) => r.address);
        const accept = () => {
          messages.push({ envelopeTo, raw: Buffer.concat(chunks) });
          callback();
        };
        if (options.beforeAccept) void options.beforeAccept(envelopeTo).then(accept, (err: Error) => callback(err));
        else accept();
        if (options.afterAccept) options.afterAccept(envelopeTo);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = (server as unknown as { server: { address(): AddressInfo } }).server.address();
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    parsed: () => Promise.all(messages.map((m) => simpleParser(m.raw))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
