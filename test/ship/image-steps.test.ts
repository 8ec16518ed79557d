/**
 * Runs scripts/image-steps.sh: the Dockerfile's build and runtime steps without a Docker engine
 * (npm pack, production-only install from the tarball and the lockfile, `ox-batch start` as the
 * image's ENTRYPOINT/CMD, /healthz, SIGTERM → exit 0).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load-config.js';

function run(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { env: { ...process.env, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
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
