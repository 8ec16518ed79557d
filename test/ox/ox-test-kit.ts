import { createServer } from 'node:net';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { loadConfig } from '../../src/config/load-config.js';
import type { OxConfig } from '../../src/config/schema.js';

export const REST_USER = 'oxadmin';
/** Distinctive so a leak into a message or log line cannot hide. */
export const REST_PASSWORD = 'S3cr3t-rest-pa55';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** The OX part of a real config (defaults + env + overrides), with quick retries for tests. */
export function oxConfig(
  url: string,
  overrides: DeepPartial<Record<string, unknown>> & Record<string, unknown> = {},
  env: Record<string, string> = {},
): OxConfig {
  return loadConfig({
    env: { OX_URL: url, OX_USER: REST_USER, OX_PASSWORD: REST_PASSWORD, ...env },
    overrides: deepMerge({ ox: { retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } } }, { ox: overrides }),
  }).ox;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export async function readAll(stream: Readable | AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A rejected promise's error, or a failure when it resolved. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- callers assert on the error fields of whatever failed
export async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** A port nothing listens on: connections to it are refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** A pino logger at debug level whose lines are kept, to prove no secret reaches them. */
export function memoryLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

/** A real SMTP server on a free port that keeps every message it receives. */
export async function startSmtp(): Promise<{ url: string; messages: ParsedMail[]; close(): Promise<void> }> {
  const messages: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        messages.push(mail);
        callback();
      }, callback);
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as { port: number }).port;
  return { url: `smtp://127.0.0.1:${port}`, messages, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Simulator credentials matching `oxConfig`. */
export const SIM_CREDENTIALS = { rest: { user: REST_USER, password: REST_PASSWORD } };

/** Shaped like an ASCII-armoured public key (what OX checks before encrypting); not a real key. */
export const TEST_PGP_KEY = `-----BEGIN PGP PUBLIC KEY BLOCK-----

mQENBFxxxxxBCAC7abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123
abcdefghijklmnopqrstuvwxyz0123456789+/abcdefghijklmnopqrstuvwxyzABCD==
=AbCd
-----END PGP PUBLIC KEY BLOCK-----
`;
