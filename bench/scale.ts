/**
 * Scaling (issue 16): a year of hourly feedback.export windows (8,760) backfilled with 1, 2 and
 * 4 worker processes (`ox-batch start --role worker`, worker.concurrency 4), every process
 * started the way an operator starts it: the OX simulator (`ox-batch sim`, answering each
 * request after 50 ms, 20 rows per window), a Redis server of the bench's own (its CPU is the
 * bench's alone), `ox-batch backfill`, the fs archive.
 *
 * Reported per run: windows/s and total time (from the backfill command's start to the last
 * window done in the ledger), the speed-up against 1 process, CPU per window of the workers,
 * Redis, the simulator and this process (Linux /proc), how busy the machine's cores were (ours
 * and everybody else's), the engine's per-window overhead and Redis memory per window; then
 * what `ledger.keepDone` frees.
 *
 * Engine overhead of a window = the time BullMQ's worker spends on it (job.finishedOn −
 * job.processedOn: from taking the job off the queue to asking Redis to complete it, the
 * worker's clock, ms) minus the export itself (the job's own run time, `runMs` on the "job
 * done" log line, less the ledger delivery-log calls inside it, `deliveryLogMs`): what is left
 * is the queue, the ledger (begin, done, delivery records), params and logging.
 *
 * `npm run bench -- scale` (minutes); `npm run bench -- scale --quick` (a smoke run, results
 * not written).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { RedisLedger } from '../src/ledger/redis-ledger.js';
import { closeRedis, createRedis, type RedisClient } from '../src/redis/connection.js';
import { deleteKeysWithPrefix, keysWithPrefix } from '../src/redis/keys.js';

const H = 3_600_000;
const DAY = 24 * H;
const FROM = Date.UTC(2025, 0, 1);

export interface ScaleOptions {
  quick?: boolean;
  windows?: number;
  processes?: number[];
  concurrency?: number;
  latencyMs?: number;
  rowsPerWindow?: number;
}

interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export interface ScaleRun {
  processes: number;
  windows: number;
  seconds: number;
  windowsPerSecond: number;
  /** Time `ox-batch backfill` took to queue every window. */
  queueSeconds: number;
  speedUp: number;
  /** CPU ms per window: all worker processes, the Redis server, the simulator, this process. */
  cpuMsPerWindow: { workers: number; redis: number; simulator: number; bench: number };
  /** Average busy cores while it ran: ours (the four above) and the whole machine's. */
  cores: { ours: number; machine: number; available: number };
  loadAverage: [number, number];
  /** Engine overhead per window (see the header) and the worker's time per window. */
  overheadMs: Percentiles;
  workerMsPerWindow: Percentiles;
  /** Windows the overhead figures cover (completed jobs joined with their "job done" line). */
  measured: number;
  memory: { ledgerBytesPerWindow: number; queueBytesPerJob: number; usedMemoryDeltaBytes: number };
}

export interface ScaleBenchResult {
  quick: boolean;
  windows: number;
  concurrency: number;
  latencyMs: number;
  rowsPerWindow: number;
  runs: ScaleRun[];
  keepDone: {
    keptWindows: number;
    trimmedWindows: number;
    ledgerBytesBefore: number;
    ledgerBytesAfter: number;
    watermarkUnchanged: boolean;
  };
  targets: { speedUp4: number; overheadP99Ms: number };
  pass: { speedUp4?: boolean; overheadP99: boolean };
  node: string;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const inDist = here.includes(`${join('dist', 'bench')}`);
const ROOT = inDist ? join(here, '..', '..') : join(here, '..');

/** `ox-batch ARGS` as an operator runs it: the built CLI, or the sources through tsx. */
function cli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const entry = inDist ? [join(ROOT, 'dist', 'src', 'cli', 'main.js')] : ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts')];
  return spawn(process.execPath, [...entry, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ChildProcess): { out: () => string; err: () => string; exited: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { out: () => out, err: () => err, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function until<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`scale bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

let clockTicks: number | undefined;
/** CPU seconds (user + system) of a process from /proc; NaN where there is no /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machineTicks(): { busy: number; total: number } {
  try {
    const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - v[3]! - v[4]!, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: NaN, p99: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const round = (x: number) => Math.round(x * 100) / 100;
  return { p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted.at(-1)!) };
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Sum of MEMORY USAGE over keys (pipelined), every field counted (`SAMPLES 0`): the default
 * samples 5 fields of a hash and extrapolates, which over- or under-counts a window record by
 * whether its large `result` field happens to be among them.
 */
async function memoryOf(redis: RedisClient, keys: string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = redis.pipeline();
    for (const key of keys.slice(i, i + 1000)) batch.memory('USAGE', key, 'SAMPLES', 0);
    for (const [, bytes] of (await batch.exec()) ?? []) total += Number(bytes ?? 0);
  }
  return total;
}

async function usedMemory(redis: RedisClient): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? NaN);
}

export async function runScaleBench(options: ScaleOptions = {}): Promise<ScaleBenchResult> {
  const quick = options.quick === true;
  const windows = options.windows ?? (quick ? 96 : 8760);
  const processes = options.processes ?? (quick ? [1, 2] : [1, 2, 4]);
  const concurrency = options.concurrency ?? 4;
  const latencyMs = options.latencyMs ?? 50;
  const rowsPerWindow = options.rowsPerWindow ?? 20;
  const to = FROM + windows * H;
  const work = await mkdtemp(join(tmpdir(), 'oxb-bench-scale-'));
  const children: ChildProcess[] = [];
  const redisPort = await freePort();
  const redisServer = spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', work],
    { stdio: 'ignore' },
  );
  children.push(redisServer);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const redis = createRedis(redisUrl, 'command');
  const runs: ScaleRun[] = [];
  let keepDone: ScaleBenchResult['keepDone'] | undefined;
  try {
    await until(
      () =>
        redis.ping().then(
          () => true,
          () => false,
        ),
      'the bench Redis',
      10_000,
    );
    const sim = cli(
      [
        'sim',
        '--port',
        '0',
        '--feedback-rows',
        String(windows * rowsPerWindow),
        '--from',
        new Date(FROM).toISOString(),
        '--to',
        new Date(to).toISOString(),
        '--latency-ms',
        String(latencyMs),
      ],
      {},
    );
    children.push(sim);
    const simOut = collect(sim);
    const simUrl = await until(() => /^(http:\/\/\S+)$/m.exec(simOut.out())?.[1], `the simulator (${simOut.err()})`, 60_000);

    for (const count of processes) {
      const prefix = `oxbbench-scale-${randomUUID().slice(0, 8)}`;
      const archiveDir = join(work, `archive-${count}`);
      const configFile = join(work, `scale-${count}.yaml`);
      await writeFile(
        configFile,
        [
          `ox: { url: "${simUrl}", user: oxadmin, password: secret }`,
          `redis: { url: "${redisUrl}", prefix: "${prefix}" }`,
          `archive: { kind: fs, dir: "${archiveDir}" }`,
          'http: { host: 127.0.0.1 }',
          // Every completed job is kept so its BullMQ timestamps can be read (default: 1000).
          `worker: { concurrency: ${concurrency}, keepCompleted: { age: 1d, count: ${windows + 100} } }`,
          'logging: { level: info }',
          'schedules:',
          '  hourly: { job: feedback.export, cron: "0 3 1 1 *", window: 1h, params: { deliver: [archive] } }',
          '',
        ].join('\n'),
      );
      const env = { OXB_CONFIG: configFile, REDIS_URL: redisUrl, OXB_REDIS_PREFIX: prefix, LOG_LEVEL: 'info' };
      const workers = Array.from({ length: count }, () => cli(['start', '--role', 'worker', '--port', '0'], env));
      children.push(...workers);
      const logs = workers.map(collect);
      for (const log of logs) await until(() => log.out().includes('ox-batch daemon started'), `a worker to start (${log.err()})`, 60_000);

      const memoryBefore = await usedMemory(redis);
      const cpuBefore = {
        workers: workers.map((w) => cpuSeconds(w.pid)),
        redis: cpuSeconds(redisServer.pid),
        sim: cpuSeconds(sim.pid),
        bench: process.cpuUsage(),
        machine: machineTicks(),
      };
      const started = performance.now();
      const backfill = cli(['backfill', 'hourly', '--from', new Date(FROM).toISOString(), '--to', new Date(to).toISOString()], env);
      const backfillOut = collect(backfill);
      const ledger = new RedisLedger(redis, prefix);
      const backfillCode = await backfillOut.exited;
      if (backfillCode !== 0) throw new Error(`scale bench: backfill exited ${backfillCode}: ${backfillOut.err()}`);
      const queueSeconds = (performance.now() - started) / 1000;
      // Polled cheaply (two counters); BullMQ completes a job after the ledger has it done.
      const queue = new Queue('jobs', { connection: redis, prefix });
      await until(
        async () => {
          if ((await queue.getFailedCount()) > 0)
            throw new Error(`scale bench: jobs failed: ${JSON.stringify((await queue.getFailed(0, 2)).map((j) => j.failedReason))}`);
          return (await queue.getCompletedCount()) >= windows;
        },
        'every window done',
        30 * 60_000,
        100,
      );
      const seconds = (performance.now() - started) / 1000;
      const machine = machineTicks();
      const benchCpu = process.cpuUsage(cpuBefore.bench);
      const cpu = {
        workers: workers.reduce((sum, w, i) => sum + cpuSeconds(w.pid) - cpuBefore.workers[i]!, 0),
        redis: cpuSeconds(redisServer.pid) - cpuBefore.redis,
        simulator: cpuSeconds(sim.pid) - cpuBefore.sim,
        bench: (benchCpu.user + benchCpu.system) / 1e6,
      };
      const usedAfter = await usedMemory(redis);

      const ledgerKeys = (await keysWithPrefix(redis, `${prefix}:ledger`)).filter((k) => /:ledger:[wd]:hourly:/.test(k));
      const ledgerBytes = await memoryOf(redis, ledgerKeys);
      const queueKeys = await keysWithPrefix(redis, `${prefix}:jobs`);
      const queueBytes = await memoryOf(redis, queueKeys);
      if ((await ledger.watermark('hourly', FROM)) < to) throw new Error('scale bench: the ledger does not have every window done');
      const times = new Map<string, number>();
      for (let i = 0; i < windows; i += 1000) {
        for (const job of await queue.getJobs(['completed'], i, i + 999)) {
          if (job?.id && job.processedOn && job.finishedOn) times.set(job.id, job.finishedOn - job.processedOn);
        }
      }
      await queue.close();
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(logs.map((l) => l.exited));

      const overhead: number[] = [];
      for (const log of logs) {
        for (const line of log.out().split('\n')) {
          if (!line.includes('"msg":"job done"')) continue;
          const entry = JSON.parse(line) as { jobId?: string; runMs?: number; deliveryLogMs?: number };
          const workerMs = entry.jobId === undefined ? undefined : times.get(entry.jobId);
          if (workerMs === undefined || entry.runMs === undefined) continue;
          overhead.push(workerMs - (entry.runMs - (entry.deliveryLogMs ?? 0)));
        }
      }
      const ours = (cpu.workers + cpu.redis + cpu.simulator + cpu.bench) / seconds;
      const ticks = { busy: machine.busy - cpuBefore.machine.busy, total: machine.total - cpuBefore.machine.total };
      const available = cpus().length;
      const perWindow = (s: number) => Math.round((s * 1000 * 1000) / windows) / 1000;
      runs.push({
        processes: count,
        windows,
        seconds: Math.round(seconds * 10) / 10,
        windowsPerSecond: Math.round((windows / seconds) * 10) / 10,
        queueSeconds: Math.round(queueSeconds * 10) / 10,
        speedUp: 1,
        cpuMsPerWindow: {
          workers: perWindow(cpu.workers),
          redis: perWindow(cpu.redis),
          simulator: perWindow(cpu.simulator),
          bench: perWindow(cpu.bench),
        },
        cores: { ours: Math.round(ours * 100) / 100, machine: Math.round((ticks.busy / ticks.total) * available * 100) / 100, available },
        loadAverage: [Math.round(loadavg()[0]! * 10) / 10, Math.round(loadavg()[1]! * 10) / 10],
        overheadMs: percentiles(overhead),
        workerMsPerWindow: percentiles([...times.values()]),
        measured: overhead.length,
        memory: {
          ledgerBytesPerWindow: Math.round(ledgerBytes / windows),
          queueBytesPerJob: Math.round(queueBytes / windows),
          usedMemoryDeltaBytes: usedAfter - memoryBefore,
        },
      });

      if (count === processes.at(-1)) {
        // ledger.keepDone on this ledger: keep the newest 30 days (or half of a quick run).
        const keepMs = quick ? (windows / 2) * H : 30 * DAY;
        const watermark = await ledger.watermark('hourly', FROM);
        const trimmedWindows = await ledger.trimDone('hourly', FROM, to - keepMs, { maxWindows: windows });
        const kept = (await keysWithPrefix(redis, `${prefix}:ledger`)).filter((k) => /:ledger:[wd]:hourly:/.test(k));
        keepDone = {
          keptWindows: (await ledger.listWindows('hourly')).length,
          trimmedWindows,
          ledgerBytesBefore: ledgerBytes,
          ledgerBytesAfter: await memoryOf(redis, kept),
          watermarkUnchanged: (await ledger.watermark('hourly', FROM)) === watermark,
        };
      }
      await deleteKeysWithPrefix(redis, prefix);
      await rm(archiveDir, { recursive: true, force: true });
    }
  } finally {
    for (const child of children.reverse()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await closeRedis(redis);
    await new Promise((r) => setTimeout(r, 200));
    if (redisServer.exitCode === null) redisServer.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  }
  const base = runs[0]!.windowsPerSecond;
  for (const run of runs) run.speedUp = Math.round((run.windowsPerSecond / base) * 100) / 100;
  const four = runs.find((r) => r.processes === 4);
  const targets = { speedUp4: 3, overheadP99Ms: 5 };
  return {
    quick,
    windows,
    concurrency,
    latencyMs,
    rowsPerWindow,
    runs,
    keepDone: keepDone!,
    targets,
    pass: {
      ...(four ? { speedUp4: four.speedUp >= targets.speedUp4 } : {}),
      overheadP99: runs.every((r) => r.overheadMs.p99 < targets.overheadP99Ms),
    },
    node: process.version,
  };
}

export function formatScaleBench(r: ScaleBenchResult): string {
  const header = [
    'worker processes',
    'windows/s',
    'total s',
    'queued in s',
    'speed-up',
    'CPU ms/window: workers / redis / sim / bench',
    'busy cores: ours / machine',
    'overhead p50 / p99 ms',
    'worker ms/window p50 / p99',
  ];
  const rows = r.runs.map((run) => [
    `${run.processes} × concurrency ${r.concurrency}`,
    String(run.windowsPerSecond),
    String(run.seconds),
    String(run.queueSeconds),
    `${run.speedUp}×`,
    `${run.cpuMsPerWindow.workers} / ${run.cpuMsPerWindow.redis} / ${run.cpuMsPerWindow.simulator} / ${run.cpuMsPerWindow.bench}`,
    `${run.cores.ours} / ${run.cores.machine} of ${run.cores.available}`,
    `${run.overheadMs.p50} / ${run.overheadMs.p99}`,
    `${run.workerMsPerWindow.p50} / ${run.workerMsPerWindow.p99}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const last = r.runs.at(-1)!;
  const cpuPerWindow = last.cpuMsPerWindow.workers + last.cpuMsPerWindow.redis + last.cpuMsPerWindow.simulator + last.cpuMsPerWindow.bench;
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'met' : 'MISSED');
  return [
    `scale: ${r.windows.toLocaleString('en')} hourly feedback.export windows, ${r.rowsPerWindow} rows each, OX answering after ${r.latencyMs} ms${r.quick ? ' (quick run)' : ''}`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    `CPU bound at ${last.processes} processes: ${cpuPerWindow.toFixed(2)} CPU ms per window → at most ${Math.round((last.cores.available * 1000) / cpuPerWindow)} windows/s on ${last.cores.available} idle cores; other load took ${Math.max(0, last.cores.machine - last.cores.ours).toFixed(2)} cores (load average ${last.loadAverage.join(', ')})`,
    `overhead = BullMQ worker time (finishedOn - processedOn) - (runMs - deliveryLogMs of the "job done" line), ${last.measured} of ${r.windows} windows joined`,
    `Redis per window: ledger ${(last.memory.ledgerBytesPerWindow / 1024).toFixed(2)} KB (record + delivery log, MEMORY USAGE), BullMQ ${(last.memory.queueBytesPerJob / 1024).toFixed(2)} KB per retained completed job (kept here for the timing; worker.keepCompleted keeps 1000 by default)`,
    `ledger.keepDone: ${r.keepDone.trimmedWindows} windows trimmed, ${r.keepDone.keptWindows} kept: ledger ${(r.keepDone.ledgerBytesBefore / 1048576).toFixed(1)} MB → ${(r.keepDone.ledgerBytesAfter / 1048576).toFixed(1)} MB, watermark ${r.keepDone.watermarkUnchanged ? 'unchanged' : 'MOVED'}`,
    `targets: 4 processes >= ${r.targets.speedUp4}× one: ${verdict(r.pass.speedUp4)}; overhead p99 < ${r.targets.overheadP99Ms} ms: ${verdict(r.pass.overheadP99)}`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runScaleBench({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${formatScaleBench(result)}\n`);
  process.exit(0);
}
