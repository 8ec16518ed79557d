/**
 * The one way tests start child processes (the CLI, daemons, redis-server, sleepers, scripts).
 *
 * Every child:
 * - has a timeout: when it runs out, the child's whole process group is killed (SIGKILL) and
 *   `exited` reports `timedOut: true`;
 * - runs in a process group of its own (`detached`), so killing it takes along what it started
 *   (a shell's commands, a CLI's own children);
 * - never outlives its test: a child started inside a test (or its beforeEach) is killed when
 *   that test finishes, one started in beforeAll when the file's tests are done, and any still
 *   alive when the worker process exits is killed then.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { afterAll, onTestFinished } from 'vitest';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The timeout ran out and the helper killed the child. */
  timedOut: boolean;
}

export interface ChildOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the child (and its group) after this long. Every child has one. */
  timeoutMs: number;
  /** Pipe output (default) or ignore it. stdin is ignored unless `input` is given. */
  stdio?: 'pipe' | 'ignore';
  /** Written to the child's stdin, which is then closed. */
  input?: string | Buffer;
  /**
   * Who the child belongs to: `test` (killed when the current test finishes) or `file` (killed
   * after the file's tests). Default: `test` when started inside a test, else `file`. A fixture
   * of the whole file that a test restarts (a private Redis) says `file`.
   */
  scope?: 'test' | 'file';
}

/** True while a test (or its beforeEach/afterEach) runs, false in beforeAll or a describe body. */
export function insideTest(): boolean {
  try {
    onTestFinished(() => undefined);
    return true;
  } catch {
    return false;
  }
}

export interface TestChild {
  process: ChildProcess;
  pid: number;
  stdout(): string;
  stdoutBytes(): Buffer;
  stderr(): string;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  exited: Promise<ChildExit>;
  /** Sends `signal` to the child's process group (default SIGKILL) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<ChildExit>;
}

const live = new Set<TestChild>();

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already (the leader exited and took the last member with it).
    try {
      child.kill(signal);
    } catch {
      /* gone */
    }
  }
}

/** Kills every child still alive (each with its group) and waits for them to exit. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop('SIGKILL')));
}

// A child started outside a test (beforeAll, describe body) lives until the file is done.
afterAll(stopAllChildren);
// The last resort if the worker exits with children left: process.kill is synchronous.
process.once('exit', () => {
  for (const c of live) signalGroup(c.process, 'SIGKILL');
});

export function startChild(command: string, args: readonly string[], options: ChildOptions): TestChild {
  const piped = (options.stdio ?? 'pipe') === 'pipe';
  const spawnOptions: SpawnOptions = {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', piped ? 'pipe' : 'ignore', piped ? 'pipe' : 'ignore'],
  };
  const child = spawn(command, args, spawnOptions);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let both = '';
  child.stdout?.on('data', (d: Buffer) => {
    out.push(d);
    both += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err.push(d);
    both += d.toString();
  });
  let timedOut = false;
  const exited = new Promise<ChildExit>((resolve) => {
    // 'close' once the output streams are drained too, so a caller reading output after `exited` sees all of it.
    child.once('close', (code, signal) => resolve({ code, signal, timedOut }));
    // A command that cannot be started (ENOENT) emits 'error' and no 'close'.
    child.once('error', (e) => {
      if (child.pid === undefined) {
        err.push(Buffer.from(String(e)));
        resolve({ code: null, signal: null, timedOut });
      }
    });
  });
  const timer = setTimeout(() => {
    timedOut = true;
    signalGroup(child, 'SIGKILL');
  }, options.timeoutMs);
  timer.unref();
  const handle: TestChild = {
    process: child,
    pid: child.pid ?? -1,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stdoutBytes: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err).toString('utf8'),
    output: () => both,
    exited,
    async stop(signal = 'SIGKILL') {
      signalGroup(child, signal);
      return exited;
    },
  };
  live.add(handle);
  void exited.then(() => {
    clearTimeout(timer);
    // The leader is gone; kill what it may have left in its group.
    if (child.pid !== undefined)
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* no group left */
      }
    live.delete(handle);
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  // Outside a test, or a file's fixture: the file-level afterAll above stops it.
  if ((options.scope ?? (insideTest() ? 'test' : 'file')) === 'test')
    onTestFinished(async () => {
      await handle.stop('SIGKILL');
    });
  return handle;
}

/**
 * Runs a command to its end (or its timeout) and collects its output. The caller waits for it, so
 * its timeout bounds it; it is not tied to the current test, because vitest's notion of the
 * current test is global and wrong inside `describe.concurrent` (a finishing neighbour would kill
 * it). The file-level stop is its backstop.
 */
export async function runChild(
  command: string,
  args: readonly string[],
  options: ChildOptions,
): Promise<ChildExit & { stdout: string; stdoutBytes: Buffer; stderr: string }> {
  const child = startChild(command, args, { scope: 'file', ...options });
  const exit = await child.exited;
  return { ...exit, stdout: child.stdout(), stdoutBytes: child.stdoutBytes(), stderr: child.stderr() };
}

/**
 * A process that does nothing but live (until stopped, or for a minute): for tests that need a
 * real pid, alive and then dead. Resolves once the process exists.
 */
export async function startSleeper(): Promise<TestChild> {
  const sleeper = startChild(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore', timeoutMs: 60_000 });
  await new Promise<void>((resolve, reject) => {
    sleeper.process.once('spawn', () => resolve());
    sleeper.process.once('error', reject);
  });
  return sleeper;
}
