/**
 * Everything a feedback.export test runs against, all real: the OX simulator over HTTP, Redis
 * under a unique prefix (deleted afterwards), an fs archive folder or s3rver (behind a proxy that
 * records requests and injects 500s), smtp-server capturing mail.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plainRedis, testPrefix } from '../../daemon/helpers.js';
import { loadConfig } from '../../../src/config/load-config.js';
import type { Config } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/log/logger.js';
import { executeAttempt, type AttemptOutcome } from '../../../src/queue/attempt.js';
import { createServices, type ClosableServices } from '../../../src/services.js';
import { OxSimulator } from '../../../src/sim/ox-simulator.js';
import type { SimulatorOptions } from '../../../src/sim/sim-types.js';
import { feedbackExport } from '../../../jobs/feedback-export.js';
import { startFaultyProxy, startS3, type FaultyProxy, type TestS3 } from '../../delivery/helpers/s3-server.js';
import { startSmtpCapture, type SmtpCapture } from '../../delivery/helpers/smtp-capture.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface ExportEnv {
  sim: OxSimulator;
  smtp?: SmtpCapture;
  s3?: TestS3;
  proxy?: FaultyProxy;
  archiveDir: string;
  spoolDir: string;
  prefix: string;
  config: Config;
  services: ClosableServices;
  /** Runs feedback.export once, recorded in the ledger; a failure throws AttemptError (`permanent`). */
  run(
    window: { start: number; end: number },
    params?: Record<string, unknown>,
    options?: { scheduleId?: string; force?: boolean; attempt?: number },
  ): Promise<AttemptOutcome>;
  /** Services with other config (e.g. SMTP back up): same Redis prefix, same simulator. */
  withConfig(overrides: Record<string, unknown>): ExportEnv;
  close(): Promise<void>;
}

export interface ExportEnvOptions {
  archive?: 'fs' | 's3';
  smtp?: boolean;
  sim?: SimulatorOptions;
  /** Extra config, merged over the test defaults. */
  config?: Record<string, unknown>;
}

export async function startExportEnv(options: ExportEnvOptions = {}): Promise<ExportEnv> {
  const smtp = options.smtp ? await startSmtpCapture() : undefined;
  const sim = await OxSimulator.start({ ...options.sim, ...(smtp && !options.sim?.smtpUrl ? { smtpUrl: smtp.url } : {}) });
  const s3 = options.archive === 's3' ? await startS3() : undefined;
  const proxy = s3 ? await startFaultyProxy(s3.endpoint) : undefined;
  const archiveDir = await mkdtemp(join(tmpdir(), 'oxbt-export-archive-'));
  const spoolDir = await mkdtemp(join(tmpdir(), 'oxbt-export-spool-'));
  const prefix = testPrefix();
  const base: Record<string, unknown> = {
    ox: { url: sim.url, user: 'oxadmin', password: 'secret', retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 } },
    redis: { url: REDIS_URL, prefix },
    spool: { dir: spoolDir },
    archive: s3
      ? {
          kind: 's3',
          bucket: s3.bucket,
          endpoint: proxy!.endpoint,
          forcePathStyle: true,
          accessKeyId: 'S3RVER',
          secretAccessKey: 'S3RVER',
          partSizeBytes: 5 * 1024 * 1024,
          linkTtl: '1h',
        }
      : { kind: 'fs', dir: archiveDir },
    mail: { smtp: smtp?.url ?? '', from: 'ox-batch@example.com', to: [] },
  };
  const redis = plainRedis();
  const allServices: ClosableServices[] = [];

  const make = (overrides: Record<string, unknown>): ExportEnv => {
    const config = loadConfig({ env: {}, overrides: merge(merge(base, options.config ?? {}), overrides) });
    const services = createServices(config, { log: silentLogger(), redis });
    allServices.push(services);
    return {
      sim,
      smtp,
      s3,
      proxy,
      archiveDir,
      spoolDir,
      prefix,
      config,
      services,
      run: (window, params = {}, runOptions = {}) =>
        executeAttempt({
          kind: feedbackExport,
          services,
          window,
          params,
          scheduleId: runOptions.scheduleId ?? 'feedback-test',
          force: runOptions.force,
          // With an attempt it runs as a worker does (BullMQ counts attempts); without, as `ox-batch run`.
          ...(runOptions.attempt !== undefined ? { attempt: runOptions.attempt } : {}),
        }),
      withConfig: (more) => make(merge(overrides, more)),
      async close() {
        for (const s of allServices) await s.close();
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        await redis.quit();
        await sim.close();
        await smtp?.close();
        await proxy?.close();
        await s3?.close();
        await rm(archiveDir, { recursive: true, force: true });
        await rm(spoolDir, { recursive: true, force: true });
      },
    };
  };
  return make({});
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const prev = out[key];
    out[key] = isPlain(prev) && isPlain(value) ? merge(prev, value) : value;
  }
  return out;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every file below `dir`, relative, sorted: what a person listing the archive would see. */
export async function filesBelow(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** A plain authenticated GET of the simulator: what an operator's curl would get. */
export async function directGet(sim: OxSimulator, path: string, query: Record<string, string | number>): Promise<Buffer> {
  const url = new URL(`${sim.url}${path}`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
  const answer = await fetch(url, { headers: { authorization: `Basic ${Buffer.from('oxadmin:secret').toString('base64')}` } });
  if (answer.status !== 200) throw new Error(`direct GET ${url.pathname} answered ${answer.status}`);
  return Buffer.from(await answer.arrayBuffer());
}

/** OX's exclusive bounds for the half-open window, as any OX client must send them. */
export function oxBounds(window: { start: number; end: number }): { start: number; end: number } {
  return { start: window.start - 1, end: window.end };
}
