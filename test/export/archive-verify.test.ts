/**
 * How each archived object was verified, as the manifest and the result say: the fs archive
 * hard-links a spool on its own file system (same inode: nothing read back), copies and reads
 * back from another one; S3 without checksum support (s3rver) is downloaded and hashed.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExportEnv, type ExportEnv } from './helpers/export-env.js';

const WINDOW = { start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 10, 2) };
type Result = { archive: { key: string; manifestKey: string; verifiedBy: string; location: string } };

describe('archive verification method', () => {
  let fsEnv: ExportEnv;
  let s3Env: ExportEnv;
  beforeAll(async () => {
    fsEnv = await startExportEnv();
    s3Env = await startExportEnv({ archive: 's3' });
    for (const env of [fsEnv, s3Env]) env.sim.generateFeedback({ rows: 2000, from: WINDOW.start, to: WINDOW.end, seed: 3 });
  });
  afterAll(async () => {
    await fsEnv?.close();
    await s3Env?.close();
  });

  it("fs, spool on the archive's file system: the archive file is the spool's inode, not read back", async () => {
    const outcome = await fsEnv.run(WINDOW, {}, { scheduleId: 'verify-link' });
    const result = outcome.result as Result;
    expect(result.archive.verifiedBy).toBe('same-inode');
    const manifest = JSON.parse(await readFile(join(fsEnv.archiveDir, result.archive.manifestKey), 'utf8'));
    expect(manifest.verifiedBy).toBe('same-inode');
    expect(statSync(join(fsEnv.archiveDir, result.archive.key)).nlink).toBe(1); // the spool name is gone, the data stays
  });

  const otherFs = existsSync('/dev/shm') && statSync('/dev/shm').dev !== statSync(tmpdir()).dev;
  it.runIf(otherFs)('fs, spool on another file system: copied, then read back', async () => {
    const spool = await mkdtemp('/dev/shm/oxbt-spool-');
    try {
      const env = fsEnv.withConfig({ spool: { dir: spool } });
      const outcome = await env.run(WINDOW, { format: 'jsonl' }, { scheduleId: 'verify-copy' });
      const result = outcome.result as Result;
      expect(result.archive.verifiedBy).toBe('read-back');
      const manifest = JSON.parse(await readFile(join(fsEnv.archiveDir, result.archive.manifestKey), 'utf8'));
      expect(manifest.verifiedBy).toBe('read-back');
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  });

  it('S3 without checksum support (s3rver): downloaded and hashed', async () => {
    s3Env.proxy!.requests.length = 0;
    const outcome = await s3Env.run(WINDOW, {}, { scheduleId: 'verify-s3' });
    const result = outcome.result as Result;
    expect(result.archive.verifiedBy).toBe('download');
    const gets = s3Env.proxy!.requests.filter(
      (r) => r.method === 'GET' && r.url.includes(result.archive.key.split('/').pop()!) && !r.url.includes('manifest'),
    );
    expect(gets.length).toBeGreaterThanOrEqual(1);
    const manifest = await s3Env.services.archive.readJson<{ verifiedBy: string }>(result.archive.manifestKey);
    expect(manifest?.verifiedBy).toBe('download');
  });
});
