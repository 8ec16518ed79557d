/**
 * One world for the safety tests, all real: the OX simulator over HTTP, Redis under a prefix of
 * its own (deleted afterwards), an fs archive and spool in a temp folder, optionally a capturing
 * SMTP server, and ox-batch itself as child processes — the CLI bundled from the sources
 * (`run`, `enqueue`, `status`, …) and daemons started with `ox-batch start`.
 */
import type { ChildProcess } from 'node:child_process';
import { startChild } from '../../helpers/child.js';
import { clockEnv } from '../../helpers/clock.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../../../src/redis/connection.js';
import { RedisLedger } from '../../../src/ledger/redis-ledger.js';
import { OxSimulator } from '../../../src/sim/ox-simulator.js';
import type { SimulatorOptions } from '../../../src/sim/sim-types.js';
import { bundleCli, runCli, type CliResult } from '../../cli/cli-kit.js';
import { deleteKeys, freePort, plainRedis, REDIS_URL, testPrefix, waitFor } from '../../daemon/helpers.js';
import { startSmtpCapture, type SmtpCapture, type SmtpCaptureOptions } from '../../delivery/helpers/smtp-capture.js';
import { directGet } from '../../export/helpers/export-env.js';

export const DAY = 86_400_000;
export const HOUR = 3_600_000;

export interface DaemonProcess {
  process: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<void>;
}

export interface SafetyWorld {
  sim: OxSimulator;
  smtp?: SmtpCapture;
  redis: RedisClient;
  ledger: RedisLedger;
  prefix: string;
  dir: string;
  archiveDir: string;
  spoolDir: string;
  /** Writes a config file (YAML lines after the connection settings); returns its path. */
  config(name: string, lines: string[]): string;
  cli(configFile: string, args: string[], env?: Record<string, string>): Promise<CliResult & { json<T = unknown>(): T }>;
  startDaemon(configFile: string, args?: string[], env?: Record<string, string>): Promise<DaemonProcess>;
  /** Every row OX holds now (its raw export of everything), as an operator's curl would get it. */
  heldRows(feed?: { contextGroup?: string; type?: string }): Promise<Array<Record<string, string>>>;
  close(): Promise<void>;
}

/** Every daemon started: killed when the test process exits, also after a timed-out test. */
const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

let bundle: Promise<{ entry: string; dispose(): void }> | undefined;
let users = 0;

/** The CLI bundle, built once per test file and removed when its last world closes. */
function cliBundle(): Promise<{ entry: string; dispose(): void }> {
  users += 1;
  return (bundle ??= bundleCli());
}

/** `testClock`: the CLI and daemons run on the pinned test clock (test/helpers/clock.ts). */
export async function startSafetyWorld(
  options: { smtp?: boolean | SmtpCaptureOptions; sim?: SimulatorOptions; testClock?: boolean } = {},
): Promise<SafetyWorld> {
  const clock = options.testClock ? clockEnv() : {};
  const cli = await cliBundle();
  const smtp = options.smtp ? await startSmtpCapture(options.smtp === true ? {} : options.smtp) : undefined;
  const sim = await OxSimulator.start({ ...options.sim, ...(smtp ? { smtpUrl: smtp.url } : {}) });
  const redis = plainRedis();
  const prefix = testPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'oxbt-safety-'));
  const archiveDir = join(dir, 'archive');
  const spoolDir = join(dir, 'spool');
  const daemons: DaemonProcess[] = [];

  const world: SafetyWorld = {
    sim,
    smtp,
    redis,
    prefix,
    dir,
    archiveDir,
    spoolDir,
    ledger: new RedisLedger(redis, prefix),
    config(name, lines) {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(
        file,
        [
          `ox: { url: "${sim.url}", user: oxadmin, password: secret, retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 200 } }`,
          `redis: { url: "${REDIS_URL}", prefix: ${prefix} }`,
          ...(lines.some((l) => l.startsWith('archive:')) ? [] : [`archive: { kind: fs, dir: "${archiveDir}" }`]),
          `spool: { dir: "${spoolDir}" }`,
          ...(smtp && !lines.some((l) => l.startsWith('mail:')) ? [`mail: { smtp: "${smtp.url}", from: ox-batch@example.com }`] : []),
          ...lines,
          '',
        ].join('\n'),
      );
      return file;
    },
    async cli(configFile, args, env = {}) {
      const out = await runCli(cli.entry, ['--config', configFile, ...args], { LOG_LEVEL: 'warn', ...clock, ...env });
      return { ...out, json: <T>() => JSON.parse(out.stdout.toString()) as T };
    },
    async startDaemon(configFile, args = [], env = {}) {
      const port = await freePort();
      const daemon = startChild(process.execPath, [cli.entry, '--config', configFile, 'start', '--port', String(port), ...args], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', ...clock, ...env },
        timeoutMs: 180_000,
      });
      const child = daemon.process;
      started.add(child);
      child.once('exit', () => started.delete(child));
      const output = daemon.output;
      const exited = daemon.exited.then(({ code, signal }) => ({ code, signal }));
      const handle: DaemonProcess = {
        process: child,
        output,
        exited,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
      };
      daemons.push(handle);
      await Promise.race([
        waitFor(() => output().includes('ox-batch daemon started'), 'the daemon to start', 30_000),
        exited.then(({ code }) => {
          throw new Error(`the daemon exited early (${code}): ${output()}`);
        }),
      ]);
      return handle;
    },
    async heldRows(feed = {}) {
      const raw = await directGet(
        sim,
        `/userfeedback/v1/export/${feed.contextGroup ?? 'default'}/${feed.type ?? 'star-rating-v1'}/raw`,
        {},
      );
      return JSON.parse(raw.toString('utf8')) as Array<Record<string, string>>;
    },
    async close() {
      for (const d of daemons) await d.kill();
      await deleteKeys(redis, prefix);
      redis.disconnect();
      await sim.close();
      await smtp?.close();
      rmSync(dir, { recursive: true, force: true });
      users -= 1;
      if (users === 0 && bundle) {
        (await bundle).dispose();
        bundle = undefined;
      }
    },
  };
  return world;
}
