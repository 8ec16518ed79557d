import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fdatasync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { SpoolFileSink, spoolStream, WRITE_BACK_BYTES, type RowCounter } from '../../src/delivery/spool.js';

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

  describe('the write-back during the download', () => {
    const MiB = 1024 * 1024;
    /** `mib` MiB in 1 MiB chunks, each chunk's bytes its index. */
    const source = (mib: number) => Readable.from(Array.from({ length: mib }, (_, i) => Buffer.alloc(MiB, i)));
    const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' });

    it('starts every WRITE_BACK_BYTES, and the file is closed only after the one in flight finished', async () => {
      const path = join(dir, 'spool');
      const calls: number[] = [];
      const answers: (NodeJS.ErrnoException | null)[] = [];
      // A slow disk: each write-back takes a while, then really syncs the descriptor (EBADF if it had been closed).
      const slowSync = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => {
        calls.push(fd);
        setTimeout(
          () =>
            fdatasync(fd, (err) => {
              answers.push(err);
              done(err);
            }),
          150,
        );
      };
      const sink = new SpoolFileSink(path, () => undefined, slowSync);
      await pipeline(source(2 * (WRITE_BACK_BYTES / MiB) + 3), sink);
      // Finished means every write-back answered, on an open descriptor.
      expect(answers).toEqual(calls.map(() => null));
      expect(calls.length).toBeGreaterThanOrEqual(1);
      expect(calls.length).toBeLessThanOrEqual(2);
      expect(sink.bytes).toBe((2 * (WRITE_BACK_BYTES / MiB) + 3) * MiB);
      const written = await readFile(path);
      expect(written.length).toBe(sink.bytes);
      expect(written[written.length - 1]).toBe((2 * (WRITE_BACK_BYTES / MiB) + 2) & 0xff);
    });

    it('a write-back that fails (a failing disk) fails the sink mid-download, and the download stops', async () => {
      const failing = (_fd: number, done: (err: NodeJS.ErrnoException | null) => void) => setImmediate(() => done(eio()));
      const sink = new SpoolFileSink(join(dir, 'spool'), () => undefined, failing);
      // A download: chunks arrive one per turn of the event loop.
      const total = WRITE_BACK_BYTES / MiB + 16;
      let sent = 0;
      async function* download() {
        for (; sent < total; sent++) {
          await new Promise((r) => setImmediate(r));
          yield Buffer.alloc(MiB, sent);
        }
      }
      await expect(pipeline(download(), sink)).rejects.toMatchObject({ code: 'EIO' });
      expect(sent).toBeLessThan(total);
      // Also when the failure is reported only after the last chunk was written.
      const late = (_fd: number, done: (err: NodeJS.ErrnoException | null) => void) => setTimeout(() => done(eio()), 200);
      const second = new SpoolFileSink(join(dir, 'spool-2'), () => undefined, late);
      await expect(pipeline(source(WRITE_BACK_BYTES / MiB + 1), second)).rejects.toMatchObject({ code: 'EIO' });
    });
  });
});
