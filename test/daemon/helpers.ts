import { randomUUID } from 'node:crypto';
import { createRedis, type RedisClient } from '../../src/redis/connection.js';
import { isClusterUrl } from '../../src/redis/target.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** The Redis the suite runs against: a server, or a cluster (`redis+cluster://…`). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A prefix of its own for every test: `oxbt-1a2b3c4d`, hash-tagged (`{oxbt-1a2b3c4d}`) on a cluster. */
export function testPrefix(url = REDIS_URL): string {
  const prefix = `oxbt-${randomUUID().slice(0, 8)}`;
  return isClusterUrl(url) ? `{${prefix}}` : prefix;
}

/** Deletes every key under `prefix` (ledger and BullMQ queues). */
export { deleteKeysWithPrefix as deleteKeys } from '../../src/redis/keys.js';

/** A client for test set-up and checks: a `Cluster` for a cluster URL, like the daemon's. */
export function plainRedis(url = REDIS_URL): RedisClient {
  return createRedis(url, 'command');
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false | null> | T | undefined | false | null, what: string, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The config a test daemon runs with: its own prefix, short stall settings, quiet logs. */
export function testConfig(prefix: string, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({
    env: { REDIS_URL },
    overrides: {
      redis: { url: REDIS_URL, prefix },
      logging: { level: 'silent' },
      http: { host: '127.0.0.1', port: 0 },
      ...overrides,
    },
  });
}

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');

export interface Child {
  process: ChildProcess;
  stderr(): string;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  url?: string;
}

/** Starts the test daemon child and waits until it says ready. */
export async function startChildDaemon(configOverrides: Record<string, unknown>, env: Record<string, string> = {}): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', 'daemon-child.ts')], {
    cwd: ROOT,
    env: { ...process.env, OXB_TEST_CONFIG: JSON.stringify(configOverrides), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const handle: Child = { process: child, stderr: () => err, stdout: () => out, exited };
  await Promise.race([
    waitFor(() => /ready/.test(err), 'child daemon ready', 20_000, 50),
    exited.then(({ code }) => { throw new Error(`child daemon exited early (${code}): ${err}${out}`); }),
  ]);
  handle.url = /ready (\S+)/.exec(err)?.[1];
  return handle;
}

/** Runs the real CLI (`src/cli/main.ts`) and collects its output and exit code. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A redis-server of the test's own on a free port (AOF on, so a restart keeps the data), for
 * tests that stop and restart Redis under a running daemon. `stop()` shuts it down (SIGTERM:
 * the AOF is flushed), `start()` brings it back on the same port with the same data.
 */
export interface PrivateRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and removes its files. */
  close(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'oxb-redis-'));
  const port = await freePort();
  let server: ChildProcess | undefined;
  const handle: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' });
      const probe = plainRedis(handle.url);
      try {
        await waitFor(() => probe.ping().then(() => true, () => false), `redis-server on ${port}`, 10_000, 50);
      } finally {
        probe.disconnect();
      }
    },
    async stop() {
      const running = server;
      server = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await exited;
    },
    async close() {
      await handle.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
