/**
 * Who wrote a spool or temp file, and whether that process still runs: a live process is never
 * taken for dead (itself, a live child), a dead one is (a killed child, a reused pid), and a
 * process of another host or container is never judged at all.
 */
import { startSleeper } from '../helpers/child.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  escapeHost,
  identityOfLocalPid,
  identityToken,
  liveness,
  ownIdentity,
  parseIdentityToken,
  unescapeHost,
} from '../../src/delivery/process-identity.js';

describe('process identity', () => {
  it('names this process by host, boot, pid namespace, pid and start time, and reads the name back', () => {
    const me = ownIdentity();
    expect(me.pid).toBe(process.pid);
    if (process.platform === 'linux') {
      expect(me.boot).toMatch(/^[0-9a-f]{8}$/);
      expect(me.pidNs).toMatch(/^\d+$/);
      expect(me.start).toMatch(/^\d+$/);
    }
    expect(parseIdentityToken(identityToken())).toEqual(me);
    expect(liveness(me)).toBe('alive');
  });

  it('a child is alive while it runs and dead once killed; a reused pid (other start time) is dead; another host or container is unknown', async () => {
    const child = await startSleeper();
    const identity = identityOfLocalPid(child.pid);
    expect(liveness(identity)).toBe('alive');
    await child.stop('SIGKILL');
    expect(liveness(identity)).toBe('dead');
    if (process.platform === 'linux') {
      // This very pid, but started at another time: an earlier process that had our pid.
      expect(liveness({ ...ownIdentity(), start: String(Number(ownIdentity().start) + 1) })).toBe('dead');
    }
    expect(liveness({ ...ownIdentity(), host: escapeHost('other-node') })).toBe('unknown');
    expect(liveness({ ...ownIdentity(), pidNs: '1' })).toBe('unknown');
    expect(liveness({ ...ownIdentity(), boot: '00000000' })).toBe('unknown');
  });

  it('escapes any host name into one file-name-safe word and back (property, seeded)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), fc.integer({ min: 1, max: 2 ** 31 }), (host, pid) => {
        const escaped = escapeHost(host);
        expect(escaped).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(unescapeHost(escaped)).toBe(host);
        const token = identityToken({ host: escaped, boot: 'x', pidNs: 'x', pid, start: 'x' });
        expect(parseIdentityToken(token)).toEqual({ host: escaped, boot: 'x', pidNs: 'x', pid, start: 'x' });
      }),
      { seed: 1205, numRuns: 300 },
    );
  });
});
