import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { credentialInUrl, safeUrl, scrubFields, scrubText } from '../../src/log/secrets.js';
import { parseDuration, parseInstant } from '../../src/time/parse-time.js';
import { InputError } from '../../src/errors.js';

describe('secret scrubbing', () => {
  it('removes credentials from URLs, auth headers and PGP keys in free text', () => {
    const text =
      'connect smtp://mailer:pa55@smtp.example:587 failed; Authorization: Basic b3hhZG1pbjpzZWNyZXQ= ' +
      '-----BEGIN PGP PUBLIC KEY BLOCK-----\nabc\n-----END PGP PUBLIC KEY BLOCK-----';
    const out = scrubText(text);
    expect(out).not.toMatch(/pa55|b3hhZG1pbjpzZWNyZXQ|abc/);
    expect(out).toContain('smtp://***@smtp.example:587');
    expect(out).toContain('Basic ***');
    expect(out).toContain('[PGP key]');
  });

  it('finds credentials in URLs: user info (any raw @), secret query parameters; not in other text', () => {
    expect(credentialInUrl('https://u:pw@cms.example/x.json')).toEqual({ userInfo: true });
    expect(credentialInUrl('https://u:pa/ss@cms.example/x.json')).toEqual({ userInfo: true });
    expect(credentialInUrl('https://cms.example/x.json?v=1&Access_Token=abc')).toEqual({ queryParam: 'Access_Token' });
    expect(credentialInUrl('s3://bucket/x.json?X-Amz-Signature=abc')).toEqual({ queryParam: 'X-Amz-Signature' });
    expect(credentialInUrl('https://cms.example/x.json?v=1&sort=date')).toBeUndefined();
    expect(credentialInUrl('/srv/catalog@2.yaml')).toBeUndefined();
    expect(credentialInUrl('ops@example.com')).toBeUndefined();
  });

  it('scrubs structured fields: nested URLs, URL objects, secret-named keys; leaves other values as they are', () => {
    const plain = { count: 3, ok: true, when: new Date(0), list: ['a', 'b'] };
    expect(scrubFields(plain)).toBe(plain); // nothing to change: no copy
    expect(scrubFields({ a: { b: [{ url: 'redis://:pw@h:6379' }] }, token: 'abc', password: '', link: new URL('https://u:p@h/') })).toEqual(
      { a: { b: [{ url: 'redis://***@h:6379' }] }, token: '***', password: '', link: 'https://***@h/' },
    );
  });

  it('shows URLs without user info', () => {
    expect(safeUrl('redis://:hunter2@redis:6379/0')).not.toContain('hunter2');
    expect(safeUrl('http://ox.example:8009/')).toBe('http://ox.example:8009/');
  });
});

describe('logger', () => {
  it('never writes a secret: redacted fields and scrubbed messages', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const { createLogger } = await import('../../src/log/logger.js');
    const log = createLogger({ stream: sink, level: 'info' }).child({ job: 'feedback.export' });
    log.info(
      { ox: { password: 'hunter2' }, mail: { smtp: 'smtp://u:pw@h' }, headers: { authorization: 'Basic Zm9vOmJhcg==' } },
      'sending via smtp://u:pw@h',
    );
    log.error({ err: new Error('login to smtp://u:pw@h refused') }, 'mail failed');
    log.warn({ err: { message: 'connect ECONNREFUSED redis://:pw2@10.0.0.1:6379' } }, 'redis connection error');
    const all = lines.join('');
    expect(all).toContain('connect ECONNREFUSED redis://***@10.0.0.1:6379');
    expect(all).not.toContain('[object Object]');
    expect(all).not.toMatch(/hunter2|:pw@|Zm9vOmJhcg/);
    expect(all).toContain('***');
  });
});

describe('time parsing', () => {
  it('reads epoch ms, dates at midnight in the zone, and exact date-times', () => {
    expect(parseInstant('1700000000000', 'UTC')).toBe(1_700_000_000_000);
    expect(parseInstant('2026-03-29', 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 28, 23, 0, 0));
    expect(parseInstant('2026-07-01', 'Europe/Berlin')).toBe(Date.UTC(2026, 5, 30, 22, 0, 0));
    expect(parseInstant('2026-07-01T02:00:00Z', 'Europe/Berlin')).toBe(Date.UTC(2026, 6, 1, 2, 0, 0));
    expect(parseInstant('2026-07-01T02:00:00+02:00', 'UTC')).toBe(Date.UTC(2026, 6, 1, 0, 0, 0));
    expect(parseInstant('2026-07-01T02:00', 'Europe/Berlin')).toBe(Date.UTC(2026, 6, 1, 0, 0, 0));
  });

  it('rejects nonsense with the value in the message', () => {
    expect(() => parseInstant('yesterday', 'UTC', '--start')).toThrow(InputError);
    expect(() => parseInstant('yesterday', 'UTC', '--start')).toThrow(/--start: "yesterday" is not a time/);
  });

  it('parses durations', () => {
    expect(parseDuration('90d')).toBe(90 * 86_400_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('5 minutes')).toThrow(/not a duration/);
  });
});
