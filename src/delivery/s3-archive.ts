/**
 * The archive as an S3 bucket (AWS or any S3-compatible store via `endpoint` + `forcePathStyle`).
 * Artifacts go up as multipart uploads with SHA-256 part checksums, read part by part from the
 * spool file into buffers that are reused (see putFile); S3 makes an object visible only when
 * the upload completes, and a failed upload is aborted, so no half object is
 * ever listed. Credentials come from config or, when absent, the AWS default chain (IRSA,
 * instance role, AWS_* env).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { ArchiveConfig } from '../config/schema.js';
import { DeliveryError, InputError } from '../errors.js';
import { scrubText } from '../log/secrets.js';
import { streamedBufferReleaser } from '../v8-settings.js';
import { assertSafeKey, keyBaseName } from './archive-key.js';
import type { ArchiveObjectInfo, ArchiveStore, VerifyOptions, VerifyResult } from './types.js';

/**
 * The checksum S3 keeps for an object: the SHA-256 of its bytes (base64) when it went up in one
 * PutObject; for a multipart upload the SHA-256 of its parts' SHA-256 digests and the part count
 * (`<base64>-<parts>`). Knowing it lets HeadObject's checksum be compared without a download.
 */
function s3Checksum(wholeDigest: Buffer, partDigests: readonly Buffer[]): string {
  if (partDigests.length <= 1) return wholeDigest.toString('base64');
  return `${createHash('sha256').update(Buffer.concat(partDigests)).digest('base64')}-${partDigests.length}`;
}

/** SigV4 presigned URLs are valid for at most 7 days. */
const MAX_LINK_SECONDS = 7 * 86_400;
/**
 * Parts in flight per upload, each in a buffer of its own that the part after it reuses: an
 * upload holds UPLOAD_CONCURRENCY × partSize (10 MiB by default; more only above ~48 GiB, see
 * partSizeFor) whatever the file's size. Two keep the connection busy while the next part is
 * read and hashed.
 */
const UPLOAD_CONCURRENCY = 2;
/** S3 takes at most 10,000 parts per upload. */
const MAX_PARTS = 10_000;
/** How long an AbortMultipartUpload may take: it runs after a failure, with no caller's signal. */
const ABORT_UPLOAD_TIMEOUT_MS = 30_000;

/**
 * The part size for `size` bytes: the configured one, or above ~48 GiB (at 5 MiB) the smallest
 * whole MiB that keeps the upload within S3's 10,000 parts.
 */
export function partSizeFor(size: number, configured: number): number {
  const MiB = 1024 * 1024;
  const needed = Math.ceil(size / MAX_PARTS);
  return needed <= configured ? configured : Math.ceil(needed / MiB) * MiB;
}

/** The AWS SDK, loaded on first use: an fs-archive deployment never pays its ~10 MB. */
interface Sdk {
  s3: typeof import('@aws-sdk/client-s3');
  presigner: typeof import('@aws-sdk/s3-request-presigner');
  client: S3Client;
}

export class S3Archive implements ArchiveStore {
  readonly kind = 's3' as const;
  private readonly bucket: string;
  /** What putFile sent, per key, until verify has used it. */
  private readonly uploaded = new Map<string, { localCopy: string; sha256: string; checksum: string }>();
  private sdkLoading: Promise<Sdk> | undefined;

  constructor(private readonly config: ArchiveConfig) {
    if (!config.bucket) throw new InputError('archive.bucket (S3_BUCKET) is required when archive.kind is s3');
    this.bucket = config.bucket;
  }

  private sdk(): Promise<Sdk> {
    this.sdkLoading ??= (async () => {
      const [s3, presigner] = await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/s3-request-presigner')]);
      const { config } = this;
      const credentials =
        config.accessKeyId && config.secretAccessKey
          ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey }
          : undefined;
      const client = new s3.S3Client({
        region: config.region,
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
        forcePathStyle: config.forcePathStyle,
        ...(credentials ? { credentials } : {}),
      });
      return { s3, presigner, client };
    })();
    return this.sdkLoading;
  }

  describe(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /**
   * Why not lib-storage's Upload (used until this was measured): it takes a stream and copies it
   * into a new buffer per part, several of which outlive V8's young generation; a gzip-6 export's
   * upload (73 MB) peaked at 148-176 MB RSS, up to 79 MB of it dead part buffers. The spool is a
   * file, so each part is read into one of UPLOAD_CONCURRENCY reused buffers, hashed, and sent
   * with its SHA-256 (which S3 checks); a retry of a part by the SDK resends the same buffer.
   * Parts are read in order, so the whole object's SHA-256 is taken on the way, as before.
   */
  async putFile(
    key: string,
    filePath: string,
    options: { contentType: string; bytes: number; sha256: string; signal?: AbortSignal; immutable?: boolean },
  ): Promise<ArchiveObjectInfo> {
    assertSafeKey(key);
    options.signal?.throwIfAborted();
    const { s3, client } = await this.sdk();
    // The whole-object SHA-256 travels with the object, so anyone can check a download.
    const object = {
      Bucket: this.bucket,
      Key: key,
      ContentType: options.contentType,
      Metadata: { sha256: options.sha256, bytes: String(options.bytes) },
    };
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(filePath, 'r');
    } catch (err) {
      throw this.failure('upload', key, err);
    }
    try {
      const { size } = await file.stat();
      const partSize = partSizeFor(size, this.config.partSizeBytes);
      const whole = createHash('sha256');
      const partDigests: Buffer[] = [];
      /** Reads the next part into `buffer`: its bytes, hashed into the whole object's SHA-256 too. */
      const readPart = async (buffer: Buffer, start: number): Promise<{ body: Buffer; digest: Buffer }> => {
        const length = Math.min(partSize, size - start);
        const { bytesRead } = await file.read(buffer, 0, length, start);
        if (bytesRead !== length)
          throw new Error(`${filePath} changed while it was uploaded (${bytesRead} of ${length} bytes at ${start})`);
        const body = buffer.subarray(0, length);
        whole.update(body);
        const digest = createHash('sha256').update(body).digest();
        partDigests.push(digest);
        return { body, digest };
      };
      if (size <= partSize) {
        let part: { body: Buffer; digest: Buffer };
        try {
          part = await readPart(Buffer.allocUnsafe(size), 0);
        } catch (err) {
          throw this.failure('upload', key, err);
        }
        try {
          await client.send(
            new s3.PutObjectCommand({
              ...object,
              Body: part.body,
              ContentLength: size,
              ChecksumAlgorithm: 'SHA256',
              ChecksumSHA256: part.digest.toString('base64'),
            }),
            { abortSignal: options.signal },
          );
        } catch (err) {
          if (!(await this.landedAnyway(s3, client, object, size, err, options.signal))) {
            if (options.signal?.aborted) throw options.signal.reason ?? err;
            throw this.failure('upload', key, err);
          }
        }
      } else {
        await this.uploadParts(s3, client, object, size, partSize, readPart, options.signal);
      }
      return this.recordUpload(key, filePath, whole, partDigests, options);
    } finally {
      await file.close();
    }
  }

  /** Keeps what went up for verify (see there) and answers what putFile promises. */
  private recordUpload(
    key: string,
    filePath: string,
    whole: ReturnType<typeof createHash>,
    partDigests: readonly Buffer[],
    options: { bytes: number; sha256: string },
  ): ArchiveObjectInfo {
    const wholeDigest = whole.digest();
    this.uploaded.set(key, { localCopy: filePath, sha256: wholeDigest.toString('hex'), checksum: s3Checksum(wholeDigest, partDigests) });
    return { key, bytes: options.bytes, sha256: options.sha256 };
  }

  /**
   * After the request that makes the object (PutObject, CompleteMultipartUpload) failed: did the
   * store act on it anyway? An answer lost on the way back (a dropped connection, a proxy's 5xx
   * after the store wrote) looks like a failure, and a retried CompleteMultipartUpload then finds
   * its upload gone. The object is taken as ours when its size and the SHA-256 it carries in its
   * metadata are ours (it may also be an earlier try's identical object: just as good); verify
   * still checks its bytes afterwards. Not after an abort: the caller is leaving, and its next
   * attempt uploads again.
   */
  private async landedAnyway(
    s3: Sdk['s3'],
    client: S3Client,
    object: { Bucket: string; Key: string; Metadata: Record<string, string> },
    size: number,
    err: unknown,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    if (signal?.aborted || (err instanceof Error && err.name === 'AbortError')) return false;
    try {
      const head = await client.send(new s3.HeadObjectCommand({ Bucket: object.Bucket, Key: object.Key }), { abortSignal: signal });
      return head.ContentLength === size && head.Metadata?.sha256 === object.Metadata.sha256;
    } catch {
      return false;
    }
  }

  /**
   * A multipart upload of `size` bytes, up to UPLOAD_CONCURRENCY parts in flight, each in a
   * buffer reused once its part is sent. Any failure (or the signal) stops the rest and aborts
   * the upload, so S3 keeps no parts and shows no object.
   */
  private async uploadParts(
    s3: Sdk['s3'],
    client: S3Client,
    object: { Bucket: string; Key: string; ContentType: string; Metadata: Record<string, string> },
    size: number,
    partSize: number,
    readPart: (buffer: Buffer, start: number) => Promise<{ body: Buffer; digest: Buffer }>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let uploadId: string | undefined;
    try {
      uploadId = (
        await client.send(new s3.CreateMultipartUploadCommand({ ...object, ChecksumAlgorithm: 'SHA256' }), { abortSignal: signal })
      ).UploadId;
    } catch (err) {
      throw this.failure('upload', object.Key, err);
    }
    // One signal for the parts in flight: the caller's, or the first failure.
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    // An abort while CreateMultipartUpload answered fired before the listener was there.
    if (signal?.aborted) onAbort();
    const parts: { PartNumber: number; ETag?: string; ChecksumSHA256: string }[] = [];
    const free = Array.from({ length: Math.min(UPLOAD_CONCURRENCY, Math.ceil(size / partSize)) }, () => Buffer.allocUnsafe(partSize));
    const inFlight = new Set<Promise<void>>();
    let failed: { err: unknown } | undefined;
    let completing = false;
    try {
      for (let partNumber = 1, start = 0; start < size && !failed; partNumber++, start += partSize) {
        while (free.length === 0) await Promise.race(inFlight);
        if (failed) break;
        stop.signal.throwIfAborted();
        const buffer = free.pop()!;
        const { body, digest } = await readPart(buffer, start);
        const checksum = digest.toString('base64');
        const sent = client
          .send(
            new s3.UploadPartCommand({
              Bucket: object.Bucket,
              Key: object.Key,
              UploadId: uploadId,
              PartNumber: partNumber,
              Body: body,
              ContentLength: body.length,
              ChecksumAlgorithm: 'SHA256',
              ChecksumSHA256: checksum,
            }),
            { abortSignal: stop.signal },
          )
          .then(
            (answer) => {
              parts.push({ PartNumber: partNumber, ETag: answer.ETag, ChecksumSHA256: checksum });
            },
            (err: unknown) => {
              failed ??= { err };
              stop.abort(err);
            },
          )
          .finally(() => {
            inFlight.delete(sent);
            free.push(buffer);
          });
        inFlight.add(sent);
      }
      await Promise.all(inFlight);
      if (failed) throw failed.err;
      stop.signal.throwIfAborted();
      parts.sort((x, y) => x.PartNumber - y.PartNumber);
      completing = true;
      await client.send(
        new s3.CompleteMultipartUploadCommand({
          Bucket: object.Bucket,
          Key: object.Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      // The object under the key may be an earlier identical upload rather than this one (a try
      // whose manifest was never written): the abort below goes out either way, and harms nothing
      // if this upload did complete.
      const landed = completing && (await this.landedAnyway(s3, client, object, size, err, signal));
      stop.abort(err);
      await Promise.allSettled(inFlight);
      // Without it S3 would keep (and bill) the parts sent so far; should it fail too (the store
      // unreachable), the bucket's AbortIncompleteMultipartUpload rule removes them.
      await client
        .send(new s3.AbortMultipartUploadCommand({ Bucket: object.Bucket, Key: object.Key, UploadId: uploadId }), {
          abortSignal: AbortSignal.timeout(ABORT_UPLOAD_TIMEOUT_MS),
        })
        .catch(() => undefined);
      if (landed) return;
      if (signal?.aborted) throw signal.reason ?? err;
      throw this.failure('upload', object.Key, err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async putJson(key: string, value: unknown, options: { signal?: AbortSignal } = {}): Promise<ArchiveObjectInfo> {
    assertSafeKey(key);
    const body = Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
    const { s3, client } = await this.sdk();
    try {
      await client.send(
        new s3.PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          ChecksumAlgorithm: 'SHA256',
        }),
        { abortSignal: options.signal },
      );
    } catch (err) {
      throw this.failure('put', key, err);
    }
    return { key, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
  }

  async readJson<T = unknown>(key: string, options: { signal?: AbortSignal } = {}): Promise<T | null> {
    assertSafeKey(key);
    const { s3, client } = await this.sdk();
    try {
      const answer = await client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: options.signal });
      return JSON.parse(await answer.Body!.transformToString('utf8')) as T;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.failure('get', key, err);
    }
  }

  async verify(key: string, expected: { bytes: number; sha256: string }, options: VerifyOptions = {}): Promise<VerifyResult> {
    assertSafeKey(key);
    const { s3, client } = await this.sdk();
    const sent = options.localCopy === undefined ? undefined : this.uploaded.get(key);
    if (sent) this.uploaded.delete(key);
    try {
      const head = await client.send(new s3.HeadObjectCommand({ Bucket: this.bucket, Key: key, ChecksumMode: 'ENABLED' }), {
        abortSignal: options.signal,
      });
      if (head.ContentLength !== expected.bytes)
        return { ok: false, reason: `size ${head.ContentLength} != ${expected.bytes}`, bytes: head.ContentLength };
      // A store that keeps S3 checksums checked every part's SHA-256 on upload and answers the
      // object's checksum: compared with the one computed from the bytes that went up (which
      // hashed to the spool's SHA-256), nothing needs downloading.
      if (sent && sent.localCopy === options.localCopy && head.ChecksumSHA256) {
        if (sent.sha256 !== expected.sha256)
          return {
            ok: false,
            reason: 'sha256 mismatch (the bytes uploaded differ from the spool)',
            bytes: expected.bytes,
            sha256: sent.sha256,
          };
        if (head.ChecksumSHA256 !== sent.checksum)
          return { ok: false, reason: `S3 checksum ${head.ChecksumSHA256} != ${sent.checksum}`, bytes: expected.bytes };
        return { ok: true, verifiedBy: 's3-checksum', bytes: expected.bytes, sha256: expected.sha256 };
      }
      // No checksum from the store (or no upload of ours to compare with): read the bytes back,
      // as a size match alone does not prove the store holds what we sent.
      const answer = await client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: options.signal });
      const hash = createHash('sha256');
      const releaseBuffers = streamedBufferReleaser();
      let bytes = 0;
      for await (const chunk of answer.Body as Readable) {
        releaseBuffers((chunk as Buffer).length);
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
      }
      const sha256 = hash.digest('hex');
      if (bytes !== expected.bytes) return { ok: false, reason: `size ${bytes} != ${expected.bytes}`, bytes, sha256 };
      if (sha256 !== expected.sha256) return { ok: false, reason: 'sha256 mismatch', bytes, sha256 };
      return { ok: true, verifiedBy: 'download', bytes, sha256 };
    } catch (err) {
      if (isNotFound(err)) return { ok: false, reason: 'missing' };
      throw this.failure('verify', key, err);
    }
  }

  async exists(key: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    assertSafeKey(key);
    const { s3, client } = await this.sdk();
    try {
      await client.send(new s3.HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: options.signal });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.failure('head', key, err);
    }
  }

  async presignGet(key: string, ttlMs: number): Promise<string> {
    assertSafeKey(key);
    const expiresIn = Math.floor(ttlMs / 1000);
    if (expiresIn < 1 || expiresIn > MAX_LINK_SECONDS) {
      throw new InputError(`archive.linkTtl: ${ttlMs} ms is outside 1s..7d, the validity S3 allows for a presigned link`);
    }
    const { s3, presigner, client } = await this.sdk();
    const command = new s3.GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: `attachment; filename="${keyBaseName(key)}"`,
    });
    return presigner.getSignedUrl(client, command, { expiresIn });
  }

  async close(): Promise<void> {
    if (this.sdkLoading) (await this.sdkLoading).client.destroy();
    this.sdkLoading = undefined;
  }

  private failure(operation: string, key: string, err: unknown): Error {
    // By name: an abort comes as the SDK's AbortError or the signal's DOMException, no shared class.
    if (err instanceof Error && (err.name === 'AbortError' || err.name === 'AbortSignal')) return err;
    const status = httpStatusOf(err);
    const code = err instanceof Error ? err.name : 'Error';
    // 4xx other than throttling means a setting or permission is wrong: another try won't help.
    const retryable = status === undefined || status >= 500 || status === 429 || status === 408 || code === 'SlowDown';
    const detail = scrubText(err instanceof Error ? err.message : String(err));
    return new DeliveryError(
      `S3 ${operation} of ${this.describe(key)} failed${status ? ` (HTTP ${status} ${code})` : ` (${code})`}: ${detail}`,
      retryable,
      { cause: err },
    );
  }
}

/** S3ServiceException's status, read structurally: the SDK class is loaded lazily. */
function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** By name and structurally: the SDK (and its NotFound, NoSuchKey classes) is loaded lazily. */
function isNotFound(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return httpStatusOf(err) === 404 || name === 'NotFound' || name === 'NoSuchKey';
}
