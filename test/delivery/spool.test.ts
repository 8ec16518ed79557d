import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spoolStream, type RowCounter } from '../../src/delivery/spool.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

class NewlineCounter implements RowCounter {
  rows = 0;
  update(chunk: Buffer): void {
    for (const byte of chunk) if (byte === 0x0a) this.rows += 1;
  }
}

describe('spoolStream', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oxbt-spool-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores the bytes unchanged and reports rows, bytes and SHA-256 computed on the way', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `row ${i};Grüße "${i}"\n`);
    const content = Buffer.from(lines.join(''));
    const artifact = await spoolStream(Readable.from(lines.map((l) => Buffer.from(l))), { dir, rowCounter: new NewlineCounter() });
    expect(artifact.rows).toBe(5000);
    expect(artifact.bytes).toBe(content.length);
    expect(artifact.contentBytes).toBe(content.length);
    expect(artifact.sha256).toBe(sha256(content));
    expect(await readFile(artifact.path)).toEqual(content);
    expect(artifact.path.startsWith(dir)).toBe(true);
    await artifact.cleanup();
    expect(await readdir(dir)).toEqual([]);
  });

  it('gzips when asked: size and hash are of the stored gzip bytes, rows of the content', async () => {
    const content = Buffer.from('a,b\n1,2\n3,4\n'.repeat(1000));
    const artifact = await spoolStream(Readable.from([content]), { dir, gzip: true, rowCounter: new NewlineCounter() });
    const stored = await readFile(artifact.path);
    expect(gunzipSync(stored)).toEqual(content);
    expect(artifact.bytes).toBe(stored.length);
    expect(artifact.sha256).toBe(sha256(stored));
    expect(artifact.contentBytes).toBe(content.length);
    expect(artifact.rows).toBe(3000);
    expect(artifact.gzip).toBe(true);
  });

  it('removes the spool file when the source fails mid-stream', async () => {
    async function* failing() {
      yield Buffer.from('first chunk\n');
      throw new Error('connection dropped');
    }
    await expect(spoolStream(failing(), { dir })).rejects.toThrow('connection dropped');
    expect(await readdir(dir)).toEqual([]);
  });

  it('stops and cleans up when aborted', async () => {
    const controller = new AbortController();
    async function* endless() {
      for (let i = 0; ; i++) {
        if (i === 10) controller.abort();
        yield Buffer.alloc(1024, 65);
        await new Promise((r) => setImmediate(r));
      }
    }
    await expect(spoolStream(endless(), { dir, signal: controller.signal })).rejects.toThrow(/abort/i);
    expect(await readdir(dir)).toEqual([]);
  });

  it('fails and cleans up when the row counter finds the content incomplete', async () => {
    const counter: RowCounter = {
      rows: 0,
      update() {},
      finish() {
        throw new Error('ends mid-row');
      },
    };
    await expect(spoolStream(Readable.from([Buffer.from('x')]), { dir, rowCounter: counter })).rejects.toThrow('ends mid-row');
    expect(await readdir(dir)).toEqual([]);
  });

  it('spools past the write-back mark (32 MiB) byte for byte, and a failure after it leaves nothing', async () => {
    // 40 distinct MiB: the sink starts a write-back after 32 and must close only once it is done.
    const chunks = Array.from({ length: 160 }, (_, i) => Buffer.alloc(256 * 1024, i % 251));
    const content = Buffer.concat(chunks);
    const artifact = await spoolStream(Readable.from(chunks), { dir });
    expect(artifact.bytes).toBe(content.length);
    expect(artifact.sha256).toBe(sha256(content));
    expect(sha256(await readFile(artifact.path))).toBe(sha256(content));
    await artifact.cleanup();
    async function* failsLate() {
      yield* chunks;
      throw new Error('connection dropped after 40 MiB');
    }
    await expect(spoolStream(failsLate(), { dir })).rejects.toThrow('connection dropped after 40 MiB');
    expect(await readdir(dir)).toEqual([]);
  });

  it('a spool file that cannot be created fails the spool and stops reading the source', async () => {
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 1000; i++) yield Buffer.alloc(1024, 65);
      })(),
    );
    // A folder that exists but takes no new files, even for root.
    await expect(spoolStream(source, { dir: '/proc/self' })).rejects.toThrow(/ENOENT|EACCES|EPERM/);
    expect(source.destroyed).toBe(true);
  });

  it('creates the spool folder when it does not exist', async () => {
    const nested = join(dir, 'a', 'b');
    const artifact = await spoolStream(Readable.from([Buffer.from('x')]), { dir: nested });
    expect(await readFile(artifact.path, 'utf8')).toBe('x');
  });
});
