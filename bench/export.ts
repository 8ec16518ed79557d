/**
 * Feedback export benchmark (issues 4 and 18), measured as a user runs things: every scenario is
 * a whole process (start-up included) timed by `/usr/bin/time`, against the OX simulator in its
 * own process serving a 2,000,000-row window (~600 MB of OX CSV):
 *   (a) baseline: `curl` writing the CSV export to a file
 *   (a2) a plain Node/undici GET to a file with one SHA-256 pass (bench/undici-get.ts)
 *   (a3) reference, no target: (a) followed by an fsync of the file, the durability ox-batch pays
 *   (b) `ox-batch run feedback.export` through the npm bin: ox-csv → fs archive
 *   (c) the same with `format: csv` (raw JSON export transcoded to RFC 4180)
 *   (d) ox-csv + gzip at compressionLevel 1 and 6, to fs and to S3 (s3rver, multipart)
 *   (e) the daemon as `npm run start` starts it, running the (b) window from its queue
 *   (b-small) (b) on a 200,000-row window: memory must not grow with the window
 * (a), (a2), (a3) and (b) run alternately, `rounds` times; the fastest run of each counts (other load only
 * slows a run down) and the highest peak RSS. Targets: (b) >= 0.7x (a)'s throughput; (c) >= 0.3x
 * (b)'s rows/s; peak RSS of every ox-batch process <= 150 MB, and (b) within 1.2x between windows.
 * Run: `npm run bench -- export` (needs a build and Redis at REDIS_URL), or
 * `node dist/bench/export.js [rows] [--only a,b,c]`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** bench/ under tsx, dist/bench/ when built: the repository root either way. */
const ROOT = HERE.includes(join('dist', 'bench')) ? join(HERE, '..', '..') : join(HERE, '..');
const BIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const UNDICI_GET = join(ROOT, 'dist', 'bench', 'undici-get.js');
const LARGE_WINDOW = { start: Date.UTC(2026, 0, 1), end: Date.UTC(2026, 0, 2) };
/** A tenth of the large window: a tenth of its rows (the simulator spreads them evenly). */
const SMALL_WINDOW = { start: LARGE_WINDOW.start, end: LARGE_WINDOW.start + (LARGE_WINDOW.end - LARGE_WINDOW.start) / 10 };
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TARGET_RATIO = 0.7;
const TARGET_CSV_RATIO = 0.3;
const TARGET_RSS_BYTES = 150 * 1024 * 1024;
const TARGET_RSS_GROWTH = 1.2;
/** The V8 setting the bin's shebang and `npm run start` apply (and the image's NODE_OPTIONS). */
export const RUNTIME_NODE_FLAGS = ['--max-semi-space-size=2'];

export interface ExportBenchRow {
  id: string;
  label: string;
  rows: number;
  /** Uncompressed bytes exported (OX's CSV for ox-csv; the CSV written for csv). */
  bytes: number;
  /** Bytes stored (after gzip). */
  storedBytes: number;
  seconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
  runs: number;
  rowsPerSecond: number;
  mbPerSecond: number;
  /** How the archive verified the object (ox-batch runs). */
  verifiedBy?: string;
}

export interface ExportBenchResult {
  rows: number;
  smallRows: number;
  oxCsvBytes: number;
  scenarios: ExportBenchRow[];
  ratioToCurl: number;
  ratioToUndici: number;
  /** (b) against (a3), curl with the fsync ox-batch does: no target, what durability leaves of the gap. */
  ratioToSyncedCurl: number;
  csvToOxCsv: number;
  rssGrowthSmallToLarge: number;
  targets: { ratio: boolean; csvRatio: boolean; rss: boolean; rssGrowth: boolean };
  loadAverage: { before: number[]; after: number[] };
  measuredAt: string;
  node: string;
}

interface Timed {
  seconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
  stdout: string;
}

interface Scenario {
  id: string;
  label: string;
  window: { start: number; end: number };
  rows: number;
  run(work: string): Promise<ExportBenchRow>;
}

export async function runExportBench(options: { rows?: number; only?: string[]; rounds?: number } = {}): Promise<ExportBenchResult> {
  for (const file of [BIN, UNDICI_GET]) if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  const rounds = options.rounds ?? 3;
  const rows = options.rows ?? 2_000_000;
  const smallRows = Math.max(1, Math.round(rows / 10));
  const loadBefore = loadavg();
  const work = await mkdtemp(join(tmpdir(), 'oxb-bench-export-'));
  const sim = await startSimulator(rows);
  const { default: S3rver } = await import('s3rver' as string);
  const s3 = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: join(work, 's3'),
    configureBuckets: [{ name: 'oxb-bench' }],
  });
  const { port: s3Port } = await s3.run();
  const s3Env = {
    OXB_ARCHIVE: 's3',
    S3_BUCKET: 'oxb-bench',
    S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
  };
  const csvUrl = exportUrl(sim.url, LARGE_WINDOW);
  let oxCsvBytes = 0;
  const bin = (
    id: string,
    label: string,
    window: { start: number; end: number },
    windowRows: number,
    params: Record<string, string | number>,
    env: Record<string, string> = {},
  ): Scenario => ({
    id,
    label,
    window,
    rows: windowRows,
    run: async (dir) => {
      const timed = await timeProcess(
        [
          BIN,
          'run',
          'feedback.export',
          '--start',
          String(window.start),
          '--end',
          String(window.end),
          ...Object.entries(params).flatMap(([k, v]) => ['--param', `${k}=${v}`]),
        ],
        await oxBatchEnv(sim.url, dir, env),
      );
      const result = JSON.parse(timed.stdout) as {
        status: string;
        result?: { rows: number; bytes: number; contentBytes: number; archive?: { verifiedBy?: string } };
        reason?: string;
      };
      if (result.status !== 'done' || !result.result) throw new Error(`${label}: ${result.status} ${result.reason ?? ''}`);
      return row(id, label, timed, result.result.rows, result.result.contentBytes, result.result.bytes, result.result.archive?.verifiedBy);
    },
  });
  /** A baseline process writing the (b) window's OX CSV to a file of `name` in the scenario's folder. */
  const baseline = (id: string, label: string, name: string, command: (file: string) => string[]): Scenario => ({
    id,
    label,
    window: LARGE_WINDOW,
    rows,
    run: async (dir) => {
      const file = join(dir, name);
      const timed = await timeProcess(command(file), process.env);
      const bytes = (await stat(file)).size;
      if (id === 'a') oxCsvBytes = bytes;
      return row(id, label, timed, rows, bytes, bytes);
    },
  });
  const scenarios: Scenario[] = [
    baseline('a', '(a) baseline: curl → file', 'curl.csv', (file) => ['curl', '-sS', '--fail', '-u', 'oxadmin:secret', '-o', file, csvUrl]),
    // Not a target: what durability costs curl. ox-batch fsyncs every archive file before it
    // counts the window done (a purge relies on it); curl's own figure never waits for the disk.
    baseline('a3', '(a3) reference: curl → file, then fsync it', 'curl-synced.csv', (file) => [
      'sh',
      '-c',
      'curl -sS --fail -u oxadmin:secret -o "$1" "$2" && sync --data "$1"',
      'sh',
      file,
      csvUrl,
    ]),
    {
      id: 'a2',
      label: '(a2) node: undici GET → file + SHA-256',
      window: LARGE_WINDOW,
      rows,
      run: async (dir) => {
        const file = join(dir, 'undici.csv');
        const timed = await timeProcess([process.execPath, ...RUNTIME_NODE_FLAGS, UNDICI_GET, csvUrl, file], process.env);
        const bytes = (await stat(file)).size;
        return row('a2', '(a2) node: undici GET → file + SHA-256', timed, rows, bytes, bytes);
      },
    },
    bin('b', '(b) ox-batch run: ox-csv → fs', LARGE_WINDOW, rows, { format: 'ox-csv' }),
    bin('c', '(c) ox-batch run: csv → fs', LARGE_WINDOW, rows, { format: 'csv' }),
    bin('d1-fs', '(d) ox-csv + gzip level 1 → fs', LARGE_WINDOW, rows, { compress: 'gzip', compressionLevel: 1 }),
    bin('d6-fs', '(d) ox-csv + gzip level 6 → fs', LARGE_WINDOW, rows, { compress: 'gzip', compressionLevel: 6 }),
    bin('d1-s3', '(d) ox-csv + gzip level 1 → S3', LARGE_WINDOW, rows, { compress: 'gzip', compressionLevel: 1 }, s3Env),
    bin('d6-s3', '(d) ox-csv + gzip level 6 → S3', LARGE_WINDOW, rows, { compress: 'gzip', compressionLevel: 6 }, s3Env),
    {
      id: 'e',
      label: '(e) daemon (npm run start) runs the (b) window',
      window: LARGE_WINDOW,
      rows,
      run: (dir) => daemonRun(sim.url, dir, rows),
    },
    bin('b-small', `(b) ox-csv → fs, ${smallRows.toLocaleString('en')} rows`, SMALL_WINDOW, smallRows, { format: 'ox-csv' }),
  ];
  const measured: ExportBenchRow[] = [];
  try {
    // The simulator builds its row cache on the first export of a window: not part of any figure.
    await timeProcess(['curl', '-sS', '-u', 'oxadmin:secret', '-o', '/dev/null', csvUrl], process.env);
    await timeProcess(
      [
        'curl',
        '-sS',
        '-u',
        'oxadmin:secret',
        '-o',
        '/dev/null',
        `${sim.url}/userfeedback/v1/export/default/star-rating-v1/raw?start=${LARGE_WINDOW.start - 1}&end=${LARGE_WINDOW.end}`,
      ],
      process.env,
    );
    const chosen = scenarios.filter((s) => !options.only || options.only.includes(s.id));
    const runs = new Map<string, ExportBenchRow[]>();
    for (let round = 0; round < rounds; round += 1) {
      for (const scenario of chosen) {
        if (round > 0 && !['a', 'a2', 'a3', 'b'].includes(scenario.id)) continue;
        const dir = join(work, `${scenario.id}-${round}`);
        await mkdir(dir, { recursive: true });
        const m = await scenario.run(dir);
        await rm(dir, { recursive: true, force: true });
        runs.set(scenario.id, [...(runs.get(scenario.id) ?? []), m]);
        process.stderr.write(`  ${m.label}: ${m.seconds.toFixed(2)} s, ${(m.maxRssBytes / 1048576).toFixed(0)} MB\n`);
      }
    }
    for (const scenario of chosen) {
      const all = runs.get(scenario.id)!;
      const fastest = all.reduce((best, m) => (m.seconds < best.seconds ? m : best));
      measured.push({ ...fastest, runs: all.length, maxRssBytes: Math.max(...all.map((m) => m.maxRssBytes)) });
    }
  } finally {
    sim.child.kill('SIGTERM');
    await s3.close();
    await rm(work, { recursive: true, force: true });
    await removeBenchKeys();
  }
  const byId = (id: string) => measured.find((m) => m.id === id);
  const ratio = (x?: ExportBenchRow, y?: ExportBenchRow) => (x && y ? x.rowsPerSecond / y.rowsPerSecond : NaN);
  const ratioToCurl = ratio(byId('b'), byId('a'));
  const csvToOxCsv = ratio(byId('c'), byId('b'));
  const rssGrowthSmallToLarge = (byId('b')?.maxRssBytes ?? NaN) / (byId('b-small')?.maxRssBytes ?? NaN);
  const oxBatch = measured.filter((m) => !m.id.startsWith('a'));
  return {
    rows,
    smallRows,
    oxCsvBytes,
    scenarios: measured,
    ratioToCurl,
    ratioToUndici: ratio(byId('b'), byId('a2')),
    ratioToSyncedCurl: ratio(byId('b'), byId('a3')),
    csvToOxCsv,
    rssGrowthSmallToLarge,
    targets: {
      ratio: ratioToCurl >= TARGET_RATIO,
      csvRatio: csvToOxCsv >= TARGET_CSV_RATIO,
      rss: oxBatch.length > 0 && oxBatch.every((m) => m.maxRssBytes <= TARGET_RSS_BYTES),
      rssGrowth: rssGrowthSmallToLarge <= TARGET_RSS_GROWTH,
    },
    loadAverage: { before: loadBefore.map(round2), after: loadavg().map(round2) },
    measuredAt: new Date().toISOString(),
    node: process.version,
  };
}

export function formatExportBench(result: ExportBenchResult): string {
  const header = ['scenario', 'runs', 'seconds', 'CPU s', 'rows/s', 'MB/s', 'stored MB', 'peak RSS MB', 'verified'];
  const lines = result.scenarios.map((m) => [
    m.label,
    String(m.runs),
    m.seconds.toFixed(2),
    m.cpuSeconds.toFixed(2),
    Math.round(m.rowsPerSecond).toLocaleString('en'),
    m.mbPerSecond.toFixed(1),
    (m.storedBytes / 1e6).toFixed(0),
    (m.maxRssBytes / 1024 / 1024).toFixed(0),
    m.verifiedBy ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  return [
    `feedback export benchmark: whole processes (/usr/bin/time), ${result.rows.toLocaleString('en')}-row window, ${(result.oxCsvBytes / 1e6).toFixed(0)} MB of OX CSV; load average ${result.loadAverage.before.join(' ')} before, ${result.loadAverage.after.join(' ')} after`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...lines.map(line),
    `(b)/(a) ox-batch ox-csv → fs vs curl → file: ${result.ratioToCurl.toFixed(2)} (target >= ${TARGET_RATIO}: ${verdict(result.targets.ratio)}); vs undici GET + SHA-256: ${result.ratioToUndici.toFixed(2)}; vs curl + fsync: ${result.ratioToSyncedCurl.toFixed(2)}`,
    `(c)/(b) csv vs ox-csv rows/s: ${result.csvToOxCsv.toFixed(2)} (target >= ${TARGET_CSV_RATIO}: ${verdict(result.targets.csvRatio)})`,
    `peak RSS of every ox-batch process <= 150 MB: ${verdict(result.targets.rss)}; (b) ${result.rows.toLocaleString('en')} vs ${result.smallRows.toLocaleString('en')} rows: ${result.rssGrowthSmallToLarge.toFixed(2)}x (target <= ${TARGET_RSS_GROWTH}: ${verdict(result.targets.rssGrowth)})`,
  ].join('\n');
}

function row(id: string, label: string, t: Timed, rows: number, bytes: number, storedBytes: number, verifiedBy?: string): ExportBenchRow {
  return {
    id,
    label,
    rows,
    bytes,
    storedBytes,
    seconds: t.seconds,
    cpuSeconds: t.cpuSeconds,
    maxRssBytes: t.maxRssBytes,
    runs: 1,
    rowsPerSecond: rows / t.seconds,
    mbPerSecond: bytes / 1e6 / t.seconds,
    ...(verifiedBy ? { verifiedBy } : {}),
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function exportUrl(base: string, window: { start: number; end: number }): string {
  return `${base}/userfeedback/v1/export/default/star-rating-v1?start=${window.start - 1}&end=${window.end}`;
}

/** The Redis keys of this bench's ox-batch processes (`oxb-bench-<pid>-…`, see oxBatchEnv). */
async function removeBenchKeys(): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  try {
    await redis.connect();
    const stream = redis.scanStream({ match: `oxb-bench-${process.pid}-*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
  } finally {
    redis.disconnect();
  }
}

/** Environment of an ox-batch process of the bench: simulator, Redis under a prefix of its own, archive in `dir`. */
async function oxBatchEnv(simUrl: string, dir: string, extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv> {
  const config = join(dir, 'config.yaml');
  await writeFile(config, `spool:\n  dir: ${JSON.stringify(join(dir, 'spool'))}\n`);
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    OXB_CONFIG: config,
    OX_URL: simUrl,
    OX_USER: 'oxadmin',
    OX_PASSWORD: 'secret',
    REDIS_URL,
    OXB_REDIS_PREFIX: `oxb-bench-${process.pid}-${dir.split('/').pop()}`,
    OXB_ARCHIVE: 'fs',
    OXB_ARCHIVE_DIR: join(dir, 'archive'),
    S3_PREFIX: `bench-${dir.split('/').pop()}`,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Runs a whole process under /usr/bin/time: wall seconds, CPU seconds, peak RSS, stdout. */
function timeProcess(command: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'OXB-TIME %e %U %S %M', ...command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('exit', (code) => {
      const m = /OXB-TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
      if (code !== 0 || !m) {
        reject(new Error(`${command.slice(0, 3).join(' ')} … exited ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      resolve({ seconds: Number(m[1]), cpuSeconds: Number(m[2]) + Number(m[3]), maxRssBytes: Number(m[4]) * 1024, stdout });
    });
  });
}

/**
 * (e): `npm run start` (npm → node with the flag → the daemon), the window queued by
 * `ox-batch enqueue --wait`; the daemon's own peak RSS is read from /proc (VmHWM) before it stops.
 */
async function daemonRun(simUrl: string, dir: string, rows: number): Promise<ExportBenchRow> {
  const env = { ...(await oxBatchEnv(simUrl, dir)), OXB_HTTP_PORT: '0' };
  const daemon = spawn('npm', ['run', '--silent', 'start'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  try {
    const pid = await waitForDaemonPid(daemon);
    const started = Date.now();
    const enqueue = await timeProcess(
      [BIN, 'enqueue', 'feedback.export', '--start', String(LARGE_WINDOW.start), '--end', String(LARGE_WINDOW.end), '--wait'],
      env,
    );
    const seconds = (Date.now() - started) / 1000;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
    const [utime, stime] = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ').slice(11, 13).map(Number);
    const archived = await filesBelow(join(dir, 'archive'));
    const data = archived.find((f) => f.endsWith('.csv'));
    if (!data) throw new Error(`(e): the daemon archived nothing (${enqueue.stdout.slice(0, 500)} ${log.slice(-1000)})`);
    const bytes = (await stat(data)).size;
    return row(
      'e',
      '(e) daemon (npm run start) runs the (b) window',
      { seconds, cpuSeconds: (utime! + stime!) / 100, maxRssBytes: hwm, stdout: '' },
      rows,
      bytes,
      bytes,
    );
  } finally {
    await killTree(daemon.pid!);
  }
}

/** The node process running `main.js start` below npm (npm → sh → node). */
async function waitForDaemonPid(npm: ChildProcess): Promise<number> {
  for (let i = 0; i < 300; i++) {
    for (const pid of descendants(npm.pid!)) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmdline.some((a) => a.endsWith('main.js')) && cmdline.includes('start')) {
        // Ready once it listens: give the worker a moment to connect to Redis.
        await new Promise((r) => setTimeout(r, 1500));
        return pid;
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the daemon did not start');
}

function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSyncSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Stops npm and what it started. The tree is read first: once npm is gone its children belong
 * to init and are no longer found below it (the daemons of earlier runs outlived the bench so).
 */
async function killTree(pid: number): Promise<void> {
  const tree = [pid, ...descendants(pid)];
  const signal = (name: NodeJS.Signals, pids: number[]) => {
    for (const p of pids) {
      try {
        process.kill(p, name);
      } catch {
        // gone
      }
    }
  };
  signal('SIGTERM', tree);
  for (let i = 0; i < 100; i++) {
    if (!tree.some((p) => existsSync(`/proc/${p}`))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  signal(
    'SIGKILL',
    tree.filter((p) => existsSync(`/proc/${p}`)),
  );
}

async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesBelow(path)));
    else out.push(path);
  }
  return out;
}

async function startSimulator(rows: number): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'sim',
      '--port',
      '0',
      '--feedback-rows',
      String(rows),
      '--from',
      String(LARGE_WINDOW.start),
      '--to',
      String(LARGE_WINDOW.end),
      '--seed',
      '42',
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  return { url, child };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1]!.split(',') : undefined;
  const result = await runExportBench({ rows: Number(args[0] ?? 2_000_000), only });
  console.log(formatExportBench(result));
  const { mergeResults } = await import('./run.js');
  await mergeResults('export', result);
  process.exit(0);
}
