import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { createArchive } from '../../src/delivery/create-archive.js';
import { FsArchive } from '../../src/delivery/fs-archive.js';
import { loadConfig } from '../../src/config/load-config.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('FsArchive', () => {
  let root: string;
  let work: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'oxbt-archive-'));
    work = await mkdtemp(join(tmpdir(), 'oxbt-work-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it('is what createArchive builds for kind fs', () => {
    const config = loadConfig({ env: {}, overrides: { archive: { kind: 'fs', dir: root } } });
    const archive = createArchive(config.archive);
    expect(archive.kind).toBe('fs');
    expect(archive.describe('a/b.csv')).toBe(join(root, 'a/b.csv'));
  });

  it('stores a file under its key, leaves no temp file and verifies size and SHA-256', async () => {
    const archive = new FsArchive(root);
    const content = Buffer.from('"Date";"Score"\r"2026-11-01 00:00:00";"5"\r');
    const source = join(work, 'spool');
    await writeFile(source, content);
    const info = await archive.putFile('s/default/star-rating-v1/2026/11/01/x.csv', source, {
      contentType: 'text/csv',
      bytes: content.length,
      sha256: sha256(content),
    });
    expect(info).toEqual({ key: 's/default/star-rating-v1/2026/11/01/x.csv', bytes: content.length, sha256: sha256(content) });
    expect(await readFile(join(root, info.key))).toEqual(content);
    expect(await listAll(root)).toEqual(['s/default/star-rating-v1/2026/11/01/x.csv']);
    expect(await archive.exists(info.key)).toBe(true);
    // Copied (not immutable): verified by reading the copy back, even when told the source.
    expect(await archive.verify(info.key, { bytes: content.length, sha256: sha256(content) }, { localCopy: source })).toEqual({
      ok: true,
      verifiedBy: 'read-back',
      bytes: content.length,
      sha256: sha256(content),
    });
  });

  it('reports a missing, truncated or altered object in verify', async () => {
    const archive = new FsArchive(root);
    const content = Buffer.from('hello world');
    const expected = { bytes: content.length, sha256: sha256(content) };
    expect(await archive.verify('a/missing.csv', expected)).toEqual({ ok: false, reason: 'missing' });
    const source = join(work, 'spool');
    await writeFile(source, content);
    await archive.putFile('a/x.csv', source, { contentType: 'text/csv', ...expected });
    await writeFile(join(root, 'a/x.csv'), 'hello');
    expect(await archive.verify('a/x.csv', expected)).toMatchObject({ ok: false, reason: 'size 5 != 11' });
    await writeFile(join(root, 'a/x.csv'), 'hello_world');
    expect(await archive.verify('a/x.csv', expected)).toMatchObject({ ok: false, reason: 'sha256 mismatch' });
  });

  it('replaces an existing object by rename, never by rewriting it in place', async () => {
    const archive = new FsArchive(root);
    const source = join(work, 'spool');
    await writeFile(source, 'v1');
    await archive.putFile('k/x.csv', source, { contentType: 'text/csv', bytes: 2, sha256: sha256('v1') });
    const before = await stat(join(root, 'k/x.csv'));
    await writeFile(source, 'v2!');
    await archive.putFile('k/x.csv', source, { contentType: 'text/csv', bytes: 3, sha256: sha256('v2!') });
    const after = await stat(join(root, 'k/x.csv'));
    expect(after.ino).not.toBe(before.ino);
    expect(await readFile(join(root, 'k/x.csv'), 'utf8')).toBe('v2!');
  });

  it('links an immutable source instead of copying it; the object survives the source being removed', async () => {
    const archive = new FsArchive(root);
    const source = join(work, 'spool');
    await writeFile(source, 'sealed');
    await archive.putFile('k/sealed.csv', source, { contentType: 'text/csv', bytes: 6, sha256: sha256('sealed'), immutable: true });
    expect((await stat(join(root, 'k/sealed.csv'))).ino).toBe((await stat(source)).ino);
    // The archive file is the spool's inode: nothing was copied, nothing is read back.
    expect(await archive.verify('k/sealed.csv', { bytes: 6, sha256: sha256('sealed') }, { localCopy: source })).toEqual({
      ok: true,
      verifiedBy: 'same-inode',
      bytes: 6,
      sha256: sha256('sealed'),
    });
    await rm(source);
    expect(await archive.verify('k/sealed.csv', { bytes: 6, sha256: sha256('sealed') }, { localCopy: source })).toMatchObject({
      ok: true,
      verifiedBy: 'read-back',
    });
    expect(await archive.verify('k/sealed.csv', { bytes: 6, sha256: sha256('x') })).toMatchObject({ ok: false, reason: 'sha256 mismatch' });
    expect(await listAll(root)).toEqual(['k/sealed.csv']);
  });

  it('leaves nothing behind when the copy fails or the size does not match', async () => {
    const archive = new FsArchive(root);
    await expect(archive.putFile('k/x.csv', join(work, 'nope'), { contentType: 'text/csv', bytes: 1, sha256: 'x' })).rejects.toMatchObject({
      code: 'ENOENT',
      message: expect.stringMatching(/^ENOENT: no such file or directory/),
    });
    const source = join(work, 'spool');
    await writeFile(source, 'abc');
    await expect(archive.putFile('k/x.csv', source, { contentType: 'text/csv', bytes: 4, sha256: 'x' })).rejects.toThrow(
      /3 bytes, expected 4/,
    );
    expect(await listAll(root)).toEqual([]);
  });

  it('round-trips JSON and answers null for a missing one', async () => {
    const archive = new FsArchive(root);
    const info = await archive.putJson('k/x.csv.manifest.json', { rows: 3, note: 'Grüße' });
    expect(await archive.readJson('k/x.csv.manifest.json')).toEqual({ rows: 3, note: 'Grüße' });
    expect(info.sha256).toBe(sha256(await readFile(join(root, 'k/x.csv.manifest.json'))));
    expect(await archive.readJson('k/none.json')).toBeNull();
  });

  it('refuses keys that would leave the archive folder, and presigned links', async () => {
    const archive = new FsArchive(root);
    await expect(archive.putJson('../evil.json', {})).rejects.toBeInstanceOf(InputError);
    await expect(archive.exists('/etc/passwd')).rejects.toBeInstanceOf(InputError);
    await expect(archive.putJson('a//b.json', {})).rejects.toBeInstanceOf(InputError);
    await expect(archive.presignGet('a/b.csv', 1000)).rejects.toThrow(/needs archive.kind s3/);
  });
});
