/** Trivial job kinds registered by the daemon tests (the real ones live in jobs/). */
import { z } from 'zod';
import { defineJob } from '../../src/job-kind.js';
import { InputError } from '../../src/errors.js';

export const windowNoop = defineJob({
  name: 'test.window',
  description: 'records that it ran for a window',
  windowed: true,
  params: z.object({
    sleepMs: z.number().int().min(0).default(0),
    failTimes: z.number().int().min(0).default(0),
    rows: z.number().default(1),
  }),
  async run(run, services) {
    const counter = `${services.config.redis.prefix}:test:runs:${run.scheduleId}:${run.window!.start}`;
    const n = await services.redis.incr(counter);
    await run.progress(50);
    if (run.params.sleepMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, run.params.sleepMs);
        run.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(run.signal.reason ?? new Error('aborted'));
          },
          { once: true },
        );
      });
    }
    if (n <= run.params.failTimes) throw new Error(`planned failure ${n}`);
    await services.redis.rpush(`${services.config.redis.prefix}:test:done`, `${run.scheduleId}|${run.window!.start}`);
    return { rows: run.params.rows, bytes: 10, run: n };
  },
});

export const badInputJob = defineJob({
  name: 'test.bad-input',
  description: 'always refuses with an input error',
  windowed: true,
  params: z.object({}),
  async run() {
    throw new InputError('catalog.csv: row 3: context id "x" is not a number');
  },
});

export const plainNoop = defineJob({
  name: 'test.plain',
  description: 'a non-windowed job (like ads.sync)',
  windowed: false,
  params: z.object({ sleepMs: z.number().int().min(0).default(0) }),
  async run(run, services) {
    await services.redis.rpush(`${services.config.redis.prefix}:test:plain`, String(Date.now()));
    if (run.params.sleepMs > 0) await new Promise((r) => setTimeout(r, run.params.sleepMs));
    return { ok: true };
  },
});

export const testKinds = [windowNoop, badInputJob, plainNoop];
