import { randomUUID } from 'node:crypto';
import { createRedis, type RedisClient } from '../../src/redis/connection.js';
import { isClusterUrl } from '../../src/redis/target.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import type { ChildProcess } from 'node:child_process';
import { insideTest, runChild, startChild, type TestChild } from '../helpers/child.js';
import { bundled, bundledCli } from '../helpers/bundle.js';
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

export async function waitFor<T>(
  probe: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  what: string,
  timeoutMs = 15_000,
  everyMs = 50,
): Promise<T> {
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

/** Starts the test daemon child and waits until it says ready. Killed at the latest after `timeoutMs`. */
export async function startChildDaemon(
  configOverrides: Record<string, unknown>,
  env: Record<string, string> = {},
  timeoutMs = 120_000,
): Promise<Child> {
  const child = startChild(process.execPath, [await bundled(join(here, 'fixtures', 'daemon-child.ts'))], {
    cwd: ROOT,
    env: { ...process.env, OXB_TEST_CONFIG: JSON.stringify(configOverrides), ...env },
    timeoutMs,
  });
  const exited = child.exited.then(({ code, signal }) => ({ code, signal }));
  const handle: Child = { process: child.process, stderr: child.stderr, stdout: child.stdout, exited };
  await Promise.race([
    waitFor(() => /ready/.test(child.stderr()), 'child daemon ready', 20_000, 50),
    exited.then(({ code }) => {
      throw new Error(`child daemon exited early (${code}): ${child.stderr()}${child.stdout()}`);
    }),
  ]);
  handle.url = /ready (\S+)/.exec(child.stderr())?.[1];
  return handle;
}

/** Runs the real CLI (`src/cli/main.ts`, bundled from the current sources) and collects its output and exit code. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runChild(process.execPath, [await bundledCli(), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeoutMs,
  });
  return { code, stdout, stderr };
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
  let server: TestChild | undefined;
  // Started in beforeAll it serves the whole file, also after a test restarted it.
  const scope = insideTest() ? 'test' : 'file';
  const handle: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      server = startChild(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir],
        { stdio: 'ignore', timeoutMs: 300_000, scope },
      );
      const probe = plainRedis(handle.url);
      try {
        await waitFor(
          () =>
            probe.ping().then(
              () => true,
              () => false,
            ),
          `redis-server on ${port}`,
          10_000,
          50,
        );
      } finally {
        probe.disconnect();
      }
    },
    async stop() {
      const running = server;
      server = undefined;
      if (!running) return;
      await running.stop('SIGTERM');
    },
    async close() {
      await handle.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
