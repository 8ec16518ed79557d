import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { runChild, startChild } from '../helpers/child.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The CLI bundled from the current sources (esbuild, the compiler tsx uses; dependencies stay
 * external). Starting it with plain node takes a fraction of a second, where tsx compiling the
 * sources per spawn takes seconds: that keeps the spawning tests fast. Lives below node_modules
 * so the external packages resolve, and is removed by `dispose`.
 */
export async function bundleCli(): Promise<{ entry: string; dispose(): void }> {
  const dir = join(ROOT, 'node_modules', '.cache', `oxb-cli-${randomUUID().slice(0, 8)}`);
  const entry = join(dir, 'main.mjs');
  await build({
    entryPoints: [join(ROOT, 'src/cli/main.ts')],
    outfile: entry,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  return { entry, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `ox-batch ARGS` (the bundle from `bundleCli`) in a child process with only the given env. */
export async function runCli(
  entry: string,
  args: string[],
  env: Record<string, string> = {},
  input?: string,
  timeoutMs = 60_000,
): Promise<CliResult> {
  const result = await runChild(process.execPath, [entry, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env },
    input: input ?? '',
    timeoutMs,
  });
  if (result.timedOut) throw new Error(`ox-batch ${args.join(' ')} timed out after ${timeoutMs} ms: ${result.stderr}`);
  return { code: result.code, stdout: result.stdoutBytes, stderr: result.stderr };
}

export interface CliProcess {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output(): string;
}

/**
 * Starts a long-running `ox-batch ARGS` (sim, start) from the bundle; stop it with `stopCli`.
 * Killed at the latest when the test that started it ends, or after `timeoutMs`.
 */
export function spawnCli(entry: string, args: string[], env: Record<string, string> = {}, timeoutMs = 180_000): CliProcess {
  const started = startChild(process.execPath, [entry, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    timeoutMs,
  });
  return { child: started.process, output: started.output };
}

/** SIGTERM to each, newest first, and wait for it to exit. */
export async function stopCli(processes: CliProcess[]): Promise<void> {
  for (const { child } of [...processes].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

/** The URL the daemon's HTTP server logs when it listens (JSON logs, level info). */
export function listeningUrl(output: string): string | undefined {
  return /"url":"(http:\/\/[^"]+)"[^\n]*http server listening/.exec(output)?.[1];
}
