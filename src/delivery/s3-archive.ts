/**
 * The archive as an S3 bucket (AWS or any S3-compatible store via `endpoint` + `forcePathStyle`).
 * Artifacts go up as streamed multipart uploads with SHA-256 part checksums; S3 makes an object
 * visible only when the upload completes, and a failed upload is aborted, so no half object is
 * ever listed. Credentials come from config or, when absent, the AWS default chain (IRSA,
 * instance role, AWS_* env).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { ArchiveConfig } from '../config/schema.js';
import { DeliveryError, InputError } from '../errors.js';
import { scrubText } from '../log/secrets.js';
import { assertSafeKey, keyBaseName } from './archive-key.js';
import type { ArchiveObjectInfo, ArchiveStore, VerifyOptions, VerifyResult } from './types.js';

/**
 * SHA-256 of the bytes as they went up, whole and per multipart part: S3's checksum of a multipart
 * object is the SHA-256 of its parts' SHA-256 digests (`<base64>-<parts>`), so knowing the part
 * digests lets HeadObject's checksum be compared without downloading the object.
 */
class UploadDigests extends Transform {
  private readonly whole = createHash('sha256');
  private part = createHash('sha256');
  private inPart = 0;
  private readonly parts: Buffer[] = [];
  bytes = 0;

  constructor(private readonly partSize: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.whole.update(chunk);
    this.bytes += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.partSize - this.inPart, chunk.length - offset);
      this.part.update(chunk.subarray(offset, offset + take));
      this.inPart += take;
      offset += take;
      if (this.inPart === this.partSize) {
        this.parts.push(this.part.digest());
        this.part = createHash('sha256');
        this.inPart = 0;
      }
    }
    done(null, chunk);
  }

  /** After the upload: the object's SHA-256 (hex) and the checksum S3 keeps for it. */
  result(): { sha256: string; checksum: string } {
    const wholeDigest = this.whole.digest();
    if (this.inPart > 0 || this.parts.length === 0) this.parts.push(this.part.digest());
    // lib-storage sends an object that fits in one part as a single PutObject: its checksum is the plain SHA-256.
    const checksum =
      this.parts.length === 1
        ? wholeDigest.toString('base64')
        : `${createHash('sha256').update(Buffer.concat(this.parts)).digest('base64')}-${this.parts.length}`;
    return { sha256: wholeDigest.toString('hex'), checksum };
  }
}

/** SigV4 presigned URLs are valid for at most 7 days. */
const MAX_LINK_SECONDS = 7 * 86_400;
/**
 * Parts in flight per upload. lib-storage holds each in memory, so memory is about
 * (queueSize + 1) × partSize; two keep the connection busy without doubling the footprint.
 */
const UPLOAD_QUEUE_SIZE = 2;

/** The AWS SDK, loaded on first use: an fs-archive deployment never pays its ~10 MB. */
interface Sdk {
  s3: typeof import('@aws-sdk/client-s3');
  storage: typeof import('@aws-sdk/lib-storage');
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
      const [s3, storage, presigner] = await Promise.all([
        import('@aws-sdk/client-s3'),
        import('@aws-sdk/lib-storage'),
        import('@aws-sdk/s3-request-presigner'),
      ]);
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
      return { s3, storage, presigner, client };
    })();
    return this.sdkLoading;
  }

  describe(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async putFile(
    key: string,
    filePath: string,
    options: { contentType: string; bytes: number; sha256: string; signal?: AbortSignal; immutable?: boolean },
  ): Promise<ArchiveObjectInfo> {
    assertSafeKey(key);
    options.signal?.throwIfAborted();
    const { storage, client } = await this.sdk();
    const digests = new UploadDigests(this.config.partSizeBytes);
    const body = createReadStream(filePath);
    body.on('error', (err) => digests.destroy(err));
    body.pipe(digests);
    const upload = new storage.Upload({
      client,
      partSize: this.config.partSizeBytes,
      queueSize: UPLOAD_QUEUE_SIZE,
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: digests,
        ContentType: options.contentType,
        ChecksumAlgorithm: 'SHA256',
        // The whole-object SHA-256 travels with the object, so anyone can check a download.
        Metadata: { sha256: options.sha256, bytes: String(options.bytes) },
      },
    });
    const abort = () => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      await upload.done();
    } catch (err) {
      throw this.failure('upload', key, err);
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
    this.uploaded.set(key, { localCopy: filePath, ...digests.result() });
    return { key, bytes: options.bytes, sha256: options.sha256 };
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
      let bytes = 0;
      for await (const chunk of answer.Body as Readable) {
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
