import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bundledCli } from '../helpers/bundle.js';
import { runChild, startChild } from '../helpers/child.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The CLI bundled from the current sources (test/helpers/bundle.ts: once per test process, plain
 * node per spawn instead of tsx compiling the sources each time). `dispose` is kept for the
 * callers; the bundle is removed when the test process exits.
 */
export async function bundleCli(): Promise<{ entry: string; dispose(): void }> {
  return { entry: await bundledCli(), dispose: () => undefined };
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
