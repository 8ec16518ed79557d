// npm run soak -- --seeds N [--seed S]: the safety model test (test/safety/model.test.ts) over N
// random sequences of operator actions and faults instead of CI's few; a failure prints its
// seed and path to replay it with OXB_MODEL_SEED / OXB_MODEL_PATH.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const value = (flag) => {
  const i = args.indexOf(flag);
  return i === -1 ? undefined : args[i + 1];
};
const seeds = value('--seeds') ?? '20';
if (!/^\d+$/.test(seeds) || Number(seeds) < 1) {
  process.stderr.write(`soak: --seeds "${seeds}" is not a positive whole number\n`);
  process.exit(2);
}
const env = { ...process.env, OXB_MODEL_RUNS: seeds, ...(value('--seed') ? { OXB_MODEL_SEED: value('--seed') } : {}) };
const run = spawnSync('npx', ['vitest', 'run', 'test/safety/model.test.ts', '--testTimeout', String(Number(seeds) * 120_000)], {
  stdio: 'inherit',
  env,
});
process.exit(run.status ?? 1);
