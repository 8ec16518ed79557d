import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError, InputError } from '../../src/errors.js';
import { partSizeFor, S3Archive } from '../../src/delivery/s3-archive.js';
import { createArchive } from '../../src/delivery/create-archive.js';
import { waitFor } from '../daemon/helpers.js';
import {
  startChecksumProxy,
  startFaultyProxy,
  startS3,
  s3ArchiveConfig,
  type ChecksumProxy,
  type FaultyProxy,
  type TestS3,
} from './helpers/s3-server.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('S3Archive against a store that keeps S3 checksums (s3rver behind a checksum proxy)', () => {
  let s3: TestS3;
  let checksums: ChecksumProxy;
  let recorder: FaultyProxy;
  let work: string;
  beforeAll(async () => {
    s3 = await startS3();
    checksums = await startChecksumProxy(s3.endpoint);
    recorder = await startFaultyProxy(checksums.endpoint);
    work = await mkdtemp(join(tmpdir(), 'oxbt-s3sum-'));
  });
  afterAll(async () => {
    await recorder?.close();
    await checksums?.close();
    await s3?.close();
    await rm(work, { recursive: true, force: true });
  });

  it.each([
    ['a single PutObject', 64 * 1024, 1],
    ['a 3-part multipart upload', 12 * 1024 * 1024, 3],
  ])("%s is verified by S3's checksum, without a download", async (_what, size, parts) => {
    const archive = new S3Archive(s3ArchiveConfig(recorder.endpoint, s3.bucket));
    const content = randomBytes(size);
    const file = join(work, randomUUID());
    await writeFile(file, content);
    const key = `t-${randomUUID()}/x.csv`;
    await archive.putFile(key, file, { contentType: 'text/csv', bytes: content.length, sha256: sha256(content) });
    expect(checksums.checksums.get(`${s3.bucket}/${key}`)).toMatch(parts === 1 ? /^[A-Za-z0-9+/]+=*$/ : new RegExp(`-${parts}$`));
    recorder.requests.length = 0;
    expect(await archive.verify(key, { bytes: content.length, sha256: sha256(content) }, { localCopy: file })).toEqual({
      ok: true,
      verifiedBy: 's3-checksum',
      bytes: content.length,
      sha256: sha256(content),
    });
    expect(recorder.requests.map((r) => r.method)).toEqual(['HEAD']);
    expect(checksums.badDigests).toBe(0);
    await archive.close();
  });

  it('a checksum that does not match what was uploaded fails verification; without the upload it downloads', async () => {
    const archive = new S3Archive(s3ArchiveConfig(recorder.endpoint, s3.bucket));
    const content = randomBytes(1000);
    const file = join(work, randomUUID());
    await writeFile(file, content);
    const key = `t-${randomUUID()}/x.csv`;
    await archive.putFile(key, file, { contentType: 'text/csv', bytes: content.length, sha256: sha256(content) });
    // The store now reports another object's checksum (as if it held other bytes).
    checksums.checksums.set(`${s3.bucket}/${key}`, createHash('sha256').update('other').digest('base64'));
    expect(await archive.verify(key, { bytes: content.length, sha256: sha256(content) }, { localCopy: file })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^S3 checksum /),
    });
    // A later check (no upload of ours to compare with, e.g. the purge) reads the bytes back.
    expect(await archive.verify(key, { bytes: content.length, sha256: sha256(content) })).toMatchObject({
      ok: true,
      verifiedBy: 'download',
    });
    await archive.close();
  });
});

describe('S3Archive against s3rver', () => {
  let s3: TestS3;
  let proxy: FaultyProxy;
  let work: string;
  beforeAll(async () => {
    s3 = await startS3();
    proxy = await startFaultyProxy(s3.endpoint);
    work = await mkdtemp(join(tmpdir(), 'oxbt-s3work-'));
  });
  afterAll(async () => {
    await proxy?.close();
    await s3?.close();
    await rm(work, { recursive: true, force: true });
  });

  async function spoolFile(content: Buffer): Promise<string> {
    const path = join(work, randomUUID());
    await writeFile(path, content);
    return path;
  }

  it('is what createArchive builds for kind s3 and names objects as s3:// URLs', async () => {
    const archive = createArchive(s3.archiveConfig());
    expect(archive.kind).toBe('s3');
    expect(archive.describe('a/b.csv')).toBe(`s3://${s3.bucket}/a/b.csv`);
    await archive.close();
  });

  it('uploads, verifies by reading back, reads JSON and answers exists', async () => {
    const archive = new S3Archive(s3.archiveConfig());
    const content = Buffer.from('"Date";"Score"\r"2026-11-01 00:00:00";"5"\r');
    const key = `t-${randomUUID()}/x.csv`;
    await archive.putFile(key, await spoolFile(content), { contentType: 'text/csv', bytes: content.length, sha256: sha256(content) });
    expect(await archive.exists(key)).toBe(true);
    expect(await archive.exists(`${key}.nope`)).toBe(false);
    // s3rver keeps no S3 checksums: HeadObject answers none, so the object is downloaded and hashed.
    expect(await archive.verify(key, { bytes: content.length, sha256: sha256(content) })).toEqual({
      ok: true,
      verifiedBy: 'download',
      bytes: content.length,
      sha256: sha256(content),
    });
    expect(await archive.verify(`${key}.nope`, { bytes: 1, sha256: 'x' })).toEqual({ ok: false, reason: 'missing' });
    await archive.putJson(`${key}.manifest.json`, { rows: 1, comment: 'Grüße' });
    expect(await archive.readJson(`${key}.manifest.json`)).toEqual({ rows: 1, comment: 'Grüße' });
    expect(await archive.readJson(`${key}.none.json`)).toBeNull();
    await archive.close();
  });

  it('detects an object whose bytes differ although its size matches', async () => {
    const archive = new S3Archive(s3.archiveConfig());
    const key = `t-${randomUUID()}/x.csv`;
    const client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'abcd' }));
    expect(await archive.verify(key, { bytes: 4, sha256: sha256('abce') })).toMatchObject({ ok: false, reason: 'sha256 mismatch' });
    expect(await archive.verify(key, { bytes: 5, sha256: sha256('abcde') })).toMatchObject({ ok: false, reason: 'size 4 != 5' });
    client.destroy();
    await archive.close();
  });

  it('streams an artifact above 5 MiB as a multipart upload and reads it back intact', async () => {
    const archive = new S3Archive(s3ArchiveConfig(proxy.endpoint, s3.bucket, { partSizeBytes: 5 * 1024 * 1024 }));
    const content = randomBytes(12 * 1024 * 1024);
    const key = `t-${randomUUID()}/big.csv.gz`;
    proxy.requests.length = 0;
    await archive.putFile(key, await spoolFile(content), {
      contentType: 'application/gzip',
      bytes: content.length,
      sha256: sha256(content),
    });
    const mine = proxy.requests.filter((r) => r.url.includes(key.split('/')[0]!));
    expect(mine.filter((r) => r.method === 'POST' && r.url.includes('uploads'))).toHaveLength(1);
    expect(mine.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='))).toHaveLength(3);
    expect(mine.filter((r) => r.method === 'POST' && r.url.includes('uploadId='))).toHaveLength(1);
    proxy.requests.length = 0;
    expect(await archive.verify(key, { bytes: content.length, sha256: sha256(content) }, { localCopy: 'spool' })).toMatchObject({
      ok: true,
      verifiedBy: 'download',
    });
    expect(proxy.requests.filter((r) => r.method === 'GET')).toHaveLength(1); // no checksum support: the fallback downloads
    await archive.close();
  });

  it('rides out a few 500 answers with retries, and reports a lasting outage as retryable', async () => {
    const archive = new S3Archive(s3ArchiveConfig(proxy.endpoint, s3.bucket));
    const content = Buffer.from('x'.repeat(1000));
    const file = await spoolFile(content);
    const key = `t-${randomUUID()}/x.csv`;
    proxy.requests.length = 0;
    proxy.failNext(2);
    await archive.putFile(key, file, { contentType: 'text/csv', bytes: content.length, sha256: sha256(content) });
    expect(proxy.requests.filter((r) => r.status === 500)).toHaveLength(2);
    expect(await archive.verify(key, { bytes: content.length, sha256: sha256(content) })).toMatchObject({ ok: true });

    proxy.failNext(50);
    const failure = await archive
      .putFile(`${key}.2`, file, { contentType: 'text/csv', bytes: content.length, sha256: sha256(content) })
      .catch((e: unknown) => e);
    proxy.failNext(0);
    expect(failure).toBeInstanceOf(DeliveryError);
    expect((failure as DeliveryError).retryable).toBe(true);
    expect((failure as DeliveryError).message).toContain(`s3://${s3.bucket}/${key}.2`);
    expect(await archive.exists(`${key}.2`)).toBe(false);
    await archive.close();
  });

  it('a part that fails past its retries stops the multipart upload and aborts it: no object, no parts kept', async () => {
    const archive = new S3Archive(s3ArchiveConfig(proxy.endpoint, s3.bucket, { partSizeBytes: 5 * 1024 * 1024 }));
    const content = randomBytes(16 * 1024 * 1024);
    const key = `t-${randomUUID()}/parts.csv`;
    proxy.requests.length = 0;
    // Parts 2.. are refused (more often than the SDK retries): part 1 goes up, then the upload fails.
    let partsSeen = 0;
    const failing = (method: string, url: string) => method === 'PUT' && url.includes('partNumber=') && ++partsSeen > 1;
    proxy.failWhen(failing);
    const failure = await archive
      .putFile(key, await spoolFile(content), { contentType: 'text/csv', bytes: content.length, sha256: sha256(content) })
      .catch((e: unknown) => e);
    proxy.failWhen(undefined);
    expect(failure).toBeInstanceOf(DeliveryError);
    expect((failure as DeliveryError).retryable).toBe(true);
    const mine = proxy.requests.filter((r) => r.url.includes(key.split('/')[0]!));
    expect(mine.filter((r) => r.method === 'DELETE' && r.url.includes('uploadId='))).toHaveLength(1);
    expect(mine.filter((r) => r.method === 'POST' && r.url.includes('uploadId='))).toHaveLength(0); // never completed
    expect(await archive.exists(key)).toBe(false);
    await archive.close();
  });

  it('a part answered 500 once is sent again from the same buffer; the object is intact', async () => {
    const archive = new S3Archive(s3ArchiveConfig(proxy.endpoint, s3.bucket, { partSizeBytes: 5 * 1024 * 1024 }));
    const content = randomBytes(11 * 1024 * 1024 + 7);
    const key = `t-${randomUUID()}/retried.csv`;
    proxy.requests.length = 0;
    let refused = 0;
    proxy.failWhen((method, url) => method === 'PUT' && url.includes('partNumber=2') && refused++ === 0);
    await archive.putFile(key, await spoolFile(content), { contentType: 'text/csv', bytes: content.length, sha256: sha256(content) });
    proxy.failWhen(undefined);
    expect(proxy.requests.filter((r) => r.url.includes('partNumber=2')).map((r) => r.status)).toEqual([500, 200]);
    expect(await archive.verify(key, { bytes: content.length, sha256: sha256(content) })).toMatchObject({
      ok: true,
      verifiedBy: 'download',
    });
    await archive.close();
  });

  it('an abort mid-upload stops sending parts, aborts the multipart upload and rejects with the abort', async () => {
    const archive = new S3Archive(s3ArchiveConfig(proxy.endpoint, s3.bucket, { partSizeBytes: 5 * 1024 * 1024 }));
    const content = randomBytes(26 * 1024 * 1024);
    const key = `t-${randomUUID()}/aborted.csv`;
    proxy.requests.length = 0;
    const controller = new AbortController();
    // Part 2 hangs until the abort; parts 1 and 3 may go up meanwhile, parts after them must not.
    proxy.holdMatching((method, url) => method === 'PUT' && url.includes('partNumber=2'));
    const upload = archive
      .putFile(key, await spoolFile(content), {
        contentType: 'text/csv',
        bytes: content.length,
        sha256: sha256(content),
        signal: controller.signal,
      })
      .catch((e: unknown) => e);
    await waitFor(() => proxy.held() === 1, 'part 2 held');
    controller.abort();
    const failure = await upload;
    proxy.holdMatching(undefined);
    proxy.releaseHeld();
    expect((failure as Error).name).toBe('AbortError');
    const mine = proxy.requests.filter((r) => r.url.includes(key.split('/')[0]!));
    const partNumbers = mine.filter((r) => r.url.includes('partNumber=')).map((r) => Number(/partNumber=(\d+)/.exec(r.url)![1]));
    expect(Math.max(0, ...partNumbers)).toBeLessThanOrEqual(3); // two buffers: part 3 at most while 2 hung
    expect(mine.filter((r) => r.method === 'DELETE' && r.url.includes('uploadId='))).toHaveLength(1);
    expect(await archive.exists(key)).toBe(false);
    await archive.close();
  });

  it('a Complete that fails past its retries over an earlier identical object: taken as uploaded, and this upload is still aborted', async () => {
    // An earlier try uploaded the same bytes but never wrote its manifest, so this try uploads again.
    const archive = new S3Archive(s3ArchiveConfig(proxy.endpoint, s3.bucket, { partSizeBytes: 5 * 1024 * 1024 }));
    const content = randomBytes(6 * 1024 * 1024);
    const file = await spoolFile(content);
    const key = `t-${randomUUID()}/again.csv`;
    const meta = { contentType: 'text/csv', bytes: content.length, sha256: sha256(content) };
    await archive.putFile(key, file, meta);
    proxy.requests.length = 0;
    proxy.decide((method, url) => (method === 'POST' && url.includes('uploadId=') ? 'fail' : undefined));
    await archive.putFile(key, file, meta);
    proxy.decide(undefined);
    const ids = new Set(proxy.requests.flatMap((r) => /uploadId=([^&]+)/.exec(r.url)?.[1] ?? []));
    expect(ids.size).toBe(1);
    const [id] = ids;
    expect(proxy.requests.filter((r) => r.method === 'POST' && r.url.includes(`uploadId=${id}`)).map((r) => r.status)).toEqual([
      500, 500, 500,
    ]);
    expect(proxy.requests.filter((r) => r.method === 'DELETE' && r.url.includes(`uploadId=${id}`))).toHaveLength(1);
    expect(await archive.verify(key, meta)).toMatchObject({ ok: true });
    await archive.close();
  });

  it('reports bad credentials as not retryable and without the secret', async () => {
    const archive = new S3Archive(s3.archiveConfig({ accessKeyId: 'WRONG', secretAccessKey: 'very-secret-value' }));
    const failure = await archive.putJson(`t-${randomUUID()}/x.json`, {}).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(DeliveryError);
    expect((failure as DeliveryError).retryable).toBe(false);
    expect((failure as DeliveryError).message).not.toContain('very-secret-value');
    await archive.close();
  });

  it('presigns a download link that works and refuses a validity beyond 7 days', async () => {
    const archive = new S3Archive(s3.archiveConfig());
    const content = Buffer.from('link me');
    const key = `t-${randomUUID()}/x.csv`;
    await archive.putFile(key, await spoolFile(content), { contentType: 'text/csv', bytes: content.length, sha256: sha256(content) });
    const url = await archive.presignGet(key, 3_600_000);
    expect(url).toContain('X-Amz-Expires=3600');
    const answer = await fetch(url);
    expect(answer.status).toBe(200);
    expect(Buffer.from(await answer.arrayBuffer())).toEqual(content);
    await expect(archive.presignGet(key, 8 * 86_400_000)).rejects.toBeInstanceOf(InputError);
    await archive.close();
  });

  it('takes credentials from the AWS default chain when config has none', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    try {
      const archive = new S3Archive(s3.archiveConfig({ accessKeyId: undefined, secretAccessKey: undefined }));
      const key = `t-${randomUUID()}/chain.json`;
      await archive.putJson(key, { via: 'default chain' });
      expect(await archive.readJson(key)).toEqual({ via: 'default chain' });
      await archive.close();
    } finally {
      for (const [name, value] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('needs a bucket', () => {
    expect(() => new S3Archive(s3ArchiveConfig(s3.endpoint, ''))).toThrow(/S3_BUCKET/);
  });
});

describe('partSizeFor', () => {
  const MiB = 1024 * 1024;
  it('keeps the configured part size up to 10,000 parts, then grows by whole MiB to stay within them', () => {
    expect(partSizeFor(12 * MiB, 5 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(3 * 64 * 1024, 64 * 1024)).toBe(64 * 1024); // a part size below 1 MiB is kept too
    expect(partSizeFor(10_000 * 5 * MiB, 5 * MiB)).toBe(5 * MiB);
    expect(partSizeFor(10_000 * 5 * MiB + 1, 5 * MiB)).toBe(6 * MiB);
    expect(partSizeFor(10_000 * 5 * MiB, 8 * MiB)).toBe(8 * MiB);
    for (const size of [48 * 1024 * MiB, 100 * 1024 * MiB, 1024 * 1024 * MiB, 5 * 1024 * 1024 * MiB]) {
      const part = partSizeFor(size, 5 * MiB);
      expect(Math.ceil(size / part), `${size} bytes`).toBeLessThanOrEqual(10_000);
      expect(part % MiB).toBe(0);
      expect(part).toBeLessThanOrEqual(5 * 1024 * MiB); // S3's largest part
    }
  });
});
