/**
 * A spool is the local file an export streams into before it is delivered: one pass from OX,
 * constant memory whatever the window holds. Byte count and SHA-256 of the stored bytes (after
 * optional gzip) and the row count of the content are computed while the bytes go by, so no
 * delivery has to read the file twice to learn them.
 *
 * Spool files hold personal data. Their names say which process wrote them
 * (`.oxb-spool-<host>.<boot>.<pidns>.<pid>.<start>.<n>`, process-identity.ts), so the files a
 * crashed process left behind are swept at the next start (spool-sweep.ts) while a live
 * process's files are never touched.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, fdatasync, openSync, writeSync, writevSync, type ReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zlibConstants } from 'node:zlib';
import { streamedBufferReleaser } from '../v8-settings.js';
import { identityToken } from './process-identity.js';

/** Spool file names start with this; the sweep looks at nothing else. */
export const SPOOL_FILE_PREFIX = '.oxb-spool-';
let spoolCounter = 0;

/** The name of this process's next spool file. */
export function nextSpoolName(): string {
  spoolCounter += 1;
  return `${SPOOL_FILE_PREFIX}${identityToken()}.${spoolCounter}`;
}

/**
 * Chunks the sink may hold before the pipeline pauses the source. Writes are synchronous
 * (SpoolFileSink), so this is only what piles up within one turn of the event loop.
 */
const SPOOL_WRITE_BUFFER_BYTES = 1024 * 1024;
/** Spooled bytes after which the disk is asked to start writing them back (SpoolFileSink). */
export const WRITE_BACK_BYTES = 32 * 1024 * 1024;

/** Counts rows in the uncompressed content as it streams by. */
export interface RowCounter {
  update(chunk: Buffer): void;
  readonly rows: number;
  /** Throws when the content is evidently incomplete (e.g. ends mid-row); called once at the end. */
  finish?(): void;
}

export interface SpoolOptions {
  /** Folder for spool files (config.spool.dir); default the OS temp dir. */
  dir?: string;
  gzip?: boolean;
  /** zlib level 1 (fastest) .. 9 (smallest); default 6, zlib's own balance. */
  gzipLevel?: number;
  rowCounter?: RowCounter;
  signal?: AbortSignal;
  /** Called with the content bytes so far, at most once a second (job progress). */
  onProgress?: (contentBytes: number) => void;
}

const PROGRESS_INTERVAL_MS = 1000;

export interface SpooledArtifact {
  /** The spool file; removed by `cleanup()`. */
  readonly path: string;
  readonly rows: number;
  /** Size and SHA-256 of the bytes as stored (gzip-compressed when `gzip`). */
  readonly bytes: number;
  readonly sha256: string;
  /** Size of the content before compression. */
  readonly contentBytes: number;
  readonly gzip: boolean;
  /** Epoch ms when the last byte was spooled. */
  readonly completedAt: number;
  open(): ReadStream;
  cleanup(): Promise<void>;
}

export async function spoolStream(source: Readable | AsyncIterable<Buffer | string>, options: SpoolOptions = {}): Promise<SpooledArtifact> {
  // The source may fail while we create the folder; the pipeline below still sees that error
  // (it checks `errored`), but without a listener now it would be an uncaught exception.
  const ignoreUntilPiped = () => undefined;
  if (source instanceof Readable) source.on('error', ignoreUntilPiped);
  const dir = options.dir || tmpdir();
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if (source instanceof Readable) source.destroy();
    throw err;
  }
  const path = join(dir, nextSpoolName());
  const hash = createHash('sha256');
  let lastProgress = Date.now();
  let contentBytes = 0;
  // The source's chunks are garbage once they went by (gzip or not): see streamedBufferReleaser.
  const releaseBuffers = streamedBufferReleaser();
  const countRows = (chunk: Buffer) => {
    contentBytes += chunk.length;
    releaseBuffers(chunk.length);
    options.rowCounter?.update(chunk);
    if (options.onProgress && Date.now() - lastProgress >= PROGRESS_INTERVAL_MS) {
      lastProgress = Date.now();
      options.onProgress(contentBytes);
    }
  };
  const hashBytes = (chunk: Buffer) => hash.update(chunk);
  // Without gzip the content is what is stored: the sink counts rows and hashes as it writes
  // (one stream less for every chunk); with gzip a tap sees the content before it is compressed.
  const content = options.gzip ? new ByteTap(countRows) : undefined;
  const sink = new SpoolFileSink(
    path,
    options.gzip
      ? hashBytes
      : (chunk) => {
          countRows(chunk);
          hashBytes(chunk);
        },
  );
  // Level 6 is zlib's default balance; exports are text and shrink ~5-10x either way.
  const stages: NodeJS.ReadWriteStream[] = content
    ? [content, createGzip({ level: options.gzipLevel ?? zlibConstants.Z_DEFAULT_COMPRESSION })]
    : [];
  try {
    await pipeline([toReadable(source), ...stages, sink], { signal: options.signal });
    options.rowCounter?.finish?.();
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  } finally {
    if (source instanceof Readable) source.off('error', ignoreUntilPiped);
  }
  return {
    path,
    rows: options.rowCounter?.rows ?? 0,
    bytes: sink.bytes,
    sha256: hash.digest('hex'),
    contentBytes,
    gzip: options.gzip ?? false,
    completedAt: Date.now(),
    open: () => createReadStream(path),
    cleanup: () => rm(path, { force: true }),
  };
}

function toReadable(source: Readable | AsyncIterable<Buffer | string>): NodeJS.ReadableStream {
  return source instanceof Readable ? source : Readable.from(source, { objectMode: false });
}

/**
 * The spool file, written synchronously on the event loop. Measured on a 651 MB export (2-core
 * machine, ext4, page cache): fs.createWriteStream (writes in libuv's thread pool, 1 MiB
 * buffer) 1.60-1.65 s and 0.9 s of system time; writeSync per chunk 1.05-1.10 s and 0.4 s. The
 * thread pool's hand-offs cost more than the copies into the page cache they wait for, which
 * take ~0.1 ms per 256 KiB chunk. The price is that a stalled disk stalls this process's event
 * loop instead of one pool thread: spool.dir is meant to be a local disk (the default is the OS
 * temp dir), and a lock renewal waits at most one write.
 */
export class SpoolFileSink extends Writable {
  private fd: number | undefined;
  private unflushed = 0;
  private flushing: Promise<void> | undefined;
  /** What a write-back reported: fails the spool (see wrote). */
  private flushError: Error | undefined;
  /** Bytes written. */
  bytes = 0;
  /**
   * `onChunk` sees every chunk before it is written; what it throws fails the spool. `writeBack`
   * is fdatasync; a test passes one that fails as a failing disk's would (EIO), which this
   * machine has no other way to produce.
   */
  constructor(
    private readonly path: string,
    private readonly onChunk: (chunk: Buffer) => void,
    private readonly writeBack: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void = fdatasync,
  ) {
    super({ highWaterMark: SPOOL_WRITE_BUFFER_BYTES });
  }
  // Before the first write, inside the pipeline: a failed open destroys the source too.
  override _construct(done: (err?: Error | null) => void): void {
    try {
      this.fd = openSync(this.path, 'wx', 0o600);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.flushError) return done(this.flushError);
    try {
      this.onChunk(chunk);
      writeFully(this.fd!, chunk);
      this.wrote(chunk.length);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
  override _writev(chunks: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    if (this.flushError) return done(this.flushError);
    try {
      const buffers = chunks.map((c) => c.chunk);
      for (const buffer of buffers) this.onChunk(buffer);
      const total = buffers.reduce((sum, b) => sum + b.length, 0);
      const written = writevSync(this.fd!, buffers);
      // A regular file takes all of it; should it not, the rest goes chunk by chunk.
      if (written < total) writeFully(this.fd!, Buffer.concat(buffers).subarray(written));
      this.wrote(total);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
  override _final(done: (err?: Error | null) => void): void {
    this.closeFile(done);
  }
  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.closeFile((closeErr) => done(err ?? closeErr));
  }
  /**
   * The archive fsyncs the file it links or copies from the spool; a disk flushing 600 MB only
   * then adds its whole write time at the end (~0.3 s here). Starting the write-back every
   * WRITE_BACK_BYTES while the download goes on leaves only the tail to the final fsync.
   */
  private wrote(bytes: number): void {
    this.bytes += bytes;
    this.unflushed += bytes;
    if (this.unflushed < WRITE_BACK_BYTES || this.flushing || this.fd === undefined) return;
    this.unflushed = 0;
    const fd = this.fd;
    this.flushing = new Promise<void>((resolve) => {
      // A failure must fail the spool: Linux reports a write-back error once, to whichever
      // fdatasync sees it first, so the archive's own fsync later (another descriptor) would not.
      this.writeBack(fd, (err) => {
        if (err) this.flushError ??= err;
        this.flushing = undefined;
        resolve();
      });
    });
  }
  private closeFile(done: (err?: Error | null) => void): void {
    const fd = this.fd;
    this.fd = undefined;
    const close = () => {
      try {
        if (fd !== undefined) closeSync(fd);
        done(this.flushError);
      } catch (err) {
        done(err as Error);
      }
    };
    // Never close a descriptor a write-back in the thread pool still uses.
    if (this.flushing) void this.flushing.then(close);
    else close();
  }
}

function writeFully(fd: number, buffer: Buffer): void {
  for (let offset = 0; offset < buffer.length;) offset += writeSync(fd, buffer, offset);
}

/** Passes bytes through unchanged, showing each chunk to an observer. */
class ByteTap extends Transform {
  constructor(private readonly onChunk: (chunk: Buffer) => void) {
    // A 16 KiB default would pause the source at every chunk (see the OX client's BODY_BUFFER_BYTES).
    super({ highWaterMark: 256 * 1024 });
  }
  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, done: TransformCallback): void {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    try {
      this.onChunk(buffer);
    } catch (err) {
      done(err as Error);
      return;
    }
    done(null, buffer);
  }
}
