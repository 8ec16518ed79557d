/**
 * A 200 to DELETE that is not OX's answer (here: the HTML login page of an SSO proxy in front of
 * OX) is no proof that anything was deleted. Through the real CLI: `ox-batch run <purge schedule>`
 * fails with a protocol error and is recorded failed, so the next purge re-reads every archived
 * window instead of trusting that cutoff; `ox-batch feedback delete` exits 1 with one line.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { previousVerifiedCutoff } from '../../src/purge/previous-purge.js';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { deleteKeys, plainRedis, REDIS_URL, testPrefix } from '../daemon/helpers.js';

const DAY = 86_400_000;
/** Twenty days ago at midnight UTC: every window of the test is long closed. */
const D0 = Math.floor(Date.now() / DAY) * DAY - 20 * DAY;
const iso = (ms: number) => new Date(ms).toISOString();

let bundle: Awaited<ReturnType<typeof bundleCli>>;
let sim: OxSimulator;
let redis: Redis;
let prefix: string;
let dir: string;
let configFile: string;

const cli = (args: string[]) => runCli(bundle.entry, args, {
  OXB_CONFIG: configFile, OX_URL: sim.url, OX_USER: 'oxadmin', OX_PASSWORD: 'secret',
  REDIS_URL, OXB_REDIS_PREFIX: prefix, LOG_LEVEL: 'warn',
});
const deletes = () => sim.requests.filter((r) => r.method === 'DELETE');

beforeAll(async () => {
  bundle = await bundleCli();
  sim = await OxSimulator.start();
  sim.addFeedback(Array.from({ length: 12 }, (_, i) => ({ date: D0 + i * DAY + DAY / 2, contextId: 1, userId: i + 1, score: 1 + (i % 5), comment: `day ${i}` })));
  redis = plainRedis();
  prefix = testPrefix();
  dir = await mkdtemp(join(tmpdir(), 'oxbt-delete-answer-'));
  configFile = join(dir, 'config.yaml');
  await writeFile(configFile, [
    'archive:',
    '  kind: fs',
    `  dir: ${JSON.stringify(join(dir, 'archive'))}`,
    `spool: { dir: ${JSON.stringify(join(dir, 'spool'))} }`,
    'ox:',
    '  retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 20 }',
    'schedules:',
    '  feedback-daily:',
    '    job: feedback.export',
    '    cron: "0 2 * * *"',
    '    window: 1d',
    '    lag: 0',
    `    startAt: ${JSON.stringify(iso(D0))}`,
    '  feedback-purge:',
    '    job: feedback.purge',
    '    cron: "0 3 * * *"',
    '    params: { retention: 5d }',
    '',
  ].join('\n'));
}, 60_000);
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
  await sim.close();
  await rm(dir, { recursive: true, force: true });
  bundle?.dispose();
});

describe('a DELETE answered by an HTML login page (200)', () => {
  it('fails the purge (exit 1, OXB_UNEXPECTED_ANSWER, recorded failed), and the next purge re-reads every window', { timeout: 120_000 }, async () => {
    const exported = await cli(['run', 'feedback-daily', '--start', iso(D0), '--end', iso(D0 + 12 * DAY)]);
    expect(exported.code, exported.stderr).toBe(0);

    sim.setFaults({ loginPage: true, method: 'DELETE' });
    const refused = await cli(['run', 'feedback-purge']);
    expect(refused.code, refused.stderr).toBe(1);
    const outcome = JSON.parse(refused.stdout.toString()) as { status: string; reason: string };
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/not OX's delete answer: Content-Type text\/html \(an HTML page titled "Sign in"\)/);
    expect(outcome.reason).toContain('[OXB_UNEXPECTED_ANSWER]');
    // Not retried blindly: the same request gets the same page.
    expect(deletes()).toHaveLength(1);
    expect(deletes()[0]!.status).toBe(200);
    expect(sim.feedbackCount()).toBe(12); // the proxy never let it through

    const ledger = new RedisLedger(redis, prefix);
    const [recorded] = await ledger.lastRuns('feedback-purge', 1);
    expect(recorded).toMatchObject({ state: 'failed', error: expect.stringContaining('OXB_UNEXPECTED_ANSWER') });
    expect(await previousVerifiedCutoff(ledger, 'feedback-purge', 'feedback-daily')).toBeUndefined();

    sim.setFaults(undefined);
    const purged = await cli(['run', 'feedback-purge']);
    expect(purged.code, purged.stderr).toBe(0);
    const result = (JSON.parse(purged.stdout.toString()) as { status: string; result: { cutoffMs: number; ox: unknown; guard: { windows: number; reread: number; alreadyPurged: number } } });
    expect(result.status).toBe('done');
    expect(result.result.cutoffMs).toBe(D0 + 12 * DAY);
    expect(result.result.ox).toMatchObject({ successful: true, type: 'star-rating-v1', contextGroup: 'default' });
    // Every window was read back from the archive: the failed purge vouched for nothing.
    expect(result.result.guard).toMatchObject({ windows: 12, reread: 12, alreadyPurged: 0 });
    expect(sim.feedbackCount()).toBe(0);
  });

  it('ox-batch feedback delete exits 1 with one line naming the page, and prints no result', { timeout: 60_000 }, async () => {
    sim.addFeedback([{ date: D0 + DAY / 2, contextId: 1, userId: 1, score: 3, comment: 'again' }]);
    const before = sim.feedbackCount();
    sim.setFaults({ script: ['login-page'], method: 'DELETE' });
    try {
      const run = await cli(['feedback', 'delete', '--end', iso(D0 + DAY), '--yes']);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout.toString()).toBe('');
      const lines = run.stderr.trim().split('\n').filter((l) => l.startsWith('ox-batch:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/OX feedback\.delete failed: HTTP 200 not OX's delete answer: .*"Sign in".*\[OXB_UNEXPECTED_ANSWER\]/);
      expect(sim.feedbackCount()).toBe(before);
    } finally {
      sim.setFaults(undefined);
    }
  });
});
