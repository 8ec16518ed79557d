/**
 * How fast the OX simulator serves exports (it must never be the bottleneck of a benchmark).
 * Not a test: run `npx tsx bench/sim-throughput.ts` or call `measureSimThroughput()`.
 */
import { request } from 'undici';
import { OxSimulator } from '../src/sim/ox-simulator.js';

export interface SimThroughput {
  rows: number;
  csv: { bytes: number; seconds: number; mbPerSecond: number };
  raw: { bytes: number; seconds: number; mbPerSecond: number };
  /** Heap growth of the simulator process over both exports (bytes). */
  heapGrowth: number;
}

export async function measureSimThroughput(o: { rows?: number } = {}): Promise<SimThroughput> {
  const rows = o.rows ?? 1_000_000;
  const sim = await OxSimulator.start();
  try {
    const from = Date.UTC(2026, 0, 1);
    sim.generateFeedback({ rows, from, to: from + 30 * 86_400_000, seed: 42 });
    const auth = `Basic ${Buffer.from('oxadmin:secret').toString('base64')}`;
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const measure = async (path: string): Promise<{ bytes: number; seconds: number; mbPerSecond: number }> => {
      const started = process.hrtime.bigint();
      const res = await request(`${sim.url}${path}`, { headers: { authorization: auth } });
      if (res.statusCode !== 200) throw new Error(`${path}: HTTP ${res.statusCode}`);
      let bytes = 0;
      for await (const chunk of res.body) bytes += (chunk as Buffer).length;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      return { bytes, seconds, mbPerSecond: bytes / 1e6 / seconds };
    };
    const csv = await measure('/userfeedback/v1/export/default/star-rating-v1');
    const raw = await measure('/userfeedback/v1/export/default/star-rating-v1/raw');
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    return { rows, csv, raw, heapGrowth };
  } finally {
    await sim.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await measureSimThroughput({ rows: Number(process.argv[2] ?? 1_000_000) });
  const line = (name: string, r: SimThroughput['csv']): string =>
    `${name}: ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(2)} s = ${r.mbPerSecond.toFixed(0)} MB/s`;
  console.log(`simulator export of ${result.rows} rows`);
  console.log(line('csv', result.csv));
  console.log(line('raw', result.raw));
  console.log(`heap growth: ${(result.heapGrowth / 1e6).toFixed(1)} MB`);
}
