/**
 * Scheduling overhead (issue 3): no-op jobs through ox-batch's worker path — deterministic
 * window job ids, the Redis ledger (running/done), metrics — against a bare BullMQ worker with
 * the same queue options, in the same run; and the time to queue a 365-window backfill.
 * Targets: ratio >= 0.9, backfill < 1 s. Run: `npx tsx bench/scheduling.ts` or `npm run bench`.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { loadConfig } from '../src/config/load-config.js';
import type { Config } from '../src/config/schema.js';
import { defineJob } from '../src/job-kind.js';
import { RedisLedger } from '../src/ledger/redis-ledger.js';
import { silentLogger } from '../src/log/logger.js';
import { Daemon } from '../src/daemon/daemon.js';
import { enqueueWindows } from '../src/queue/enqueue.js';
import { JOB_QUEUE, createQueue, retentionOptions, type JobData } from '../src/queue/queues.js';
import { windowsBetween } from '../src/time/windows.js';
import { deleteKeysWithPrefix as deleteKeys } from '../src/redis/keys.js';

const H = 3_600_000;

const noopWindow = defineJob({
  name: 'bench.noop-window',
  description: 'does nothing, per window',
  windowed: true,
  params: z.object({}),
  run: async () => ({ rows: 0 }),
});
const noopRun = defineJob({
  name: 'bench.noop',
  description: 'does nothing',
  windowed: false,
  params: z.object({}),
  run: async () => ({}),
});

export interface ThroughputRow {
  concurrency: number;
  bareJobsPerSecond: number;
  oxbJobsPerSecond: number;
  /** CPU time per job (µs, medians): this Node process, and the Redis server (INFO cpu). */
  bareCpuUsPerJob: { node: number; redis: number };
  oxbCpuUsPerJob: { node: number; redis: number };
  /** Median of the per-round ratios (both paths run back to back in each round). */
  ratio: number;
  pass: boolean;
}

export interface SchedulingBenchResult {
  jobs: number;
  rounds: number;
  /** One row per worker concurrency; the first is the headline figure. */
  throughput: ThroughputRow[];
  backfillWindows: number;
  backfillQueueMs: number;
  targets: { ratio: number; backfillMs: number };
  pass: { ratio: boolean; backfill: boolean };
}

function config(url: string, prefix: string, concurrency: number): Config {
  return loadConfig({ env: {}, overrides: { redis: { url, prefix }, logging: { level: 'silent' }, worker: { concurrency } } });
}

interface Drain {
  jobsPerSecond: number;
  nodeCpuUs: number;
  redisCpuUs: number;
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** Times `drain` (resume the queue, wait for the last completion): jobs/s and CPU per job. */
async function timeDrain(redis: Redis, jobs: number, drain: () => Promise<void>): Promise<Drain> {
  const redisBefore = await redisCpuSeconds(redis);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await drain();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const redisSeconds = (await redisCpuSeconds(redis)) - redisBefore;
  return { jobsPerSecond: jobs / seconds, nodeCpuUs: (cpu.user + cpu.system) / jobs, redisCpuUs: (redisSeconds * 1e6) / jobs };
}

/** Jobs/s of a bare BullMQ worker draining `jobs` pre-filled no-op jobs. */
async function bareRun(url: string, jobs: number, concurrency: number): Promise<Drain> {
  const prefix = `oxbbench-${randomUUID().slice(0, 8)}`;
  const cfg = config(url, prefix, concurrency);
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue('bare', { connection: redis, prefix, defaultJobOptions: retentionOptions(cfg) });
  try {
    await fill(jobs, (batch) => queue.addBulk(batch.map((i) => ({ name: 'noop', data: { i }, opts: { jobId: `b.${i}`, attempts: 3 } }))));
    let done = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    // Start timing once the worker is connected and waiting: the queue is paused until then.
    await queue.pause();
    const worker = new Worker('bare', async () => ({}), { connection: redis, prefix, concurrency, ...retentionOptions(cfg) });
    worker.on('error', () => undefined);
    worker.on('completed', () => {
      if (++done === jobs) finish();
    });
    await worker.waitUntilReady();
    const drain = await timeDrain(redis, jobs, async () => {
      await queue.resume();
      await finished;
    });
    await worker.close();
    return drain;
  } finally {
    await queue.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  }
}

/** Jobs/s of the ox-batch daemon's worker draining `jobs` window jobs queued through enqueueWindows. */
async function oxbRun(url: string, jobs: number, concurrency: number): Promise<Drain> {
  const prefix = `oxbbench-${randomUUID().slice(0, 8)}`;
  const cfg = config(url, prefix, concurrency);
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  const queue = createQueue<JobData>(JOB_QUEUE, cfg, redis, silentLogger());
  const ledger = new RedisLedger(redis, prefix);
  try {
    const start = Date.UTC(2020, 0, 1);
    const windows = windowsBetween('1h', 'UTC', start, start + jobs * H, jobs + 1);
    await enqueueWindows(
      { queue, ledger, config: cfg },
      windows.map((window) => ({ scheduleId: noopWindow.name, kind: noopWindow, window, params: {}, attempts: 3 })),
      { concurrency: 32 },
    );
    let done = 0;
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    await queue.pause();
    const daemon = await Daemon.start({ config: cfg, kinds: [noopWindow, noopRun], role: 'worker', port: null, log: silentLogger() });
    daemon.jobWorker!.on('completed', () => {
      if (++done === jobs) finish();
    });
    await daemon.jobWorker!.waitUntilReady();
    const drain = await timeDrain(redis, jobs, async () => {
      await queue.resume();
      await finished;
    });
    await daemon.stop({ graceMs: 1000 });
    return drain;
  } finally {
    await queue.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  }
}

async function fill(jobs: number, add: (batch: number[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < jobs; i += 500) await add(Array.from({ length: Math.min(500, jobs - i) }, (_, k) => i + k));
}

/** Wall time of `ox-batch backfill` for a year of daily windows (planning + ledger + queue). */
async function backfillTime(url: string): Promise<number> {
  const prefix = `oxbbench-${randomUUID().slice(0, 8)}`;
  const cfg = config(url, prefix, 4);
  const redis = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: true });
  const queue = createQueue<JobData>(JOB_QUEUE, cfg, redis, silentLogger());
  const ledger = new RedisLedger(redis, prefix);
  try {
    await queue.waitUntilReady();
    const started = performance.now();
    const windows = windowsBetween('1d', 'Europe/Berlin', Date.UTC(2024, 11, 31, 23), Date.UTC(2025, 11, 31, 23));
    const results = await enqueueWindows(
      { queue, ledger, config: cfg },
      windows.map((window) => ({ scheduleId: 'year', kind: noopWindow, window, params: {}, attempts: 5 })),
    );
    const ms = performance.now() - started;
    if (results.filter((r) => r.status === 'queued').length !== 365) throw new Error('backfill did not queue 365 windows');
    return ms;
  } finally {
    await queue.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  }
}

export async function runSchedulingBench(
  options: { jobs?: number; concurrencies?: number[]; rounds?: number; redisUrl?: string } = {},
): Promise<SchedulingBenchResult> {
  const url = options.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const jobs = options.jobs ?? 3000;
  const rounds = options.rounds ?? 5;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const throughput: ThroughputRow[] = [];
  for (const concurrency of options.concurrencies ?? [8, 64]) {
    // Warm both paths up (JIT, Lua script cache), then alternate so load changes hit both alike.
    await bareRun(url, 300, concurrency);
    await oxbRun(url, 300, concurrency);
    const bareRuns: Drain[] = [];
    const oxbRuns: Drain[] = [];
    for (let r = 0; r < rounds; r++) {
      bareRuns.push(await bareRun(url, jobs, concurrency));
      oxbRuns.push(await oxbRun(url, jobs, concurrency));
    }
    const bare = bareRuns.map((d) => d.jobsPerSecond);
    const oxb = oxbRuns.map((d) => d.jobsPerSecond);
    // The median of per-round ratios is less sensitive to load changes on a shared machine
    // than the ratio of the medians.
    const ratio = median(bare.map((b, i) => oxb[i]! / b));
    if (process.env.OXB_BENCH_VERBOSE)
      process.stderr.write(`concurrency ${concurrency}: bare ${bare.map(Math.round).join(' ')} oxb ${oxb.map(Math.round).join(' ')}\n`);
    const cpu = (runs: Drain[]) => ({
      node: Math.round(median(runs.map((d) => d.nodeCpuUs))),
      redis: Math.round(median(runs.map((d) => d.redisCpuUs))),
    });
    throughput.push({
      concurrency,
      bareJobsPerSecond: Math.round(median(bare)),
      oxbJobsPerSecond: Math.round(median(oxb)),
      bareCpuUsPerJob: cpu(bareRuns),
      oxbCpuUsPerJob: cpu(oxbRuns),
      ratio: Math.round(ratio * 1000) / 1000,
      pass: ratio >= 0.9,
    });
  }
  const backfill = median([await backfillTime(url), await backfillTime(url), await backfillTime(url)]);
  return {
    jobs,
    rounds,
    throughput,
    backfillWindows: 365,
    backfillQueueMs: Math.round(backfill),
    targets: { ratio: 0.9, backfillMs: 1000 },
    pass: { ratio: throughput[0]!.pass, backfill: backfill < 1000 },
  };
}

export function formatSchedulingBench(r: SchedulingBenchResult): string {
  const rows = [['measure', 'value', 'target', 'ok']];
  for (const t of r.throughput) {
    rows.push(
      [`bare BullMQ worker, ${r.jobs} no-op jobs, concurrency ${t.concurrency}`, `${t.bareJobsPerSecond} jobs/s`, '', ''],
      [`  CPU per job: node / redis`, `${t.bareCpuUsPerJob.node} / ${t.bareCpuUsPerJob.redis} µs`, '', ''],
      [`ox-batch worker path (window jobs + ledger), concurrency ${t.concurrency}`, `${t.oxbJobsPerSecond} jobs/s`, '', ''],
      [`  CPU per job: node / redis`, `${t.oxbCpuUsPerJob.node} / ${t.oxbCpuUsPerJob.redis} µs`, '', ''],
      [`  ratio (median of ${r.rounds} paired rounds)`, t.ratio.toFixed(3), `>= ${r.targets.ratio}`, t.pass ? 'yes' : 'NO'],
    );
  }
  rows.push([
    `queue a ${r.backfillWindows}-window backfill`,
    `${r.backfillQueueMs} ms`,
    `< ${r.targets.backfillMs} ms`,
    r.pass.backfill ? 'yes' : 'NO',
  ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return [
    'scheduling overhead',
    ...rows.map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    ),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runSchedulingBench();
  process.stdout.write(`${formatSchedulingBench(result)}\n`);
  process.exit(0);
}
