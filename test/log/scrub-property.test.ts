/**
 * Scrubbing never leaks a password, whatever its characters (`@`, `/`, `:`, `?`, `#`, `%`,
 * quotes, non-ASCII), raw or percent-encoded, in free text, in safeUrl, in an error, and in
 * structured log fields at any depth (`{ url }`, nested objects, arrays, child bindings, URL
 * objects). Seeded property tests: a failure prints its seed and the counterexample.
 */
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { safeUrl, scrubFields, scrubText } from '../../src/log/secrets.js';

/** Printable ASCII without whitespace, plus a few non-ASCII letters. */
const passwordChar = fc.oneof(
  fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('@', '/', ':', '?', '#', '%', 'é', 'ß', '€', '😀'),
);
const password = fc.string({ unit: passwordChar, minLength: 6, maxLength: 24 });
const scheme = fc.constantFrom('https', 'http', 'redis', 'rediss', 'smtp', 'smtps', 'redis+sentinel', 's3');

/** The parts of a password a partial leak would show: split at URL delimiters, 4+ characters. */
function pieces(secret: string): string[] {
  const encoded = encodeURIComponent(secret);
  return [secret, encoded, ...secret.split(/[@/:?#&%]/), ...encoded.split(/%[0-9A-F]{2}/)].filter((p) => p.length >= 4);
}

/** Every string inside parsed JSON log lines. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  return out;
}

function logLines(write: (log: ReturnType<typeof createLogger>) => void): string {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  write(createLogger({ stream: sink, level: 'info' }));
  return lines
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => strings(JSON.parse(l)).join('\n'))
    .join('\n');
}

/** Asserts no piece of `secret` is in `shown`, unless the same text without the secret holds it (then it tells nothing). */
function expectNoLeak(secret: string, shown: string, withoutSecret: string): void {
  for (const piece of pieces(secret)) {
    if (withoutSecret.includes(piece)) continue;
    expect(shown, `piece ${JSON.stringify(piece)} of the password`).not.toContain(piece);
  }
}

const PLACEHOLDER = 'PLACEHOLDER';

describe('secret scrubbing never leaks a password (property, seeded)', () => {
  it('in free text, safeUrl and structured fields, raw and percent-encoded', () => {
    fc.assert(
      fc.property(password, scheme, fc.boolean(), (secret, s, encode) => {
        const p = encode ? encodeURIComponent(secret) : secret;
        const render = (pw: string) => {
          const url = `${s}://ops:${pw}@host.example:6379/0`;
          return [
            scrubText(`connect ${url} failed; retry ${s}://:${pw}@other.example`),
            safeUrl(url),
            JSON.stringify(
              scrubFields({ url, nested: { deeper: [{ target: url }], list: [url] }, headers: { 'x-password': pw }, password: pw }),
            ),
          ].join('\n');
        };
        expectNoLeak(secret, render(p), render(PLACEHOLDER));
      }),
      { seed: 1207, numRuns: 500 },
    );
  });

  it('in a secret query parameter, percent-encoded as a URL carries it', () => {
    fc.assert(
      fc.property(
        password,
        fc.constantFrom('token', 'password', 'access_token', 'sentinelPassword', 'X-Amz-Signature', 'api_key', 'client_secret'),
        (secret, name) => {
          const render = (pw: string) => {
            const url = `https://cms.example/catalog.json?v=1&${name}=${encodeURIComponent(pw)}&x=2`;
            return [scrubText(`GET ${url}`), safeUrl(url), JSON.stringify(scrubFields({ catalog: url }))].join('\n');
          };
          expectNoLeak(secret, render(secret), render(PLACEHOLDER));
        },
      ),
      { seed: 1208, numRuns: 300 },
    );
  });

  it('in every log line: message, fields at any depth, child bindings, URL objects and errors', () => {
    fc.assert(
      fc.property(password, scheme, (secret, s) => {
        const render = (pw: string) => {
          const url = `${s}://svc:${pw}@db.example/x`;
          return logLines((log) => {
            const child = log.child({ catalog: url, config: { ox: { url } } });
            child.info(
              { url, target: { endpoint: { href: url } }, list: [url], link: new URL(`https://u:${encodeURIComponent(pw)}@h.example/`) },
              `fetching ${url}`,
            );
            child.error({ err: new Error(`cannot reach ${url}`) }, 'failed');
            child.warn({ err: { message: `lost ${url}` } }, 'warned');
          });
        };
        expectNoLeak(secret, render(secret), render(PLACEHOLDER));
      }),
      { seed: 1209, numRuns: 150 },
    );
  });
});
