import { runChild } from '../helpers/child.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/connection.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { deleteKeys, plainRedis, REDIS_URL, testPrefix } from '../daemon/helpers.js';
import { seedFeedback } from './helpers/purge-world.js';
import { bundledCli } from '../helpers/bundle.js';

let sim: OxSimulator;
let redis: RedisClient;
let prefix: string;
let dir: string;

/** The real CLI (bundled from the current sources) in a child process, configured by environment only. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    OXB_CONFIG: '',
    OX_URL: sim.url,
    OX_USER: 'oxadmin',
    OX_PASSWORD: 'secret',
    REDIS_URL,
    OXB_REDIS_PREFIX: prefix,
    OXB_ARCHIVE: 'fs',
    OXB_ARCHIVE_DIR: dir,
    LOG_LEVEL: 'info',
  };
  // -1: killed at the timeout.
  return runChild(process.execPath, [await bundledCli(), ...args], { env, timeoutMs: 30_000 }).then(({ code, stdout, stderr }) => ({
    code: code ?? -1,
    stdout,
    stderr,
  }));
}

beforeAll(async () => {
  sim = await OxSimulator.start();
  seedFeedback(sim);
  redis = plainRedis();
  prefix = testPrefix();
  dir = await mkdtemp(join(tmpdir(), 'oxbt-purge-cli-'));
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ox-batch run feedback.purge', () => {
  it('refuses without a guarding export schedule: exit 2, reason on stderr, nothing deleted', async () => {
    const { code, stderr, stdout } = await cli(['run', 'feedback.purge', '--param', 'retention=5d']);
    expect(code, stdout + stderr).toBe(2);
    expect(stdout + stderr).toMatch(/refused: no feedback\.export schedule archives default\/star-rating-v1/);
    expect(sim.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
    expect(sim.feedbackCount()).toBe(13);
    const [recorded] = await new RedisLedger(redis, prefix).lastAttempts('feedback.purge', 1);
    expect(recorded).toMatchObject({ state: 'failed' });
  });

  it('--dry-run prints what would go and deletes nothing; allowUnarchived then purges and says so', async () => {
    const dry = await cli(['run', 'feedback.purge', '--param', 'retention=5d', '--param', 'allowUnarchived=true', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ status: 'done', result: { dryRun: true, mode: 'unarchived', wouldDeleteRows: 13 } });
    expect(dry.stdout + dry.stderr).toContain('DRY RUN, nothing deleted: would delete 13 feedback rows');
    expect(sim.feedbackCount()).toBe(13);

    const real = await cli(['run', 'feedback.purge', '--param', 'retention=5d', '--param', 'allowUnarchived=true']);
    expect(real.code, real.stderr).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ status: 'done', result: { mode: 'unarchived', ox: { successful: true } } });
    expect(real.stdout + real.stderr).toContain('UNARCHIVED PURGE');
    expect(sim.feedbackCount()).toBe(0);
  });
});
