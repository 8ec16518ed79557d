/**
 * One world for tests that drive the real CLI (the esbuild bundle) against the OX simulator: the
 * simulator in this process, a Redis prefix of its own, a scratch folder with a config file
 * (fs archive and spool in it, plus what the test adds), and the environment a child needs.
 */
import type { ChildProcess } from 'node:child_process';
import { startChild } from '../helpers/child.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../../src/redis/connection.js';
import { OxSimulator, type SimulatorOptions } from '../../src/sim/ox-simulator.js';
import { deleteKeys, plainRedis, REDIS_URL, ROOT, testPrefix } from '../daemon/helpers.js';
import { bundleCli, runCli, type CliResult } from './cli-kit.js';

export const DAY = 86_400_000;
/** Midnight UTC twenty days ago: the windows of a test starting here are long closed. */
export const D0 = Math.floor(Date.now() / DAY) * DAY - 20 * DAY;
export const iso = (ms: number) => new Date(ms).toISOString();

export interface CliWorld {
  sim: OxSimulator;
  redis: RedisClient;
  prefix: string;
  dir: string;
  /** The folders the config points at. */
  archiveDir: string;
  spoolDir: string;
  env: Record<string, string>;
  /** `ox-batch ARGS`, waited for. */
  cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** `ox-batch ARGS` as a process the test may kill; killed at close. */
  start(args: string[]): ChildProcess;
  close(): Promise<void>;
}

/** `configYaml` is appended to the config file (after `archive:` and `spool:`). */
export async function startCliWorld(options: { sim?: SimulatorOptions; configYaml?: string; name: string }): Promise<CliWorld> {
  const [bundle, sim] = await Promise.all([bundleCli(), OxSimulator.start(options.sim)]);
  const redis = plainRedis();
  const prefix = testPrefix();
  const dir = await mkdtemp(join(tmpdir(), `oxbt-${options.name}-`));
  const archiveDir = join(dir, 'archive');
  const spoolDir = join(dir, 'spool');
  const configFile = join(dir, 'config.yaml');
  await writeFile(
    configFile,
    `archive: { kind: fs, dir: ${JSON.stringify(archiveDir)} }\nspool: { dir: ${JSON.stringify(spoolDir)} }\n${options.configYaml ?? ''}`,
  );
  const env = {
    OXB_CONFIG: configFile,
    OX_URL: sim.url,
    OX_USER: 'oxadmin',
    OX_PASSWORD: 'secret',
    REDIS_URL,
    OXB_REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    OXB_HTTP_PORT: '0',
  };
  const children: ChildProcess[] = [];
  return {
    sim,
    redis,
    prefix,
    dir,
    archiveDir,
    spoolDir,
    env,
    cli: (args, extraEnv = {}) => runCli(bundle.entry, args, { ...env, ...extraEnv }),
    start(args) {
      const child = startChild(process.execPath, [bundle.entry, ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
        stdio: 'ignore',
        timeoutMs: 180_000,
      }).process;
      children.push(child);
      return child;
    },
    async close() {
      for (const child of children) await stopProcess(child, 'SIGKILL');
      await deleteKeys(redis, prefix);
      redis.disconnect();
      await sim.close();
      await rm(dir, { recursive: true, force: true });
      bundle.dispose();
    },
  };
}

/** Sends `signal` and waits for the exit (at once when it is gone already). */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}
