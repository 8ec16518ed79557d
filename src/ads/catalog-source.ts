/**
 * Reads a catalog from where the operator keeps it: a local path, `s3://bucket/key` (with the
 * archive's S3 settings: endpoint, region, path style; credentials from ads.catalogS3, else the
 * archive's) or an `http(s)://` URL (Basic or Bearer credentials from ads.catalogAuth). A missing
 * catalog, or one over ads.maxCatalogBytes, is an InputError naming it (exit 2); a transient failure (5xx, 429, network,
 * an answer that breaks off mid-body) is read again from the beginning with backoff, and when
 * the tries run out it is an ordinary error, so a scheduled sync retries it.
 */
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { ArchiveConfig, Config } from '../config/schema.js';
import { InputError, OxBatchError, type OxBatchErrorCode } from '../errors.js';
import { safeUrl } from '../log/secrets.js';
import { backoffDelay, parseRetryAfter, sleep, type RetryPolicy } from '../ox/retry.js';
import { formatOfLocation, parseCatalog } from './parse-catalog.js';
import type { Catalog } from './catalog.js';

export interface CatalogSourceOptions {
  /** S3 settings for `s3://` catalogs: config.archive. */
  s3?: ArchiveConfig;
  /** config.ads: catalogAuth (http), catalogS3 (credentials), maxCatalogBytes. */
  ads?: Pick<Config['ads'], 'catalogAuth' | 'catalogS3' | 'maxCatalogBytes'>;
  signal?: AbortSignal;
  /** For http(s) catalogs. */
  timeoutMs?: number;
  /** Retries of a transient failure (5xx, 429, network, a body that breaks off); default the OX client's defaults. */
  retry?: RetryPolicy;
}

const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

/** A failure of a catalog read that a later try may not have: the read starts again from the beginning. */
export class TransientCatalogError extends OxBatchError {
  override readonly name = 'TransientCatalogError';
  readonly code: OxBatchErrorCode = 'OXB_CATALOG_UNAVAILABLE';
  /** Also once this read's own retries are used up: the job's next attempt reads again. */
  readonly retryable = true;
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Reads the catalog again from the beginning while it fails transiently: backoff with full
 * jitter, `Retry-After` honoured up to `maxRetryAfterMs`. An abort or a permanent answer ends it.
 */
async function withCatalogRetries(options: CatalogSourceOptions, read: () => Promise<string>): Promise<string> {
  const policy = options.retry ?? DEFAULT_RETRY;
  for (let tryNumber = 1; ; tryNumber++) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof TransientCatalogError) || options.signal?.aborted || tryNumber >= policy.attempts) throw err;
      if (err.retryAfterMs !== undefined && err.retryAfterMs > policy.maxRetryAfterMs) throw err;
      await sleep(err.retryAfterMs ?? backoffDelay(tryNumber, policy), options.signal);
    }
  }
}

const DEFAULT_MAX_CATALOG_BYTES = 64 * 1024 * 1024;

function tooLarge(location: string, limit: number): InputError {
  return new InputError(
    `catalog ${displayLocation(location)}: larger than ads.maxCatalogBytes (${limit} bytes); check the catalog, or raise ads.maxCatalogBytes`,
  );
}

/** The whole stream as text, refused as soon as it passes `limit` bytes. */
async function readCapped(stream: Readable | AsyncIterable<Uint8Array>, limit: number, location: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > limit) {
      (stream as Readable).destroy?.();
      throw tooLarge(location, limit);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** Reads, parses and validates a catalog; throws a CatalogError listing every problem. */
export async function loadCatalog(location: string, options: CatalogSourceOptions = {}): Promise<Catalog> {
  const format = formatOfLocation(location);
  const text = await readCatalogText(location, options);
  return parseCatalog(text, { source: displayLocation(location), format });
}

export function displayLocation(location: string): string {
  return /^https?:\/\//i.test(location) ? safeUrl(location) : location;
}

export async function readCatalogText(location: string, options: CatalogSourceOptions = {}): Promise<string> {
  if (location.startsWith('s3://')) return withCatalogRetries(options, () => readS3(location, options));
  if (/^https?:\/\//i.test(location)) return withCatalogRetries(options, () => readHttp(location, options));
  const limit = options.ads?.maxCatalogBytes ?? DEFAULT_MAX_CATALOG_BYTES;
  let file;
  try {
    file = await open(location, 'r');
  } catch (err) {
    throw new InputError(`catalog ${location}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      cause: err,
    });
  }
  try {
    if ((await file.stat()).size > limit) throw tooLarge(location, limit);
    return await readCapped(file.createReadStream({ autoClose: false }), limit, location);
  } finally {
    await file.close();
  }
}

async function readS3(location: string, options: CatalogSourceOptions): Promise<string> {
  // The AWS SDK (~10 MB, ~0.2 s to load) only when an s3:// source is read: not at every start-up.
  const { GetObjectCommand, S3Client, S3ServiceException } = await import('@aws-sdk/client-s3');
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match) throw new InputError(`catalog ${location}: expected s3://bucket/key`);
  const settings = options.s3;
  const own = options.ads?.catalogS3;
  const credentials =
    own?.accessKeyId && own.secretAccessKey
      ? { accessKeyId: own.accessKeyId, secretAccessKey: own.secretAccessKey }
      : settings?.accessKeyId && settings.secretAccessKey
        ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
        : undefined;
  const limit = options.ads?.maxCatalogBytes ?? DEFAULT_MAX_CATALOG_BYTES;
  const client = new S3Client({
    region: settings?.region ?? 'us-east-1',
    ...(settings?.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings?.forcePathStyle ?? false,
    ...(credentials ? { credentials } : {}),
  });
  try {
    const answer = await client.send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }), { abortSignal: options.signal });
    if (!answer.Body) throw new InputError(`catalog ${location}: S3 answered without a body`);
    if ((answer.ContentLength ?? 0) > limit) {
      (answer.Body as Readable).destroy?.();
      throw tooLarge(location, limit);
    }
    return await readCapped(answer.Body as Readable, limit, location);
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (err instanceof S3ServiceException) {
      const status = err.$metadata.httpStatusCode;
      // By name: the SDK gives NoSuchKey a class, yet an error code it does not model (NoSuchBucket
      // here) arrives as a bare S3ServiceException whose name is the code.
      if (err.name === 'NoSuchKey' || err.name === 'NoSuchBucket' || status === 404)
        throw new InputError(`catalog ${location}: no such object`, { cause: err });
      if (status === 403)
        throw new InputError(
          `catalog ${location}: access denied by S3 (check ads.catalogS3.accessKeyId / ADS_CATALOG_S3_ACCESS_KEY_ID, else archive.accessKeyId / S3_ACCESS_KEY_ID)`,
          { cause: err },
        );
      if (status !== undefined && status < 500 && status !== 429) throw err;
    }
    // A 5xx or throttling answer (after the SDK's own retries), a network error, or a body that broke off.
    if (options.signal?.aborted) throw err;
    throw new TransientCatalogError(`catalog ${location}: ${(err as Error).message}`, undefined, { cause: err });
  } finally {
    client.destroy();
  }
}

async function readHttp(location: string, options: CatalogSourceOptions): Promise<string> {
  const url = new URL(location);
  const headers: Record<string, string> = {};
  const auth = options.ads?.catalogAuth;
  // undici does not send URL user info. A catalog behind Basic auth is common on intranets: its
  // credentials come from ads.catalogAuth (config secrets, *_FILE); user info in a URL typed at
  // `ads plan/apply --catalog` still works there (a job's params refuse it: they live in Redis).
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  } else if (auth?.token) {
    headers.authorization = `Bearer ${auth.token}`;
  } else if (auth?.user && auth.password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  }
  const shown = safeUrl(location);
  const timeoutMs = options.timeoutMs ?? 60_000;
  let answer;
  const transient = (message: string, err: unknown, retryAfterMs?: number) =>
    options.signal?.aborted ? new Error(message, { cause: err }) : new TransientCatalogError(message, retryAfterMs, { cause: err });
  try {
    // undici loads when a catalog is read over HTTP: ~0.15 CPU s of start-up every other command of
    // the CLI (status, enqueue …: they load the job registry) does not pay.
    const { request } = await import('undici');
    answer = await request(url, { method: 'GET', headers, signal: options.signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  } catch (err) {
    throw transient(`catalog ${shown}: cannot be fetched (${(err as Error).message})`, err);
  }
  if (answer.statusCode !== 200) {
    await answer.body.dump().catch(() => undefined);
    if (answer.statusCode === 404 || answer.statusCode === 410)
      throw new InputError(`catalog ${shown}: HTTP ${answer.statusCode}, no such catalog`);
    if (answer.statusCode === 401 || answer.statusCode === 403) {
      throw new InputError(
        `catalog ${shown}: HTTP ${answer.statusCode}, access denied (credentials: ads.catalogAuth.user / .password / .token, env ADS_CATALOG_USER / ADS_CATALOG_PASSWORD / ADS_CATALOG_TOKEN)`,
      );
    }
    if (answer.statusCode === 429 || answer.statusCode >= 500) {
      throw transient(`catalog ${shown}: HTTP ${answer.statusCode}`, undefined, parseRetryAfter(answer.headers['retry-after']));
    }
    throw new Error(`catalog ${shown}: HTTP ${answer.statusCode}`);
  }
  const limit = options.ads?.maxCatalogBytes ?? DEFAULT_MAX_CATALOG_BYTES;
  if (Number(answer.headers['content-length'] ?? 0) > limit) {
    answer.body.destroy();
    throw tooLarge(location, limit);
  }
  try {
    return await readCapped(answer.body, limit, location);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw transient(`catalog ${shown}: the answer broke off (${(err as Error).message})`, err);
  }
}
