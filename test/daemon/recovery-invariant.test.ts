/**
 * The recovery invariant, checked over random, seeded sequences of what happens to a running
 * deployment — time passing (days), daemon restarts, pause/resume, windows failing a few times
 * (transiently) or for good (permanently) — with the product's own daemon (in this process, its
 * clock injected through `DaemonOptions.now`) on Redis:
 *
 *   once the schedule's trigger has fired again, every closed window after the start is
 *   eventually done, or failed with a permanent error (visible in the ledger as such), and no
 *   window's job succeeds twice.
 *
 * Replay a failure with OXB_FC_SEED=<seed printed below>.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/connection.js';
import { z } from 'zod';
import { InputError } from '../../src/errors.js';
import { defineJob } from '../../src/job-kind.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { silentLogger } from '../../src/log/logger.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { createQueue, TICK_QUEUE, type TickData } from '../../src/queue/queues.js';
import { ScheduleState } from '../../src/queue/schedule-state.js';
import { requestCatchUp } from '../../src/queue/tick.js';
import { deleteKeys, plainRedis, testConfig, testPrefix, waitFor } from './helpers.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 5, 1);

/** Fails as `<prefix>:fault:<start>` says: `t<n>` n more times (transient), `p` always (permanent). */
const flaky = defineJob({
  name: 'test.flaky',
  description: 'fails as the test planned, records its successes',
  windowed: true,
  params: z.object({}),
  async run(run, services) {
    const prefix = services.config.redis.prefix;
    const start = run.window!.start;
    const fault = await services.redis.get(`${prefix}:fault:${start}`);
    if (fault === 'p') throw new InputError(`window ${start}: refused (planned permanent failure)`);
    if (fault?.startsWith('t') && Number(fault.slice(1)) > 0) {
      await services.redis.set(`${prefix}:fault:${start}`, `t${Number(fault.slice(1)) - 1}`);
      throw new Error(`window ${start}: planned transient failure`);
    }
    await services.redis.rpush(`${prefix}:succeeded`, String(start));
    return { rows: 1 };
  },
});

type Step =
  | { kind: 'days'; n: number }
  | { kind: 'restart' }
  | { kind: 'pause-resume' }
  | { kind: 'transient'; day: number; times: number }
  | { kind: 'permanent'; day: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('days' as const), n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('restart' as const) }),
  fc.record({ kind: fc.constant('pause-resume' as const) }),
  fc.record({ kind: fc.constant('transient' as const), day: fc.integer({ min: 0, max: 8 }), times: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('permanent' as const), day: fc.integer({ min: 0, max: 8 }) }),
);

describe('recovery invariant (fast-check)', () => {
  let redis: RedisClient;
  const prefixes: string[] = [];
  beforeAll(() => {
    redis = plainRedis();
  });
  afterAll(async () => {
    for (const p of prefixes) await deleteKeys(redis, p);
    await redis.quit();
  });

  it('after any sequence of restarts, pauses, days passing and faults, every closed window is done or failed-permanent, none succeeds twice', async () => {
    const seed = Number(process.env.OXB_FC_SEED ?? Date.now() % 2 ** 31);
    console.log(`recovery invariant: fast-check seed ${seed} (replay: OXB_FC_SEED=${seed})`);
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
        const prefix = testPrefix();
        prefixes.push(prefix);
        let clock = T0 + DAY; // one closed window at the start
        const config = testConfig(prefix, {
          worker: { concurrency: 4, backoffMs: 20 },
          schedules: {
            p: {
              job: 'test.flaky',
              cron: '0 2 * * *',
              tz: 'UTC',
              window: '1d',
              lag: 0,
              startAt: new Date(T0).toISOString(),
              attempts: 2,
              retryFailedAfter: '1s',
            },
          },
        });
        const start = () =>
          Daemon.start({
            config,
            kinds: [flaky],
            role: 'all',
            port: null,
            log: silentLogger(),
            now: () => clock,
            retryCheckIntervalMs: 100,
          });
        const ticks = createQueue<TickData>(TICK_QUEUE, config, redis, silentLogger());
        const state = new ScheduleState(redis, prefix);
        const permanent = new Set<number>();
        let daemon = await start();
        try {
          for (const s of steps) {
            if (s.kind === 'days') clock += s.n * DAY;
            else if (s.kind === 'restart') {
              await daemon.stop({ graceMs: 200 });
              daemon = await start();
            } else if (s.kind === 'pause-resume') {
              await state.setPaused('p', true);
              clock += DAY;
              await new Promise((r) => setTimeout(r, 50));
              await state.setPaused('p', false);
              await requestCatchUp(ticks, 'p');
            } else {
              const windowStart = T0 + s.day * DAY;
              // A fault only matters for a window that has not run yet.
              const record = await new RedisLedger(redis, prefix).getWindow({
                scheduleId: 'p',
                start: windowStart,
                end: windowStart + DAY,
              });
              if (record) continue;
              if (s.kind === 'permanent') permanent.add(windowStart);
              else permanent.delete(windowStart);
              await redis.set(`${prefix}:fault:${windowStart}`, s.kind === 'permanent' ? 'p' : `t${s.times}`);
            }
          }
          // The trigger fires again at some point.
          await daemon.tick('p');
          const ledger = new RedisLedger(redis, prefix);
          const closed = Array.from({ length: Math.floor((clock - T0) / DAY) }, (_, d) => T0 + d * DAY);
          await waitFor(
            async () => {
              const records = await Promise.all(closed.map((t) => ledger.getWindow({ scheduleId: 'p', start: t, end: t + DAY })));
              return records.every((r) => r?.state === 'done' || (r?.state === 'failed' && r.permanent === true));
            },
            `every closed window done or failed-permanent (steps ${JSON.stringify(steps)})`,
            30_000,
            100,
          );
          const succeeded = (await redis.lrange(`${prefix}:succeeded`, 0, -1)).map(Number);
          expect(new Set(succeeded).size, 'a window succeeded twice').toBe(succeeded.length);
          for (const t of closed) {
            const record = await ledger.getWindow({ scheduleId: 'p', start: t, end: t + DAY });
            if (permanent.has(t)) {
              expect(record, `window ${t}`).toMatchObject({
                state: 'failed',
                permanent: true,
                lastError: expect.stringMatching(/planned permanent failure/),
              });
            } else {
              expect(record?.state, `window ${t}`).toBe('done');
              expect(succeeded.filter((s) => s === t)).toHaveLength(1);
            }
          }
        } finally {
          await daemon.stop({ graceMs: 200 });
          await ticks.close();
        }
      }),
      { seed, numRuns: 12, endOnFailure: true },
    );
  }, 240_000);
});
