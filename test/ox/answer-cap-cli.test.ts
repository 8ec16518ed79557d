/**
 * Non-streaming OX answers are read up to ox.maxAnswerBytes: beyond it the call fails at once
 * with one line and a stable code instead of filling the memory. Through the real CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY, startCliWorld, type CliWorld } from '../cli/cli-world.js';

let world: CliWorld;
beforeAll(async () => {
  world = await startCliWorld({ name: 'answer-cap', sim: { historySize: 40 }, configYaml: 'ox:\n  maxAnswerBytes: 1024\n' });
  world.sim.generatePasswordHistories({ contexts: 1, usersPerContext: 1, from: Date.now() - 300 * DAY, to: Date.now(), seed: 3 });
}, 60_000);
afterAll(async () => {
  await world?.close();
});

describe('ox.maxAnswerBytes', () => {
  it(
    'an answer over the cap fails with one line naming the key and OXB_ANSWER_TOO_LARGE (exit 1); one under it is read',
    { timeout: 60_000 },
    async () => {
      const admin = { OX_ADMIN_USER: 'oxadminmaster', OX_ADMIN_PASSWORD: 'master' };
      const small = await world.cli(['passwd-changes', '--context-id', '1', '--user-id', '3', '--limit', '2'], admin);
      expect(small.code, small.stderr).toBe(0);
      expect(JSON.parse(small.stdout.toString())).toHaveLength(2);
      const big = await world.cli(['passwd-changes', '--context-id', '1', '--user-id', '3'], admin);
      expect(big.code).toBe(1);
      expect(big.stdout.toString()).toBe('');
      expect(big.stderr.trim().split('\n')).toEqual([
        "ox-batch: OX passwd-changes failed: HTTP 200 the answer is larger than ox.maxAnswerBytes (1024 bytes) [OXB_ANSWER_TOO_LARGE] - not OX's answer to this call, or raise ox.maxAnswerBytes",
      ]);
    },
  );
});
