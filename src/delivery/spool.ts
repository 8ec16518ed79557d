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
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, constants as zlibConstants } from 'node:zlib';
import { identityToken } from './process-identity.js';

/** Spool file names start with this; the sweep looks at nothing else. */
export const SPOOL_FILE_PREFIX = '.oxb-spool-';
let spoolCounter = 0;

/** The name of this process's next spool file. */
export function nextSpoolName(): string {
  spoolCounter += 1;
  return `${SPOOL_FILE_PREFIX}${identityToken()}.${spoolCounter}`;
}

const SPOOL_WRITE_BUFFER_BYTES = 1024 * 1024;

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
  const countRows = (chunk: Buffer) => {
    options.rowCounter?.update(chunk);
    if (options.onProgress && Date.now() - lastProgress >= PROGRESS_INTERVAL_MS) {
      lastProgress = Date.now();
      options.onProgress(content.bytes);
    }
  };
  const hashBytes = (chunk: Buffer) => hash.update(chunk);
  // Without gzip the content is what is stored: one tap counts rows and hashes.
  const content = new ByteTap(
    options.gzip
      ? countRows
      : (chunk) => {
          countRows(chunk);
          hashBytes(chunk);
        },
  );
  const stored = options.gzip ? new ByteTap(hashBytes) : content;
  // Level 6 is zlib's default balance; exports are text and shrink ~5-10x either way.
  const stages: NodeJS.ReadWriteStream[] = options.gzip
    ? [content, createGzip({ level: options.gzipLevel ?? zlibConstants.Z_DEFAULT_COMPRESSION }), stored]
    : [content];
  try {
    // A deep write buffer lets the stream batch chunks into one writev while a write is in flight.
    const sink = createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: SPOOL_WRITE_BUFFER_BYTES });
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
    bytes: stored.bytes,
    sha256: hash.digest('hex'),
    contentBytes: content.bytes,
    gzip: options.gzip ?? false,
    completedAt: Date.now(),
    open: () => createReadStream(path),
    cleanup: () => rm(path, { force: true }),
  };
}

function toReadable(source: Readable | AsyncIterable<Buffer | string>): NodeJS.ReadableStream {
  return source instanceof Readable ? source : Readable.from(source, { objectMode: false });
}

/** Passes bytes through unchanged, counting them and showing each chunk to an observer. */
class ByteTap extends Transform {
  bytes = 0;
  constructor(private readonly onChunk: (chunk: Buffer) => void) {
    // A 16 KiB default would pause the source at every chunk (see the OX client's BODY_BUFFER_BYTES).
    super({ highWaterMark: 256 * 1024 });
  }
  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, done: TransformCallback): void {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.bytes += buffer.length;
    try {
      this.onChunk(buffer);
    } catch (err) {
      done(err as Error);
      return;
    }
    done(null, buffer);
  }
}
