import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/connection.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { FsArchive } from '../../src/delivery/fs-archive.js';
import { S3Archive } from '../../src/delivery/s3-archive.js';
import type { ArchiveStore } from '../../src/delivery/types.js';
import type { ArchiveConfig } from '../../src/config/schema.js';
import { verifiedWatermark } from '../../src/purge/verified-watermark.js';
import { deleteKeys, plainRedis, testPrefix } from '../daemon/helpers.js';
import { startS3, type TestS3 } from '../delivery/helpers/s3-server.js';
import { archiveWindow, removeObject } from './helpers/archived-windows.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const day = (i: number) => ({ start: T0 + i * DAY, end: T0 + (i + 1) * DAY });

let redis: RedisClient;
let s3: TestS3;
beforeAll(async () => {
  redis = plainRedis();
  s3 = await startS3('oxbt-purge-wm');
});
afterAll(async () => {
  await s3.close();
  redis.disconnect();
});

describe.each(['fs', 's3'] as const)('verified watermark on a %s archive', (kind) => {
  let prefix: string;
  let ledger: RedisLedger;
  let archive: ArchiveStore;
  let s3Config: ArchiveConfig | undefined;
  let dir: string;
  const keys: string[] = [];

  beforeEach(async () => {
    prefix = testPrefix();
    ledger = new RedisLedger(redis, prefix);
    dir = await mkdtemp(join(tmpdir(), 'oxbt-wm-'));
    s3Config = kind === 's3' ? s3.archiveConfig({ prefix }) : undefined;
    archive = kind === 'fs' ? new FsArchive(dir) : new S3Archive(s3Config!);
    keys.length = 0;
    for (let i = 0; i < 5; i += 1)
      keys.push(
        (await archiveWindow(ledger, archive, 'feedback-daily', day(i), `"Date";"Score"\r"2026-01-0${i + 1} 10:00:00";"${i}"\r`)).key,
      );
  });
  afterEach(async () => {
    await archive.close();
    await deleteKeys(redis, prefix);
    await rm(dir, { recursive: true, force: true });
  });

  const compute = async (until: number, alreadyPurgedThrough?: number) =>
    verifiedWatermark(await ledger.listWindows('feedback-daily'), archive, {
      scheduleId: 'feedback-daily',
      startAt: T0,
      until,
      alreadyPurgedThrough,
      concurrency: 2,
    });

  it('reaches the window covering `until` when every archive checks out', async () => {
    const wm = await compute(T0 + 2 * DAY + 1);
    expect(wm.watermark).toBe(T0 + 3 * DAY);
    expect(wm.windows.map((w) => w.check)).toEqual(['verified', 'verified', 'verified']);
    expect(wm.stoppedAt).toBeUndefined();
    const all = await compute(T0 + 30 * DAY);
    expect(all.watermark).toBe(T0 + 5 * DAY);
    expect(all.stoppedAt?.reason).toMatch(/not exported yet/);
  });

  it('stops at a window whose data object was corrupted afterwards', async () => {
    await archive.putJson(keys[2]!, { replaced: 'by something else' });
    const wm = await compute(T0 + 30 * DAY);
    expect(wm.watermark).toBe(T0 + 2 * DAY);
    expect(wm.stoppedAt).toMatchObject({ start: T0 + 2 * DAY, end: T0 + 3 * DAY });
    expect(wm.stoppedAt!.reason).toMatch(/archive object .*(size|sha256)/);
  });

  it('stops at a window whose data object or manifest was removed', async () => {
    await removeObject(archive, `${keys[3]!}.manifest.json`, s3Config);
    let wm = await compute(T0 + 30 * DAY);
    expect(wm.watermark).toBe(T0 + 3 * DAY);
    expect(wm.stoppedAt!.reason).toMatch(/manifest .*missing/);
    await removeObject(archive, keys[1]!, s3Config);
    wm = await compute(T0 + 30 * DAY);
    expect(wm.watermark).toBe(T0 + DAY);
    expect(wm.stoppedAt!.reason).toMatch(/missing/);
  });

  it('stops at a manifest that no longer matches the ledger', async () => {
    await archive.putJson(`${keys[0]!}.manifest.json`, { bytes: 1, sha256: 'ff'.repeat(32) });
    const wm = await compute(T0 + 30 * DAY);
    expect(wm.watermark).toBe(T0);
    expect(wm.windows).toEqual([]);
    expect(wm.stoppedAt!.reason).toMatch(/does not match the ledger/);
  });

  it('does not re-read windows an earlier verified purge already covered', async () => {
    await removeObject(archive, keys[0]!, s3Config);
    const wm = await compute(T0 + 30 * DAY, T0 + 2 * DAY);
    expect(wm.watermark).toBe(T0 + 5 * DAY);
    expect(wm.windows.map((w) => w.check)).toEqual(['already-purged', 'already-purged', 'verified', 'verified', 'verified']);
  });

  it('stops at a failed export window', async () => {
    await ledger.markFailed({ scheduleId: 'feedback-daily', ...day(1) }, 'feedback.export', 'OX 503 after 5 attempts');
    const wm = await compute(T0 + 30 * DAY);
    expect(wm.watermark).toBe(T0 + DAY);
    expect(wm.stoppedAt!.reason).toBe('export window is failed: OX 503 after 5 attempts');
  });
});
