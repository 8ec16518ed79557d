/**
 * `npm run bench`: runs every benchmark registered in BENCHMARKS, prints each one's table and
 * merges its result into bench/results.json under its name (other sections are kept).
 * To add one, add an entry: `load` imports the module (only selected modules are loaded), `run`
 * returns a JSON-able result, `format` renders it for people.
 * `npm run bench -- scheduling` runs a subset by name; `--quick` asks each selected benchmark for
 * a short smoke run (those that have one), whose results are printed but not merged.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BenchFlags {
  quick: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- BENCHMARKS lists benchmarks of different module and result types (load/run/format are contravariant in them)
export interface Benchmark<M = any, R = any> {
  name: string;
  load(): Promise<M>;
  run(module: M, flags: BenchFlags): Promise<R>;
  format(module: M, result: R): string;
}

const bench = <M, R>(b: Benchmark<M, R>): Benchmark<M, R> => b;

/** Benchmarks in the order they run. */
export const BENCHMARKS: Benchmark[] = [
  bench({
    name: 'scheduling',
    load: () => import('./scheduling.js'),
    run: (m) => m.runSchedulingBench(),
    format: (m, r) => m.formatSchedulingBench(r),
  }),
  bench({
    name: 'export',
    load: () => import('./export.js'),
    run: (m) => m.runExportBench(),
    format: (m, r) => m.formatExportBench(r),
  }),
  bench({
    name: 'scale',
    load: () => import('./scale.js'),
    run: (m, flags) => m.runScaleBench({ quick: flags.quick }),
    format: (m, r) => m.formatScaleBench(r),
  }),
  bench({
    name: 'digest',
    load: () => import('./digest.js'),
    run: (m) => m.runDigestBench(),
    format: (m, r) => m.formatDigestBench(r),
  }),
  bench({
    name: 'ads',
    load: () => import('./ads.js'),
    run: (m) => m.runAdsBench(),
    format: (m, r) => m.formatAdsBench(r),
  }),
];

function resultsFile(): string {
  // bench/run.ts under tsx, dist/bench/run.js when built: results live in the source bench/.
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(join('dist', 'bench')) ? join(here, '..', '..', 'bench', 'results.json') : join(here, 'results.json');
}

/** Merges one benchmark's section into bench/results.json, keeping the other sections. */
export async function mergeResults(name: string, result: unknown, file = resultsFile()): Promise<void> {
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // First benchmark to write the file.
  }
  all[name] = typeof result === 'object' && result !== null ? { ...result, measuredAt: new Date().toISOString() } : result;
  await writeFile(file, `${JSON.stringify(all, null, 2)}\n`);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const flags: BenchFlags = { quick: args.includes('--quick') };
  const wanted = args.filter((a) => !a.startsWith('--'));
  const unknown = wanted.filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`);
    return 2;
  }
  const selected = wanted.length > 0 ? BENCHMARKS.filter((b) => wanted.includes(b.name)) : BENCHMARKS;
  for (const b of selected) {
    process.stderr.write(`running ${b.name} …\n`);
    const module = await b.load();
    const result = await b.run(module, flags);
    process.stdout.write(`${b.format(module, result)}\n\n`);
    if (!flags.quick) await mergeResults(b.name, result);
  }
  process.stderr.write(flags.quick ? 'quick run: results not merged\n' : `results merged into ${resultsFile()}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const code = await main();
  // Benchmarks leave no work behind; do not wait for lingering sockets.
  process.exit(code);
}
