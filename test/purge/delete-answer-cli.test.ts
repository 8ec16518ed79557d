/**
 * A 200 to DELETE that is not OX's answer (here: the HTML login page of an SSO proxy in front of
 * OX) is no proof that anything was deleted. Through the real CLI: `ox-batch run <purge schedule>`
 * fails with a protocol error and is recorded failed, so the next purge re-reads every archived
 * window instead of trusting that cutoff; `ox-batch feedback delete` exits 1 with one line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { previousVerifiedCutoff } from '../../src/purge/previous-purge.js';
import { D0, DAY, iso, startCliWorld, type CliWorld } from '../cli/cli-world.js';

let world: CliWorld;
const cli = (args: string[]) => world.cli(args);
const deletes = () => world.sim.requests.filter((r) => r.method === 'DELETE');

beforeAll(async () => {
  world = await startCliWorld({
    name: 'delete-answer',
    configYaml: [
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
    ].join('\n'),
  });
  world.sim.addFeedback(
    Array.from({ length: 12 }, (_, i) => ({
      date: D0 + i * DAY + DAY / 2,
      contextId: 1,
      userId: i + 1,
      score: 1 + (i % 5),
      comment: `day ${i}`,
    })),
  );
}, 60_000);
afterAll(async () => {
  await world?.close();
});

describe('a DELETE answered by an HTML login page (200)', () => {
  it(
    'fails the purge (exit 1, OXB_UNEXPECTED_ANSWER, recorded failed), and the next purge re-reads every window',
    { timeout: 120_000 },
    async () => {
      const exported = await cli(['run', 'feedback-daily', '--start', iso(D0), '--end', iso(D0 + 12 * DAY)]);
      expect(exported.code, exported.stderr).toBe(0);

      world.sim.setFaults({ loginPage: true, method: 'DELETE' });
      const refused = await cli(['run', 'feedback-purge']);
      expect(refused.code, refused.stderr).toBe(1);
      const outcome = JSON.parse(refused.stdout.toString()) as { status: string; reason: string };
      expect(outcome.status).toBe('failed');
      expect(outcome.reason).toMatch(/not OX's delete answer: Content-Type text\/html \(an HTML page titled "Sign in"\)/);
      expect(outcome.reason).toContain('[OXB_UNEXPECTED_ANSWER]');
      // Not retried blindly: the same request gets the same page.
      expect(deletes()).toHaveLength(1);
      expect(deletes()[0]!.status).toBe(200);
      expect(world.sim.feedbackCount()).toBe(12); // the proxy never let it through

      const ledger = new RedisLedger(world.redis, world.prefix);
      const [recorded] = await ledger.lastAttempts('feedback-purge', 1);
      expect(recorded).toMatchObject({ state: 'failed', error: expect.stringContaining('OXB_UNEXPECTED_ANSWER') });
      expect(await previousVerifiedCutoff(ledger, 'feedback-purge', 'feedback-daily')).toBeUndefined();

      world.sim.setFaults(undefined);
      const purged = await cli(['run', 'feedback-purge']);
      expect(purged.code, purged.stderr).toBe(0);
      const result = JSON.parse(purged.stdout.toString()) as {
        status: string;
        result: { cutoffMs: number; ox: unknown; guard: { windows: number; reread: number; alreadyPurged: number } };
      };
      expect(result.status).toBe('done');
      expect(result.result.cutoffMs).toBe(D0 + 12 * DAY);
      expect(result.result.ox).toMatchObject({ successful: true, type: 'star-rating-v1', contextGroup: 'default' });
      // Every window was read back from the archive: the failed purge vouched for nothing.
      expect(result.result.guard).toMatchObject({ windows: 12, reread: 12, alreadyPurged: 0 });
      expect(world.sim.feedbackCount()).toBe(0);
    },
  );

  it('ox-batch feedback delete exits 1 with one line naming the page, and prints no result', { timeout: 60_000 }, async () => {
    world.sim.addFeedback([{ date: D0 + DAY / 2, contextId: 1, userId: 1, score: 3, comment: 'again' }]);
    const before = world.sim.feedbackCount();
    world.sim.setFaults({ script: ['login-page'], method: 'DELETE' });
    try {
      const run = await cli(['feedback', 'delete', '--end', iso(D0 + DAY), '--yes']);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout.toString()).toBe('');
      const lines = run.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('ox-batch:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/OX feedback\.delete failed: HTTP 200 not OX's delete answer: .*"Sign in".*\[OXB_UNEXPECTED_ANSWER\]/);
      expect(world.sim.feedbackCount()).toBe(before);
    } finally {
      world.sim.setFaults(undefined);
    }
  });
});
