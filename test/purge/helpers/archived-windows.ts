/**
 * Puts export windows into an archive and the ledger the way feedback.export records them:
 * data object, manifest beside it, and `result.archive` of the done window. Used where a test
 * needs many archived windows quickly; the end-to-end purge tests run the real export job.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ArchiveStore } from '../../../src/delivery/types.js';
import type { ArchiveConfig } from '../../../src/config/schema.js';
import type { Ledger } from '../../../src/ledger/types.js';
import { artifactKey, manifestKeyFor } from '../../../src/delivery/archive-key.js';

export async function archiveWindow(
  ledger: Ledger,
  archive: ArchiveStore,
  scheduleId: string,
  window: { start: number; end: number },
  content: string,
): Promise<{ key: string; manifestKey: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'oxbt-purge-'));
  try {
    const file = join(dir, 'data.csv');
    await writeFile(file, content);
    const bytes = Buffer.byteLength(content);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const key = artifactKey({ schedule: scheduleId, group: 'default', type: 'star-rating-v1', window, ext: 'csv', gzip: false });
    const manifestKey = manifestKeyFor(key);
    await archive.putFile(key, file, { contentType: 'text/csv', bytes, sha256 });
    await archive.putJson(manifestKey, {
      schedule: scheduleId,
      contextGroup: 'default',
      type: 'star-rating-v1',
      format: 'ox-csv',
      compress: null,
      window: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() },
      rows: 1,
      bytes,
      sha256,
    });
    const wkey = { scheduleId, ...window };
    await ledger.beginWindow(wkey, 'feedback.export', 1);
    await ledger.markDone(wkey, 'feedback.export', {
      rows: 1,
      bytes,
      sha256,
      archive: { key, manifestKey, bytes, sha256, verifiedAt: Date.now(), location: archive.describe(key) },
    });
    return { key, manifestKey };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Removes an archived object behind the ledger's back (fs file or S3 object). */
export async function removeObject(archive: ArchiveStore, key: string, s3?: ArchiveConfig): Promise<void> {
  if (archive.kind === 'fs') {
    await rm(archive.describe(key));
    return;
  }
  const client = new S3Client({
    region: s3!.region,
    endpoint: s3!.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: s3!.accessKeyId!, secretAccessKey: s3!.secretAccessKey! },
  });
  try {
    await client.send(new DeleteObjectCommand({ Bucket: s3!.bucket, Key: key }));
  } finally {
    client.destroy();
  }
}
