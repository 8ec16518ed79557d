/**
 * An SMTP server that accepts every mail and stores it as an `.eml` file, so the demo's mails can
 * be opened in any mail client instead of reaching real people.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SMTPServer } from 'smtp-server';

export interface MailCatcher {
  /** `smtp://127.0.0.1:PORT` */
  readonly url: string;
  /** Files written so far, in the order the mails arrived. */
  readonly files: ReadonlyArray<string>;
  close(): Promise<void>;
}

export async function startMailCatcher(dir: string, options: { port?: number } = {}): Promise<MailCatcher> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  let counter = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    banner: 'ox-batch demo mail catcher',
    onData(stream, session, callback) {
      counter += 1;
      const stamp = new Date()
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z');
      const file = join(dir, `${stamp}-${String(counter).padStart(3, '0')}.eml`);
      const envelope =
        `X-Demo-Envelope-From: ${session.envelope.mailFrom ? session.envelope.mailFrom.address : ''}\r\n` +
        `X-Demo-Envelope-To: ${session.envelope.rcptTo.map((r) => r.address).join(', ')}\r\n`;
      const out = createWriteStream(file);
      out.write(envelope);
      pipeline(stream, out).then(
        () => {
          files.push(file);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    files,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
