/**
 * Runs scripts/image-steps.sh: the Dockerfile's build and runtime steps without a Docker engine
 * (npm pack, production-only install from the tarball and the lockfile, `ox-batch start` as the
 * image's ENTRYPOINT/CMD, /healthz, SIGTERM → exit 0).
 */
import { startChild } from '../helpers/child.js';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load-config.js';

/** The script and everything it starts (npm, the packed daemon) are one process group, killed at the timeout. */
async function run(script: string): Promise<{ code: number | null; output: string }> {
  const child = startChild('bash', [script], {
    env: { ...process.env, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    timeoutMs: 170_000,
  });
  const { code } = await child.exited;
  return { code, output: child.output() };
}

describe('image steps (Dockerfile without Docker)', () => {
  it('packs, installs production deps only, starts, answers /healthz and drains on SIGTERM with exit 0', async () => {
    const { code, output } = await run(join(packageRoot(), 'scripts', 'image-steps.sh'));
    expect(output, output).toContain('image-steps: /healthz 200');
    expect(output).toContain('image-steps: /readyz 200');
    expect(output).toMatch(/image-steps: \/metrics 200 \(\d+ oxb_ metrics\)/);
    expect(output).toContain('image-steps: exit 0 after SIGTERM');
    expect(output).toMatch(/image-steps: OK\s*$/);
    expect(code).toBe(0);
  }, 180_000);
});
