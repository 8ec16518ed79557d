import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startExportEnv, type ExportEnv } from './helpers/export-env.js';

const DAY = 86_400_000;
const day = (d: number) => ({ start: Date.UTC(2026, 5, d), end: Date.UTC(2026, 5, d) + DAY });

interface Result {
  rows: number;
  sha256: string;
  archive: { key: string; manifestKey: string; reused?: boolean };
}

describe('feedback.export never replaces an intact archived copy with a different export', () => {
  let env: ExportEnv;
  // A fresh environment (OX, archive, ledger) per test: one test's purge must not empty another's window.
  beforeEach(async () => {
    env = await startExportEnv({ archive: 'fs' });
    env.sim.generateFeedback({ rows: 300, from: day(1).start, to: day(4).end, seed: 11 });
  });
  afterEach(async () => {
    await env?.close();
  });

  it('refuses a forced re-export after OX purged the window, and leaves the archive as it was', async () => {
    const window = day(1);
    const first = await env.run(window, {}, { scheduleId: 'guarded' });
    const result = first.result as Result;
    expect(result.rows).toBeGreaterThan(0);
    const path = join(env.archiveDir, result.archive.key);
    const before = await readFile(path);

    await env.services.ox.deleteFeedback({ end: window.end });
    expect(env.sim.feedbackCount({ start: window.start, end: window.end })).toBe(0);

    const refused = await env.run(window, {}, { scheduleId: 'guarded', force: true }).catch((e: Error & { permanent?: boolean }) => e);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error & { permanent?: boolean }).permanent).toBe(true);
    expect((refused as Error).message).toMatch(/is intact .* differs from this export .* refusing to overwrite/);
    expect(await readFile(path)).toEqual(before);
    // Nothing changed, so the window stays done with the archived result (not failed: the purge
    // would stop there and the failed-windows alert would fire for a refused re-run).
    expect(await env.services.ledger.getWindow({ scheduleId: 'guarded', ...window })).toMatchObject({
      state: 'done',
      result: { sha256: result.sha256 },
    });
  });

  it('refuses the same when the ledger lost its records (a flushed Redis re-runs the window)', async () => {
    const window = day(2);
    const first = await env.run(window, {}, { scheduleId: 'flushed' });
    const path = join(env.archiveDir, (first.result as Result).archive.key);
    const before = await readFile(path);
    await env.services.ox.deleteFeedback({ end: window.end });
    const keys = await env.services.redis.keys(`${env.prefix}*`);
    if (keys.length > 0) await env.services.redis.del(...keys);

    await expect(env.run(window, {}, { scheduleId: 'flushed' })).rejects.toThrow(/refusing to overwrite/);
    expect(await readFile(path)).toEqual(before);
  });

  it('reuses an identical intact copy and rewrites a damaged one', async () => {
    const window = day(3);
    const first = (await env.run(window, {}, { scheduleId: 'repair' })).result as Result;
    const again = (await env.run(window, {}, { scheduleId: 'repair', force: true })).result as Result;
    expect(again.archive.reused).toBe(true);
    expect(again.sha256).toBe(first.sha256);

    const path = join(env.archiveDir, first.archive.key);
    await writeFile(path, 'damaged');
    const repaired = (await env.run(window, {}, { scheduleId: 'repair', force: true })).result as Result;
    expect(repaired.archive.reused).toBeUndefined();
    expect(
      await env.services.archive.verify(first.archive.key, { bytes: (await readFile(path)).length, sha256: first.sha256 }),
    ).toMatchObject({ ok: true });
  });
});
