/**
 * Reads a catalog from where the operator keeps it: a local path, `s3://bucket/key` (with the
 * archive's S3 settings: endpoint, region, credentials, path style) or an `http(s)://` URL.
 * A missing catalog is an InputError naming it (exit 2); a transient failure (5xx, 429, network,
 * an answer that breaks off mid-body) is read again from the beginning with backoff, and when
 * the tries run out it is an ordinary error, so a scheduled sync retries it.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import type { ArchiveConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { safeUrl } from '../log/secrets.js';
import { backoffDelay, parseRetryAfter, sleep, type RetryPolicy } from '../ox/retry.js';
import { formatOfLocation, parseCatalog } from './parse-catalog.js';
import type { Catalog } from './catalog.js';

export interface CatalogSourceOptions {
  /** S3 settings for `s3://` catalogs: config.archive. */
  s3?: ArchiveConfig;
  signal?: AbortSignal;
  /** For http(s) catalogs. */
  timeoutMs?: number;
  /** Retries of a transient failure (5xx, 429, network, a body that breaks off); default the OX client's defaults. */
  retry?: RetryPolicy;
}

const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

/** A failure of a catalog read that a later try may not have: the read starts again from the beginning. */
class TransientCatalogError extends Error {
  override readonly name = 'TransientCatalogError';
  constructor(message: string, readonly retryAfterMs?: number, options?: { cause: unknown }) {
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
  try {
    return await readFile(location, 'utf8');
  } catch (err) {
    throw new InputError(`catalog ${location}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

async function readS3(location: string, options: CatalogSourceOptions): Promise<string> {
  // The AWS SDK (~10 MB, ~0.2 s to load) only when an s3:// source is read: not at every start-up.
  const { GetObjectCommand, S3Client, S3ServiceException } = await import('@aws-sdk/client-s3');
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match) throw new InputError(`catalog ${location}: expected s3://bucket/key`);
  const settings = options.s3;
  const credentials = settings?.accessKeyId && settings.secretAccessKey
    ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
    : undefined;
  const client = new S3Client({
    region: settings?.region ?? 'us-east-1',
    ...(settings?.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings?.forcePathStyle ?? false,
    ...(credentials ? { credentials } : {}),
  });
  try {
    const answer = await client.send(new GetObjectCommand({ Bucket: match[1], Key: match[2] }), { abortSignal: options.signal });
    if (!answer.Body) throw new InputError(`catalog ${location}: S3 answered without a body`);
    return await answer.Body.transformToString('utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (err instanceof S3ServiceException) {
      const status = err.$metadata.httpStatusCode;
      if (err.name === 'NoSuchKey' || err.name === 'NoSuchBucket' || status === 404) throw new InputError(`catalog ${location}: no such object`);
      if (status === 403) throw new InputError(`catalog ${location}: access denied by S3 (check archive.accessKeyId / S3_ACCESS_KEY_ID)`);
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
  // undici does not send URL user info; a catalog behind Basic auth is common on intranets.
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const shown = safeUrl(location);
  const timeoutMs = options.timeoutMs ?? 60_000;
  let answer;
  const transient = (message: string, err: unknown, retryAfterMs?: number) =>
    (options.signal?.aborted ? new Error(message, { cause: err }) : new TransientCatalogError(message, retryAfterMs, { cause: err }));
  try {
    answer = await request(url, { method: 'GET', headers, signal: options.signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  } catch (err) {
    throw transient(`catalog ${shown}: cannot be fetched (${(err as Error).message})`, err);
  }
  let text: string;
  try {
    text = await answer.body.text();
  } catch (err) {
    throw transient(`catalog ${shown}: the answer broke off (${(err as Error).message})`, err);
  }
  if (answer.statusCode === 404 || answer.statusCode === 410) throw new InputError(`catalog ${shown}: HTTP ${answer.statusCode}, no such catalog`);
  if (answer.statusCode === 401 || answer.statusCode === 403) throw new InputError(`catalog ${shown}: HTTP ${answer.statusCode}, access denied`);
  if (answer.statusCode === 429 || answer.statusCode >= 500) {
    throw transient(`catalog ${shown}: HTTP ${answer.statusCode}`, undefined, parseRetryAfter(answer.headers['retry-after']));
  }
  if (answer.statusCode !== 200) throw new Error(`catalog ${shown}: HTTP ${answer.statusCode}`);
  return text;
}
