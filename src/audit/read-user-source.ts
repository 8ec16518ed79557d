/**
 * Loads the watched users from where the schedule says: inline, a local file, or an `s3://`
 * object (read with the archive's S3 settings: endpoint, region, credentials, path style).
 * A missing file, or one S3 refuses access to, is an InputError naming it; an S3 outage is an
 * ordinary error (retried).
 */
import { readFile } from 'node:fs/promises';
import type { ArchiveConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { isUserFileReference, parseInlineUsers, parseUserFile, type WatchedUser } from './user-list.js';

export async function loadWatchedUsers(spec: unknown, s3Settings: ArchiveConfig, signal?: AbortSignal): Promise<WatchedUser[]> {
  if (spec === undefined || spec === null) throw new InputError('param users: required (a file, an s3:// URL, or a list like 12/3,12/4)');
  if (!isUserFileReference(spec)) return parseInlineUsers(spec);
  const text = spec.startsWith('s3://') ? await readS3Text(spec, s3Settings, signal) : await readLocalText(spec);
  return parseUserFile(text, spec);
}

async function readLocalText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new InputError(`users file ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      cause: err,
    });
  }
}

async function readS3Text(url: string, settings: ArchiveConfig, signal?: AbortSignal): Promise<string> {
  // The AWS SDK (~10 MB, ~0.2 s to load) only when an s3:// source is read: not at every start-up.
  const { GetObjectCommand, S3Client, S3ServiceException } = await import('@aws-sdk/client-s3');
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!m) throw new InputError(`users file ${url}: expected s3://bucket/key`);
  const credentials =
    settings.accessKeyId && settings.secretAccessKey
      ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
      : undefined;
  const client = new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    ...(credentials ? { credentials } : {}),
  });
  try {
    const answer = await client.send(new GetObjectCommand({ Bucket: m[1], Key: m[2] }), { abortSignal: signal });
    if (!answer.Body) throw new InputError(`users file ${url}: empty answer from S3`);
    return await answer.Body.transformToString('utf8');
  } catch (err) {
    // By name: an S3 error code the SDK does not model (NoSuchBucket here) has no class of its own.
    if (
      err instanceof S3ServiceException &&
      (err.name === 'NoSuchKey' || err.name === 'NoSuchBucket' || err.$metadata.httpStatusCode === 404)
    ) {
      throw new InputError(`users file ${url}: no such object`, { cause: err });
    }
    // Wrong or missing S3 credentials or permissions: no retry can fix them (a 5xx is retried).
    if (err instanceof S3ServiceException && (err.$metadata.httpStatusCode === 401 || err.$metadata.httpStatusCode === 403)) {
      throw new InputError(
        `users file ${url}: S3 refused access (${err.name}); check the archive S3 credentials and the object's permissions`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    client.destroy();
  }
}
