/**
 * `ox-batch run` (the real CLI, a child process) of a window whose export the simulator cuts
 * after N bytes once: the export is started again inside the attempt, the command exits 0, the
 * archive holds exactly what OX sends, and the result says one retry.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../../src/redis/connection.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OxClient } from '../../src/ox/ox-client.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { deleteKeys, plainRedis, REDIS_URL, runCli, testPrefix } from '../daemon/helpers.js';
import { oxConfig, readAll, SIM_CREDENTIALS } from '../ox/ox-test-kit.js';

const EXPORT = '/userfeedback/v1/export/default/star-rating-v1';
const window = { start: Date.parse('2026-03-01T00:00:00Z'), end: Date.parse('2026-03-02T00:00:00Z') };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('ox-batch run with an export cut mid-body once', () => {
  const prefix = testPrefix();
  let redis: RedisClient;
  let sim: OxSimulator;
  let dir: string;
  let file: string;
  beforeAll(async () => {
    redis = plainRedis();
    sim = await OxSimulator.start({ credentials: SIM_CREDENTIALS });
    sim.generateFeedback({ rows: 3000, from: window.start, to: window.end, seed: 11 });
    dir = mkdtempSync(join(tmpdir(), 'oxb-run-resume-'));
    file = join(dir, 'config.yaml');
    const { user, password } = SIM_CREDENTIALS.rest;
    writeFileSync(
      file,
      [
        `ox: { url: "${sim.url}", user: ${user}, password: "${password}", retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } }`,
        `redis: { url: "${REDIS_URL}", prefix: ${prefix} }`,
        'logging: { level: warn }',
        `archive: { kind: fs, dir: "${join(dir, 'archive')}" }`,
        `spool: { dir: "${join(dir, 'spool')}" }`,
        'schedules:',
        '  feedback-daily: { job: feedback.export, cron: "0 2 * * *", tz: UTC, window: 1d, startAt: 2026-03-01 }',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await sim.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 with the archive complete and byte-identical, and the result says one retry', async () => {
    const ox = new OxClient(oxConfig(sim.url));
    const expected = (await ox.readExportCsv(window, (body) => readAll(body))).value;
    await ox.close();
    expect(expected.length).toBeGreaterThan(100_000);
    sim.resetRequests();
    const cutAt = 40_000;
    sim.setFaults({ pathPrefix: EXPORT, script: [{ dropAfterBytes: cutAt }] });

    const out = await runCli(['--config', file, 'run', 'feedback-daily', '--start', '2026-03-01', '--end', '2026-03-02']);
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as {
      status: string;
      result: { rows: number; bytes: number; sha256: string; oxRetries: number; archive: { key: string } };
    };
    expect(result.status).toBe('done');
    expect(result.result.oxRetries).toBe(1);
    expect(result.result).toMatchObject({ rows: 3000, bytes: expected.length, sha256: sha(expected) });
    expect(sim.requests.filter((r) => r.path === EXPORT)).toHaveLength(2);

    const stored = filesUnder(join(dir, 'archive'));
    const artifact = stored.find((f) => f.endsWith('.csv'))!;
    expect(artifact, stored.join(', ')).toBeDefined();
    expect(sha(readFileSync(artifact))).toBe(sha(expected));
    const manifest = JSON.parse(
      readFileSync(
        stored.find((f) => f.endsWith('.manifest.json'))!,
        'utf8',
      ),
    ) as { sha256: string; rows: number };
    expect(manifest).toMatchObject({ sha256: sha(expected), rows: 3000 });
    // The broken try's spool file is gone.
    expect(filesUnder(join(dir, 'spool'))).toEqual([]);
  }, 60_000);
});
