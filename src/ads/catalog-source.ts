/**
 * Reads a catalog from where the operator keeps it: a local path, `s3://bucket/key` (with the
 * archive's S3 settings: endpoint, region, credentials, path style) or an `http(s)://` URL.
 * A missing catalog is an InputError naming it (exit 2); an outage of S3 or the web server is an
 * ordinary error, so a scheduled sync retries it.
 */
import { readFile } from 'node:fs/promises';
import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { request } from 'undici';
import type { ArchiveConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { safeUrl } from '../log/secrets.js';
import { formatOfLocation, parseCatalog } from './parse-catalog.js';
import type { Catalog } from './catalog.js';

export interface CatalogSourceOptions {
  /** S3 settings for `s3://` catalogs: config.archive. */
  s3?: ArchiveConfig;
  signal?: AbortSignal;
  /** For http(s) catalogs. */
  timeoutMs?: number;
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
  if (location.startsWith('s3://')) return readS3(location, options);
  if (/^https?:\/\//i.test(location)) return readHttp(location, options);
  try {
    return await readFile(location, 'utf8');
  } catch (err) {
    throw new InputError(`catalog ${location}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

async function readS3(location: string, options: CatalogSourceOptions): Promise<string> {
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
    if (err instanceof S3ServiceException) {
      const status = err.$metadata.httpStatusCode;
      if (err.name === 'NoSuchKey' || err.name === 'NoSuchBucket' || status === 404) throw new InputError(`catalog ${location}: no such object`);
      if (status === 403) throw new InputError(`catalog ${location}: access denied by S3 (check archive.accessKeyId / S3_ACCESS_KEY_ID)`);
    }
    throw err;
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
  try {
    answer = await request(url, { method: 'GET', headers, signal: options.signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  } catch (err) {
    throw new Error(`catalog ${shown}: cannot be fetched (${(err as Error).message})`);
  }
  const text = await answer.body.text();
  if (answer.statusCode === 404 || answer.statusCode === 410) throw new InputError(`catalog ${shown}: HTTP ${answer.statusCode}, no such catalog`);
  if (answer.statusCode === 401 || answer.statusCode === 403) throw new InputError(`catalog ${shown}: HTTP ${answer.statusCode}, access denied`);
  if (answer.statusCode !== 200) throw new Error(`catalog ${shown}: HTTP ${answer.statusCode}`);
  return text;
}
