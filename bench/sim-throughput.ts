/**
 * How fast the OX simulator serves exports (it must never be the bottleneck of a benchmark).
 * Not a test: run `npx tsx bench/sim-throughput.ts [csvRows] [rawRows]` or call
 * `measureSimThroughput()`. Each export is read twice: by a client in the same process
 * (undici.request; server and client share one thread, a lower bound) and by a separate Node
 * process (what a benchmark of ox-batch against `ox-batch sim` sees).
 */
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { OxSimulator } from '../src/sim/ox-simulator.js';

export interface ExportMeasurement {
  rows: number;
  bytes: number;
  seconds: number;
  mbPerSecond: number;
  /** CPU time of this process (server and client) during the export: on a busy machine
   *  MB per CPU second shows what the simulator does when it gets a core. */
  cpuSeconds: number;
  mbPerCpuSecond: number;
  /** Highest heap use above the starting point while the export streamed (bytes). */
  peakHeapGrowth: number;
}

export interface SimThroughput {
  csv: ExportMeasurement;
  raw: ExportMeasurement;
  /** The same exports read by a separate client process. */
  separateClient: {
    csv: { bytes: number; seconds: number; mbPerSecond: number };
    raw: { bytes: number; seconds: number; mbPerSecond: number };
  };
}

/** Reads a URL in a child Node process (plain node:http) and reports bytes and seconds. */
function readInChildProcess(url: string, authorization: string): Promise<{ bytes: number; seconds: number; mbPerSecond: number }> {
  const code = `const http = require('node:http'); const t = process.hrtime.bigint();
http.get(process.env.SIM_URL, { headers: { authorization: process.env.SIM_AUTH } }, (res) => {
  let n = 0; res.on('data', (c) => { n += c.length; });
  res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, bytes: n, seconds: Number(process.hrtime.bigint() - t) / 1e9 })));
}).on('error', (e) => { console.error(e.message); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code], {
      env: { ...process.env, SIM_URL: url, SIM_AUTH: authorization },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (exitCode) => {
      if (exitCode !== 0) return reject(new Error(`client process exited ${exitCode}`));
      const r = JSON.parse(out) as { status: number; bytes: number; seconds: number };
      if (r.status !== 200) return reject(new Error(`${url}: HTTP ${r.status}`));
      resolve({ bytes: r.bytes, seconds: r.seconds, mbPerSecond: r.bytes / 1e6 / r.seconds });
    });
  });
}

export async function measureSimThroughput(o: { rows?: number; rawRows?: number } = {}): Promise<SimThroughput> {
  const rows = o.rows ?? 1_000_000;
  const rawRows = o.rawRows ?? 2_000_000;
  const sim = await OxSimulator.start();
  try {
    const from = Date.UTC(2026, 0, 1);
    const to = from + 30 * 86_400_000;
    sim.generateFeedback({ rows, from, to, seed: 42 });
    sim.generateFeedback({ rows: rawRows, from, to, seed: 43, contextGroup: 'bench-raw' });
    const auth = `Basic ${Buffer.from('oxadmin:secret').toString('base64')}`;

    const measure = async (path: string, count: number): Promise<ExportMeasurement> => {
      global.gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      let peak = heapBefore;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }, 25);
      try {
        const started = process.hrtime.bigint();
        const cpuBefore = process.cpuUsage();
        const res = await request(`${sim.url}${path}`, { headers: { authorization: auth } });
        if (res.statusCode !== 200) throw new Error(`${path}: HTTP ${res.statusCode}`);
        let bytes = 0;
        for await (const chunk of res.body) bytes += (chunk as Buffer).length;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const cpu = process.cpuUsage(cpuBefore);
        const cpuSeconds = (cpu.user + cpu.system) / 1e6;
        return {
          rows: count,
          bytes,
          seconds,
          mbPerSecond: bytes / 1e6 / seconds,
          cpuSeconds,
          mbPerCpuSecond: bytes / 1e6 / cpuSeconds,
          peakHeapGrowth: peak - heapBefore,
        };
      } finally {
        clearInterval(sampler);
      }
    };
    const csvPath = '/userfeedback/v1/export/default/star-rating-v1';
    const rawPath = '/userfeedback/v1/export/bench-raw/star-rating-v1/raw';
    const csv = await measure(csvPath, rows);
    const raw = await measure(rawPath, rawRows);
    const separateClient = {
      csv: await readInChildProcess(`${sim.url}${csvPath}`, auth),
      raw: await readInChildProcess(`${sim.url}${rawPath}`, auth),
    };
    return { csv, raw, separateClient };
  } finally {
    await sim.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureSimThroughput({
    rows: process.argv[2] ? Number(process.argv[2]) : undefined,
    rawRows: process.argv[3] ? Number(process.argv[3]) : undefined,
  });
  const line = (name: string, r: ExportMeasurement): string =>
    `${name}: ${r.rows} rows, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(2)} s = ${r.mbPerSecond.toFixed(0)} MB/s ` +
    `(${r.cpuSeconds.toFixed(2)} CPU s = ${r.mbPerCpuSecond.toFixed(0)} MB per CPU second), ` +
    `peak heap growth ${(r.peakHeapGrowth / 1e6).toFixed(1)} MB`;
  console.log(line('csv export, client in process', result.csv));
  console.log(line('raw export, client in process', result.raw));
  for (const [name, r] of Object.entries(result.separateClient)) {
    console.log(
      `${name} export, separate client process: ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(2)} s = ${r.mbPerSecond.toFixed(0)} MB/s`,
    );
  }
}
