/**
 * What the feedback digest costs (issue 14: "the digest of a 1M-row window adds < 10% to the
 * export's time and nothing to its peak memory"), measured as whole processes the way a user
 * starts them: `ox-batch sim` serves a 1,000,000-row window in its own process, and
 * `ox-batch run feedback.export` exports it to an fs archive with `digest=false` and with
 * `digest=true`, alternately, `rounds` times each, under /usr/bin/time (wall seconds, peak RSS).
 * The fastest run of each counts (other load only ever slows a run down), RSS the highest.
 * `ox-csv` is the default format and the tight case (the digest scans OX's bytes); `jsonl` (the
 * raw records) runs once each. (`csv` has no digest yet: its fast path builds no records.)
 * Run: `npm run bench -- digest`, or `npx tsx bench/digest.ts [rows] [rounds]`.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../..' : '..', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const WINDOW = { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' };
/** The V8 flag the shipped runtime sets (Dockerfile, manifests): see bench/export.ts. */
const NODE_FLAGS = ['--max-semi-space-size=2'];
const TARGET_TIME = 1.1;
const TARGET_RSS = 1.02;

interface Run {
  seconds: number;
  maxRssBytes: number;
  rows: number;
}

export interface DigestBenchRow {
  id: string;
  label: string;
  runs: number;
  rows: number;
  seconds: number;
  maxRssBytes: number;
}

export interface DigestBenchResult {
  rows: number;
  scenarios: DigestBenchRow[];
  /** With digest / without, for ox-csv and jsonl (`csv`): fastest seconds, highest peak RSS. */
  oxCsv: { time: number; rss: number };
  csv: { time: number; rss: number };
  targets: { time: boolean; rss: boolean };
  node: string;
}

export async function runDigestBench(options: { rows?: number; rounds?: number } = {}): Promise<DigestBenchResult> {
  const rows = options.rows ?? 1_000_000;
  const rounds = options.rounds ?? 5;
  const work = await mkdtemp(join(tmpdir(), 'oxb-bench-digest-'));
  const port = await freePort();
  const sim = spawn(
    process.execPath,
    [
      ...NODE_FLAGS,
      CLI,
      'sim',
      '--port',
      String(port),
      '--feedback-rows',
      String(rows),
      '--from',
      WINDOW.start,
      '--to',
      WINDOW.end,
      '--seed',
      '42',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const prefixes: string[] = [];
  const measured = new Map<string, Run[]>();
  try {
    await new Promise<void>((resolve, reject) => {
      sim.stdout!.once('data', () => resolve());
      sim.once('exit', (code) => reject(new Error(`ox-batch sim exited with ${code}`)));
    });
    const scenarios = [
      { id: 'ox-csv', label: 'ox-csv → fs, digest=false', params: ['format=ox-csv', 'digest=false'], rounds },
      { id: 'ox-csv-digest', label: 'ox-csv → fs, digest=true', params: ['format=ox-csv', 'digest=true'], rounds },
      { id: 'csv', label: 'jsonl → fs, digest=false', params: ['format=jsonl', 'digest=false'], rounds: 1 },
      { id: 'csv-digest', label: 'jsonl → fs, digest=true', params: ['format=jsonl', 'digest=true'], rounds: 1 },
    ];
    // A warm-up run so the simulator's first export (it builds its row cache) is not measured.
    await exportOnce(work, port, ['format=ox-csv', 'digest=false'], prefixes);
    for (let round = 0; round < rounds; round++) {
      for (const s of scenarios) {
        if (round >= s.rounds) continue;
        measured.set(s.id, [...(measured.get(s.id) ?? []), await exportOnce(work, port, s.params, prefixes)]);
      }
    }
    const rowsOf = (id: string): DigestBenchRow => {
      const all = measured.get(id)!;
      const s = scenarios.find((x) => x.id === id)!;
      return {
        id,
        label: s.label,
        runs: all.length,
        rows: all[0]!.rows,
        seconds: Math.min(...all.map((r) => r.seconds)),
        maxRssBytes: Math.max(...all.map((r) => r.maxRssBytes)),
      };
    };
    const table = scenarios.map((s) => rowsOf(s.id));
    const ratio = (a: string, b: string, key: 'seconds' | 'maxRssBytes') =>
      table.find((r) => r.id === a)![key] / table.find((r) => r.id === b)![key];
    const oxCsv = { time: ratio('ox-csv-digest', 'ox-csv', 'seconds'), rss: ratio('ox-csv-digest', 'ox-csv', 'maxRssBytes') };
    const csv = { time: ratio('csv-digest', 'csv', 'seconds'), rss: ratio('csv-digest', 'csv', 'maxRssBytes') };
    return {
      rows,
      scenarios: table,
      oxCsv,
      csv,
      targets: { time: oxCsv.time <= TARGET_TIME && csv.time <= TARGET_TIME, rss: oxCsv.rss <= TARGET_RSS && csv.rss <= TARGET_RSS },
      node: process.version,
    };
  } finally {
    sim.kill('SIGTERM');
    for (const prefix of prefixes) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
    await rm(work, { recursive: true, force: true });
  }
}

/** One `ox-batch run feedback.export` with its own Redis prefix and archive folder. */
async function exportOnce(work: string, port: number, params: string[], prefixes: string[]): Promise<Run> {
  const id = randomUUID().slice(0, 8);
  const prefix = `oxb-bench-digest-${id}`;
  prefixes.push(prefix);
  const config = join(work, `${id}.yaml`);
  await writeFile(
    config,
    [
      `ox: { url: "http://127.0.0.1:${port}", user: oxadmin, password: secret }`,
      `redis: { url: "${REDIS_URL}", prefix: ${prefix} }`,
      `archive: { kind: fs, dir: "${join(work, id, 'archive')}" }`,
      `spool: { dir: "${join(work, id, 'spool')}" }`,
      'logging: { level: warn }',
    ].join('\n'),
  );
  const args = [
    '-f',
    '%e %M',
    process.execPath,
    ...NODE_FLAGS,
    CLI,
    '--config',
    config,
    'run',
    'feedback.export',
    '--start',
    WINDOW.start,
    '--end',
    WINDOW.end,
    ...params.flatMap((p) => ['--param', p]),
  ];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('/usr/bin/time', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
  });
  if (code !== 0) throw new Error(`ox-batch run ${params.join(' ')} exited with ${code}: ${stderr.slice(-500)}`);
  const [seconds, kb] = stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  const result = JSON.parse(stdout) as { rows?: number; results?: Array<{ result?: { rows?: number; digest?: { rows: number } } }> } & {
    result?: { rows?: number; digest?: { rows: number } };
  };
  const body = result.result ?? result.results?.[0]?.result ?? (result as { rows?: number; digest?: { rows: number } });
  if (params.includes('digest=true') && body.digest?.rows !== body.rows)
    throw new Error(`digest rows ${body.digest?.rows} != export rows ${body.rows}`);
  return { seconds: seconds!, maxRssBytes: kb! * 1024, rows: body.rows ?? 0 };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export function formatDigestBench(result: DigestBenchResult): string {
  const header = ['scenario', 'rows', 'runs', 'seconds', 'peak RSS MB'];
  const lines = result.scenarios.map((s) => [
    s.label,
    s.rows.toLocaleString('en'),
    String(s.runs),
    s.seconds.toFixed(2),
    (s.maxRssBytes / 1024 / 1024).toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const verdict = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  return [
    `feedback digest benchmark, ${result.rows.toLocaleString('en')}-row window (ox-batch sim and ox-batch run as processes; fastest run, highest RSS)`,
    row(header),
    row(widths.map((w) => '-'.repeat(w))),
    ...lines.map(row),
    `digest=true / digest=false time: ox-csv ${result.oxCsv.time.toFixed(3)}x, jsonl ${result.csv.time.toFixed(3)}x (target <= ${TARGET_TIME}: ${verdict(result.targets.time)})`,
    `peak RSS: ox-csv ${result.oxCsv.rss.toFixed(3)}x, jsonl ${result.csv.rss.toFixed(3)}x (target <= ${TARGET_RSS}: ${verdict(result.targets.rss)})`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runDigestBench({ rows: Number(process.argv[2] ?? 1_000_000), rounds: Number(process.argv[3] ?? 5) });
  console.log(formatDigestBench(result));
  const { mergeResults } = await import('./run.js');
  await mergeResults('digest', result);
  process.exit(0);
}
