/**
 * Temp names of the fs archive. Invariants (seeded property tests): a temp name never is the file
 * of any key the archive accepts, and the temps of one key are never taken for those of another;
 * a key's next write removes the temps dead writers left and never a live writer's.
 */
import { startSleeper } from '../helpers/child.js';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTempName, nextTempName, sweepTempsOf, tempNameFor, tempOwnerOf } from '../../src/delivery/archive-temp.js';
import { FsArchive } from '../../src/delivery/fs-archive.js';
import { escapeHost, identityOfLocalPid, identityToken, ownIdentity } from '../../src/delivery/process-identity.js';

/** File names the archive's keys may end in: letters, digits, `. _ -` (what artifactKey and manifests use), `.`-led too. */
const fileName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,40}$/).filter((n) => n !== '.' && n !== '..');
const token = fc
  .record({
    host: fc.string({ minLength: 1, maxLength: 12 }).map(escapeHost),
    boot: fc.constantFrom('x', '0a1b2c3d'),
    pidNs: fc.constantFrom('x', '4026531836'),
    pid: fc.integer({ min: 1, max: 4_194_304 }),
    start: fc.constantFrom('x', '123456'),
  })
  .map((identity) => identityToken(identity));

async function deadChildToken(): Promise<string> {
  const child = await startSleeper();
  const identity = identityOfLocalPid(child.pid);
  await child.stop('SIGKILL');
  return identityToken(identity);
}

describe('archive temp names', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'oxbt-temp-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('a temp name is never an acceptable object name, and belongs to its own key only (property, seeded)', async () => {
    const archive = new FsArchive(root);
    fc.assert(
      fc.property(fileName, fileName, token, fc.integer({ min: 1, max: 10 ** 9 }), (a, b, writer, n) => {
        const temp = tempNameFor(a, writer, n);
        expect(isTempName(temp)).toBe(true);
        expect(tempOwnerOf(temp, a)).toBe(writer);
        if (b !== a) expect(tempOwnerOf(temp, b)).toBeUndefined();
        expect(tempOwnerOf(a, b)).toBeUndefined(); // an object is never a temp of anything
        // The archive refuses a key named like a temp: it cannot be swept as one.
        expect(() => archive.describe(`s/${temp}`)).toThrow(/has the form of an archive temp file name/);
        if (!isTempName(b)) expect(archive.describe(`s/${b}`)).toBe(join(root, 's', b));
      }),
      { seed: 1206, numRuns: 500 },
    );
  });

  it("sweeps the temps of dead writers and old temps of unknown ones; a live writer's temp and other keys' temps stay", async () => {
    const file = 'star-rating-v1_20260101T000000Z_20260102T000000Z.csv';
    const dead = tempNameFor(file, await deadChildToken(), 1);
    const live = nextTempName(file);
    const foreignFresh = tempNameFor(file, identityToken({ ...ownIdentity(), host: escapeHost('other-node') }), 3);
    const foreignOld = tempNameFor(file, identityToken({ ...ownIdentity(), host: escapeHost('gone-node') }), 4);
    const legacyOld = `.${file}.tmp-0badc0de`;
    const otherKey = tempNameFor(`${file}.manifest.json`, await deadChildToken(), 1);
    for (const name of [dead, live, foreignFresh, foreignOld, legacyOld, otherKey, file]) await writeFile(join(root, name), 'x');
    const old = new Date(Date.now() - 2 * 86_400_000);
    for (const name of [foreignOld, legacyOld]) await utimes(join(root, name), old, old);

    const removed = await sweepTempsOf(root, file, 86_400_000);
    expect(removed.sort()).toEqual([dead, foreignOld, legacyOld].sort());
    expect((await readdir(root)).sort()).toEqual([file, foreignFresh, live, otherKey].sort());
  });

  it('writing a key removes what a killed writer of that key left beside it', async () => {
    const archive = new FsArchive(root);
    const key = 'sched/default/star-rating-v1/2026/01/01/data.csv';
    const folder = join(root, 'sched/default/star-rating-v1/2026/01/01');
    await archive.putJson(`${key}.manifest.json`, { first: true });
    const leftover = tempNameFor('data.csv', await deadChildToken(), 7);
    await writeFile(join(folder, leftover), 'half a file');
    const source = join(root, 'spool.csv');
    await writeFile(source, 'a;b\r');
    await archive.putFile(key, source, { contentType: 'text/csv', bytes: 4, sha256: 'unused' });
    expect((await readdir(folder)).sort()).toEqual(['data.csv', 'data.csv.manifest.json']);
  });
});
