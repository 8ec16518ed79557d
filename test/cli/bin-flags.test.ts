/**
 * The V8 setting the memory figures are measured with (--max-semi-space-size=2) is applied by the
 * ways a user starts ox-batch: the bin itself (its shebang: npm bin, npx, the image's ENTRYPOINT)
 * and the npm scripts that start it.
 */
import { runChild } from '../helpers/child.js';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCli } from './cli-kit.js';

const FLAG = '--max-semi-space-size=2';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('the bin applies the V8 setting itself', () => {
  let cli: { entry: string; dispose(): void };
  let dir: string;
  beforeAll(async () => {
    cli = await bundleCli();
    dir = mkdtempSync(join(tmpdir(), 'oxbt-bin-'));
  });
  afterAll(() => {
    cli?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('run as a program (shebang), the process has the flag', async () => {
    expect(readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${FLAG}`);
    chmodSync(cli.entry, 0o755);
    // A preload reports the argv V8 was started with, from inside the ox-batch process.
    const probe = join(dir, 'probe.cjs');
    writeFileSync(probe, "process.on('exit', () => process.stderr.write(`EXECARGV ${JSON.stringify(process.execArgv)}\\n`));\n");
    const { code, stdout, stderr } = await runChild(cli.entry, ['--version'], {
      env: { PATH: process.env.PATH!, NODE_OPTIONS: `--require ${probe}` },
      timeoutMs: 30_000,
    });
    expect(code, stderr).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(JSON.parse(/EXECARGV (.*)/.exec(stderr)![1]!)).toContain(FLAG);
  });

  it('every entry point makes the run-time V8 settings before any other import', () => {
    const firstImport = (file: string) => /^import .*$/m.exec(readFileSync(join(ROOT, file), 'utf8'))?.[0];
    for (const entry of ['src/cli/main.ts', 'src/demo/demo.ts']) expect(firstImport(entry), entry).toBe("import '../v8-settings.js';");
    expect(readFileSync(join(ROOT, 'src/v8-settings.ts'), 'utf8')).toMatch(/setFlagsFromString\(flag\)/);
  });

  it('the npm scripts that start ox-batch pass it too', () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['start', 'sim', 'demo']) expect(scripts[name], name).toContain(`node ${FLAG} dist/`);
  });
});
