/**
 * `npm run bench -- scale --quick` as a smoke test: the scaling bench's whole machinery (its own
 * Redis server, `ox-batch sim` with the latency fault, `ox-batch start --role worker` processes,
 * `ox-batch backfill`, the timing join and the keepDone trim) on 96 windows with 1 and 2 worker
 * processes. Needs the build (`npm test` builds first); results.json is not touched.
 */
import { startChild } from '../helpers/child.js';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load-config.js';

describe('npm run bench -- scale --quick', () => {
  it('backfills through 1 and 2 worker processes and reports rates, CPU, overhead and memory', { timeout: 120_000 }, async () => {
    const root = packageRoot();
    const entry = join(root, 'dist', 'bench', 'run.js');
    expect(existsSync(entry), 'run npm run build first').toBe(true);
    const results = join(root, 'bench', 'results.json');
    const before = existsSync(results) ? statSync(results).mtimeMs : undefined;
    const bench = startChild(process.execPath, [entry, 'scale', '--quick'], { cwd: root, env: { ...process.env }, timeoutMs: 110_000 });
    const { code } = await bench.exited;
    const output = bench.output();
    expect(code, output).toBe(0);
    expect(output).toContain('scale: 96 hourly feedback.export windows, 20 rows each, OX answering after 50 ms (quick run)');
    expect(output).toMatch(/^1 × concurrency 4 +\d+(\.\d)? +\d+(\.\d)? +\d+(\.\d)? +1× +[\d.]+ \/ [\d.]+ \/ [\d.]+ \/ [\d.]+ /m);
    expect(output).toMatch(/^2 × concurrency 4 +\d+(\.\d)? .* [\d.]+× /m);
    expect(output).toContain('96 of 96 windows joined');
    expect(output).toMatch(/Redis per window: ledger \d+\.\d\d KB/);
    expect(output).toContain('ledger.keepDone: 48 windows trimmed, 48 kept');
    expect(output).toContain('watermark unchanged');
    expect(output).toContain('quick run: results not merged');
    expect(existsSync(results) ? statSync(results).mtimeMs : undefined).toBe(before);
  });
});
