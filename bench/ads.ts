/**
 * Advertisement sync benchmark (issue 6): a catalog of 100,000 users plus 50 resellers × 20
 * packages, applied in full for the first time against the OX simulator running in a child
 * process, compared with
 *   (a) a sequential loop opening a new connection per request (a shell loop around curl; a
 *       2,000-request sample, extrapolated; curl's own process start is not even counted), and
 *   (b) undici's raw request rate against the same simulator (same pool size and concurrency).
 * Then the unchanged re-sync (0 OX calls, < 2 s) and RSS during the run.
 * Run: `npm run bench -- ads`, or `npx tsx bench/ads.ts [users]` (results merged only for the
 * full 100,000).
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { loadConfig } from '../src/config/load-config.js';
import { silentLogger } from '../src/log/logger.js';
import { OxClient } from '../src/ox/ox-client.js';
import { syncAds } from '../src/ads/sync-ads.js';
import { loadCatalog } from '../src/ads/catalog-source.js';

export interface AdsBenchResult {
  users: number;
  packages: number;
  requests: number;
  concurrency: number;
  catalogBytes: number;
  firstApply: { seconds: number; requestsPerSecond: number; failed: number };
  sequentialNewConnection: { sample: number; requestsPerSecond: number; extrapolatedSeconds: number };
  /** A real `curl` process per request, as a shell loop runs it (absent when curl is missing). */
  curlLoop?: { sample: number; requestsPerSecond: number; extrapolatedSeconds: number };
  speedupVsCurlLoop?: number;
  rawUndici: { requests: number; requestsPerSecond: number };
  speedupVsSequential: number;
  ratioVsRawUndici: number;
  unchangedResync: { seconds: number; oxRequests: number; catalogLoadSeconds: number };
  /** Reading and validating the same catalog as CSV (same entries, same hashes). */
  csvCatalogLoadSeconds: number;
  /** RSS while the first apply progresses (25/50/75/100 % of entries sent): flat means no growth per request. */
  rssDuringApplyMb: number[];
  /** Heap after a full GC: before, after the first apply, after the re-sync (nothing retained between syncs). */
  heapAfterGcMb: { before: number; afterFirstApply: number; afterResync: number };
  rssMb: { beforeCatalog: number; peakDuringApply: number; afterResync: number };
  targets: { vsSequential: boolean; vsCurlLoop?: boolean; vsRawUndici: boolean; resyncUnder2s: boolean; resyncZeroCalls: boolean };
}

const AUTH = `Basic ${Buffer.from('oxadmin:secret').toString('base64')}`;
const RESELLERS = 50;
const PACKAGES_PER_RESELLER = 20;
const USERS_PER_CONTEXT = 1000;
/** Every tenth user is addressed by login, the others by id. */
const BY_LOGIN_EVERY = 10;

function userAt(i: number) {
  const contextId = 1000 + Math.floor(i / USERS_PER_CONTEXT);
  const userId = (i % USERS_PER_CONTEXT) + 1;
  return { contextId, userId, login: `user${userId}@ctx${contextId}.example`, byLogin: i % BY_LOGIN_EVERY === 0 };
}

function catalogCsv(users: number): string {
  const cell = (value: unknown) => `"${JSON.stringify(value).replace(/"/g, '""')}"`;
  const lines = ['scope,reseller,package,context_id,user_id,login,config'];
  for (let r = 0; r < RESELLERS; r += 1) {
    for (let p = 0; p < PACKAGES_PER_RESELLER; p += 1) {
      lines.push(
        `package,${r === 0 ? 'default' : `reseller-${r}`},package-${p},,,,${cell({ banner: `https://ads.example/r${r}/p${p}.json`, refreshMinutes: 15 + p, positions: ['top', 'sidebar'] })}`,
      );
    }
  }
  for (let i = 0; i < users; i += 1) {
    const u = userAt(i);
    const config = cell({ banner: `https://ads.example/campaign-${i % 97}.json`, refreshMinutes: 30 });
    lines.push(u.byLogin ? `name,,,${u.contextId},,${u.login},${config}` : `user,,,${u.contextId},${u.userId},,${config}`);
  }
  return `${lines.join('\n')}\n`;
}

function catalogJson(users: number): string {
  const resellers: Record<string, { packages: Record<string, { config: unknown }> }> = {};
  for (let r = 0; r < RESELLERS; r += 1) {
    const packages: Record<string, { config: unknown }> = {};
    for (let p = 0; p < PACKAGES_PER_RESELLER; p += 1) {
      packages[`package-${p}`] = {
        config: { banner: `https://ads.example/r${r}/p${p}.json`, refreshMinutes: 15 + p, positions: ['top', 'sidebar'] },
      };
    }
    resellers[r === 0 ? 'default' : `reseller-${r}`] = { packages };
  }
  const lines: string[] = [];
  for (let i = 0; i < users; i += 1) {
    const u = userAt(i);
    const config = { banner: `https://ads.example/campaign-${i % 97}.json`, refreshMinutes: 30 };
    lines.push(
      JSON.stringify(u.byLogin ? { contextId: u.contextId, login: u.login, config } : { contextId: u.contextId, userId: u.userId, config }),
    );
  }
  return `{"resellers": ${JSON.stringify(resellers, null, 1)},\n"users": [\n${lines.join(',\n')}\n]}\n`;
}

/** The simulator in its own process, so its CPU is not the benchmark's CPU. */
async function startSimulatorChild(users: number): Promise<{ url: string; child: ChildProcess; requestCount(): Promise<number> }> {
  const child = fork(fileURLToPath(import.meta.url), ['--simulator-child', String(users)], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`simulator child exited with ${code}`)));
  });
  const requestCount = () =>
    new Promise<number>((resolve) => {
      child.once('message', (m) => resolve((m as { requests: number }).requests));
      child.send('count');
    });
  return { url, child, requestCount };
}

async function simulatorChild(users: number): Promise<void> {
  const { OxSimulator } = await import('../src/sim/ox-simulator.js');
  const sim = await OxSimulator.start();
  for (let i = 0; i < users; i += 1) {
    const u = userAt(i);
    if (u.byLogin) sim.addUser({ contextId: u.contextId, userId: u.userId, login: u.login });
  }
  process.on('message', (m) => {
    if (m === 'count') process.send!({ requests: sim.requests.length });
  });
  process.on('disconnect', () => void sim.close().then(() => process.exit(0)));
  process.send!({ url: sim.url });
}

/** (a): what `while read …; do curl -X PUT …; done` does, minus curl's process start. */
async function sequentialNewConnection(url: string, sample: number): Promise<number> {
  const target = new URL('/advertisement/v1/config/user', url);
  const started = performance.now();
  for (let i = 0; i < sample; i += 1) {
    await new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ banner: 'sequential', i });
      const req = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: 'PUT',
          agent: false,
          path: `${target.pathname}?contextId=9001&userId=${i + 1}`,
          headers: {
            authorization: AUTH,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            connection: 'close',
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode! < 300 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
  return sample / ((performance.now() - started) / 1000);
}

/** (a), literally: `for …; do curl -s -X PUT …; done`, one curl process and connection per request. */
async function curlLoop(url: string, sample: number): Promise<number | undefined> {
  const run = (args: string[]) =>
    new Promise<void>((resolve, reject) => {
      execFile('curl', args, (err, stdout) =>
        err ? reject(err) : stdout.trim().startsWith('2') ? resolve() : reject(new Error(`HTTP ${stdout}`)),
      );
    });
  const available = await new Promise<boolean>((resolve) => execFile('curl', ['--version'], (err) => resolve(!err)));
  if (!available) return undefined;
  const started = performance.now();
  for (let i = 0; i < sample; i += 1) {
    await run([
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-X',
      'PUT',
      '-u',
      'oxadmin:secret',
      '-H',
      'content-type: application/json',
      '--data',
      JSON.stringify({ banner: 'curl', i }),
      `${url}/advertisement/v1/config/user?contextId=9003&userId=${i + 1}`,
    ]);
  }
  return sample / ((performance.now() - started) / 1000);
}

/** (b): undici's own rate, same pool size and concurrency, no catalog, state or retries. */
async function rawUndici(url: string, requests: number, concurrency: number, connections: number): Promise<number> {
  const pool = new Pool(url, { connections, pipelining: 1 });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next;
        next += 1;
        const res = await pool.request({
          method: 'PUT',
          path: `/advertisement/v1/config/user?contextId=9002&userId=${i + 1}`,
          headers: { authorization: AUTH, 'content-type': 'application/json' },
          body: JSON.stringify({ banner: 'raw', i }),
        });
        await res.body.dump();
        if (res.statusCode >= 300) throw new Error(`HTTP ${res.statusCode}`);
      }
    }),
  );
  const rate = requests / ((performance.now() - started) / 1000);
  await pool.close();
  return rate;
}

const mb = (bytes: number) => Math.round(bytes / 1e6);

/** A full GC without --expose-gc on the command line (`npm run bench` runs plain node). */
function fullGc(): void {
  v8.setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

export async function runAdsBench(options: { users?: number } = {}): Promise<AdsBenchResult> {
  const users = options.users ?? 100_000;
  const packages = RESELLERS * PACKAGES_PER_RESELLER;
  const sim = await startSimulatorChild(users);
  const dir = await mkdtemp(join(tmpdir(), 'oxb-bench-ads-'));
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `oxbbench-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(redisUrl);
  let oxRequests = 0;
  const config = loadConfig({
    env: {},
    overrides: { ox: { url: sim.url, user: 'oxadmin', password: 'secret' }, redis: { url: redisUrl, prefix }, ads: { ratePerSecond: 0 } },
  });
  const ox = new OxClient(config.ox, {
    observer: () => {
      oxRequests += 1;
    },
  });
  try {
    const catalogPath = join(dir, 'catalog.json');
    const text = catalogJson(users);
    await writeFile(catalogPath, text);
    fullGc();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 100);
    const context = { config, redis, log: silentLogger() };
    const rssDuringApply: number[] = [];
    const onProgress = ({ done, total }: { done: number; total: number }) => {
      if (done >= ((rssDuringApply.length + 1) / 4) * total) rssDuringApply.push(mb(process.memoryUsage().rss));
    };

    const firstStarted = performance.now();
    const first = await syncAds({ catalog: catalogPath }, ox, { ...context, onProgress });
    const firstSeconds = (performance.now() - firstStarted) / 1000;
    clearInterval(sampler);
    fullGc();
    const heapAfterFirst = process.memoryUsage().heapUsed;
    const requests = first.applied!.requests;

    const before = await sim.requestCount();
    oxRequests = 0;
    const resyncStarted = performance.now();
    await syncAds({ catalog: catalogPath }, ox, context);
    const resyncSeconds = (performance.now() - resyncStarted) / 1000;
    const resyncCalls = Math.max(oxRequests, (await sim.requestCount()) - before);
    const rssAfterResync = process.memoryUsage().rss;
    fullGc();
    const heapAfterResync = process.memoryUsage().heapUsed;
    const loadStarted = performance.now();
    await loadCatalog(catalogPath);
    const catalogLoadSeconds = (performance.now() - loadStarted) / 1000;
    const csvPath = join(dir, 'catalog.csv');
    await writeFile(csvPath, catalogCsv(users));
    const csvStarted = performance.now();
    const csvCatalog = await loadCatalog(csvPath);
    const csvCatalogLoadSeconds = (performance.now() - csvStarted) / 1000;
    if (csvCatalog.entries.length !== users + packages) throw new Error(`CSV catalog has ${csvCatalog.entries.length} entries`);

    const sample = 2000;
    const sequentialRate = await sequentialNewConnection(sim.url, sample);
    const curlSample = 300;
    const curlRate = await curlLoop(sim.url, curlSample);
    const undiciRate = await rawUndici(sim.url, Math.min(requests, 30_000), config.ads.concurrency, config.ox.pool.connections);
    const ourRate = requests / firstSeconds;

    return {
      users,
      packages,
      requests,
      concurrency: config.ads.concurrency,
      catalogBytes: text.length,
      firstApply: { seconds: firstSeconds, requestsPerSecond: ourRate, failed: first.applied!.failed },
      sequentialNewConnection: { sample, requestsPerSecond: sequentialRate, extrapolatedSeconds: requests / sequentialRate },
      rawUndici: { requests: Math.min(requests, 30_000), requestsPerSecond: undiciRate },
      ...(curlRate
        ? {
            curlLoop: { sample: curlSample, requestsPerSecond: curlRate, extrapolatedSeconds: requests / curlRate },
            speedupVsCurlLoop: ourRate / curlRate,
          }
        : {}),
      speedupVsSequential: ourRate / sequentialRate,
      ratioVsRawUndici: ourRate / undiciRate,
      unchangedResync: { seconds: resyncSeconds, oxRequests: resyncCalls, catalogLoadSeconds },
      csvCatalogLoadSeconds,
      rssDuringApplyMb: rssDuringApply,
      heapAfterGcMb: { before: mb(heapBefore), afterFirstApply: mb(heapAfterFirst), afterResync: mb(heapAfterResync) },
      rssMb: { beforeCatalog: mb(rssBefore), peakDuringApply: mb(peak), afterResync: mb(rssAfterResync) },
      targets: {
        vsSequential: ourRate / sequentialRate >= 20,
        ...(curlRate ? { vsCurlLoop: ourRate / curlRate >= 20 } : {}),
        vsRawUndici: ourRate / undiciRate >= 0.7,
        resyncUnder2s: resyncSeconds < 2,
        resyncZeroCalls: resyncCalls === 0,
      },
    };
  } finally {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await ox.close();
    sim.child.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatAdsBench(r: AdsBenchResult): string {
  const ok = (pass: boolean) => (pass ? 'ok' : 'MISSED');
  return [
    `ads sync: ${r.users.toLocaleString('en')} users + ${r.packages} packages (${(r.catalogBytes / 1e6).toFixed(1)} MB JSON catalog), concurrency ${r.concurrency}, no rate cap`,
    `  first full apply   ${r.requests.toLocaleString('en')} requests in ${r.firstApply.seconds.toFixed(1)} s = ${Math.round(r.firstApply.requestsPerSecond)} req/s (failed ${r.firstApply.failed})`,
    `  (a) sequential, new connection per request: ${Math.round(r.sequentialNewConnection.requestsPerSecond)} req/s (sample of ${r.sequentialNewConnection.sample}; ${Math.round(r.sequentialNewConnection.extrapolatedSeconds)} s extrapolated) → ${r.speedupVsSequential.toFixed(1)}× [target ≥ 20×: ${ok(r.targets.vsSequential)}]`,
    ...(r.curlLoop
      ? [
          `  (a) curl process per request (shell loop): ${Math.round(r.curlLoop.requestsPerSecond)} req/s (sample of ${r.curlLoop.sample}; ${Math.round(r.curlLoop.extrapolatedSeconds)} s extrapolated) → ${r.speedupVsCurlLoop!.toFixed(1)}× [target ≥ 20×: ${ok(r.targets.vsCurlLoop!)}]`,
        ]
      : []),
    `  (b) raw undici, same pool: ${Math.round(r.rawUndici.requestsPerSecond)} req/s (${r.rawUndici.requests.toLocaleString('en')} requests) → ${r.ratioVsRawUndici.toFixed(2)}× [target ≥ 0.7×: ${ok(r.targets.vsRawUndici)}]`,
    `  unchanged re-sync  ${r.unchangedResync.seconds.toFixed(2)} s (catalog load alone ${r.unchangedResync.catalogLoadSeconds.toFixed(2)} s), ${r.unchangedResync.oxRequests} OX requests [target < 2 s and 0: ${ok(r.targets.resyncUnder2s && r.targets.resyncZeroCalls)}]`,
    `  catalog load       JSON ${r.unchangedResync.catalogLoadSeconds.toFixed(2)} s, the same as CSV ${r.csvCatalogLoadSeconds.toFixed(2)} s (read, parse, validate, hash)`,
    `  RSS MB             before ${r.rssMb.beforeCatalog}; during apply at 25/50/75/100 %: ${r.rssDuringApplyMb.join(' / ')}; peak ${r.rssMb.peakDuringApply}; after re-sync ${r.rssMb.afterResync}`,
    `  heap after GC MB   before ${r.heapAfterGcMb.before}, after apply ${r.heapAfterGcMb.afterFirstApply}, after re-sync ${r.heapAfterGcMb.afterResync}`,
  ].join('\n');
}

/**
 * Standalone runs merge their section into bench/results.json like bench/run.ts does. (Importing
 * run.ts's helper here would deadlock: run.ts imports this module from its top-level await.)
 */
async function mergeAdsResults(result: AdsBenchResult): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const file = here.includes(join('dist', 'bench')) ? join(here, '..', '..', 'bench', 'results.json') : join(here, 'results.json');
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // First benchmark to write the file.
  }
  all.ads = { ...result, measuredAt: new Date().toISOString() };
  await writeFile(file, `${JSON.stringify(all, null, 2)}\n`);
}

if (process.argv[2] === '--simulator-child') {
  await simulatorChild(Number(process.argv[3]));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runAdsBench({ users: process.argv[2] ? Number(process.argv[2]) : undefined });
  console.log(formatAdsBench(result));
  if (!process.argv[2]) await mergeAdsResults(result);
}
