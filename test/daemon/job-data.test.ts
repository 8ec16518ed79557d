/**
 * A worker runs only job data that a configured schedule or an ox-batch command could have made.
 * Jobs added straight to the real queue with BullMQ's `Queue.add` (what another tool, a hand-made
 * `redis-cli` job or a tampered one looks like) reach a real daemon process: each is failed for
 * good with a readable reason, nothing runs, no attempt is retried, the ledger is left alone.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, type Job } from 'bullmq';
import type { RedisClient } from '../../src/redis/connection.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { JOB_QUEUE } from '../../src/queue/queues.js';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { REDIS_URL, deleteKeys, plainRedis, startChildDaemon, testPrefix, waitFor, type Child } from './helpers.js';

const DAY = 86_400_000;
/** Midnight in Berlin (winter): the windows of the `nightly` schedule start at 23:00 UTC. */
const BERLIN_DAY = Date.UTC(2026, 0, 9, 23);

describe('job data no schedule or command could have made', () => {
  const prefix = testPrefix();
  let redis: RedisClient;
  let queue: Queue;
  let daemon: Child;
  let bundle: Awaited<ReturnType<typeof bundleCli>>;
  let dir: string;
  const schedules = {
    nightly: { job: 'test.window', cron: '0 2 * * *', tz: 'Europe/Berlin', window: '1d', paused: true },
    hourly: { job: 'test.plain', every: '1h', paused: true },
  };
  beforeAll(async () => {
    redis = plainRedis();
    queue = new Queue(JOB_QUEUE, { connection: redis, prefix });
    dir = await mkdtemp(join(tmpdir(), 'oxbt-job-data-'));
    [daemon, bundle] = await Promise.all([
      startChildDaemon(
        {
          redis: { url: REDIS_URL, prefix },
          logging: { level: 'silent' },
          http: { host: '127.0.0.1', port: 0 },
          worker: { concurrency: 2, backoffMs: 50 },
          schedules,
        },
        { OXB_TEST_ROLE: 'worker' },
      ),
      bundleCli(),
    ]);
  }, 40_000);
  /** The job once failed, read after its state says so (a read before may predate the failure). */
  const failedJob = async (id: string, what: string): Promise<Job> => {
    await waitFor(async () => (await (await queue.getJob(id))?.getState()) === 'failed', what, 30_000);
    return (await queue.getJob(id))!;
  };
  afterAll(async () => {
    bundle?.dispose();
    await rm(dir, { recursive: true, force: true });
    if (daemon && daemon.process.exitCode === null) {
      daemon.process.kill('SIGTERM');
      await daemon.exited;
    }
    await queue.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it(
    'fails each for good with a readable reason, runs nothing and leaves the ledger alone; what commands make still runs',
    { timeout: 60_000 },
    async () => {
      const ledger = new RedisLedger(redis, prefix);
      const win = (n: number) => ({ start: BERLIN_DAY + n * DAY, end: BERLIN_DAY + (n + 1) * DAY });
      const window = (scheduleId: string, n: number, extra: Record<string, unknown> = {}) => ({
        type: 'window',
        scheduleId,
        job: 'test.window',
        ...win(n),
        params: {},
        ...extra,
      });
      // A record a real job of that window would have: a refused job must not fail it.
      await ledger.markQueuedIfOpen({ scheduleId: 'nightly', ...win(6) }, 'test.window', 'w.real');
      const forged: Array<[string, string, Record<string, unknown>, RegExp]> = [
        [
          'not configured',
          'test.window',
          window('nope', 0),
          /scheduleId "nope" is neither a configured schedule \(nightly, hourly\) nor the job kind's name \("test\.window"\)/,
        ],
        [
          "another kind than the schedule's",
          'test.plain',
          { type: 'run', scheduleId: 'nightly', job: 'test.plain', params: {} },
          /schedule nightly runs job test\.window, not test\.plain/,
        ],
        [
          'a window job of a non-windowed kind',
          'test.plain',
          { type: 'window', scheduleId: 'hourly', job: 'test.plain', ...win(1), params: {} },
          /job test\.plain does not work on time windows, but this is a window job/,
        ],
        [
          'a run job of a windowed kind',
          'test.window',
          { type: 'run', scheduleId: 'nightly', job: 'test.window', params: {} },
          /job test\.window works on time windows, but this job has none/,
        ],
        [
          'params the schema refuses',
          'test.window',
          window('nightly', 2, { params: { sleepMs: -5 } }),
          /params\.sleepMs: .*\(job test\.window\)/,
        ],
        [
          'a window not aligned to the schedule',
          'test.window',
          { ...window('nightly', 3), start: Date.UTC(2026, 0, 13), end: Date.UTC(2026, 0, 14) },
          /2026-01-13T00:00:00\.000Z\.\.2026-01-14T00:00:00\.000Z is not a window of schedule nightly \(1d windows in Europe\/Berlin; the one containing its start is 2026-01-12T23:00:00\.000Z\.\.2026-01-13T23:00:00\.000Z\)/,
        ],
        ['an unknown field', 'test.window', window('nightly', 6, { command: 'rm -rf /' }), /unknown field "command" in a window job/],
        [
          'an unknown params key',
          'test.window',
          window('nightly', 5, { params: { sleepMs: 0, shell: 'x' } }),
          /params of job test\.window have unknown key "shell"/,
        ],
        [
          'a name other than its job',
          'test.plain',
          window('nightly', 4),
          /the job is named "test\.plain" but its data says job "test\.window"/,
        ],
        [
          'an unknown kind',
          'shell.exec',
          { type: 'run', scheduleId: 'shell.exec', job: 'shell.exec', params: {} },
          /unknown job kind "shell\.exec"/,
        ],
        [
          'no type',
          'test.window',
          { scheduleId: 'nightly', job: 'test.window', ...win(7), params: {} },
          /type \(missing\) is neither "window" nor "run"/,
        ],
      ];
      const jobs: Job[] = [];
      for (const [, name, data] of forged) jobs.push(await queue.add(name, data, { attempts: 3, backoff: { type: 'fixed', delay: 10 } }));
      // What `ox-batch enqueue` makes: an aligned window of the schedule, and an unscheduled window of the kind.
      const legit = [
        await queue.add('test.window', window('nightly', 8), { attempts: 3 }),
        await queue.add(
          'test.window',
          {
            type: 'window',
            scheduleId: 'test.window',
            job: 'test.window',
            start: Date.UTC(2026, 1, 1, 5),
            end: Date.UTC(2026, 1, 1, 6, 30),
            params: {},
          },
          { attempts: 3 },
        ),
        await queue.add('test.plain', { type: 'run', scheduleId: 'hourly', job: 'test.plain', params: {} }, { attempts: 3 }),
      ];

      for (const [i, [what, , , reason]] of forged.entries()) {
        const failed = await failedJob(jobs[i]!.id!, `the job with ${what} to fail`);
        expect(failed.failedReason, what).toMatch(/^refused job data: /);
        expect(failed.failedReason, what).toMatch(reason);
        expect(failed.attemptsMade, `${what}: not retried`).toBe(1);
      }
      for (const job of legit) {
        await waitFor(
          async () => (await (await queue.getJob(job.id!))?.getState()) === 'completed',
          `legit job ${job.id} to complete`,
          20_000,
        );
      }
      // Nothing of the forged ones ran: only the legit runs are in the test job's log.
      expect((await redis.lrange(`${prefix}:test:done`, 0, -1)).sort()).toEqual([
        `nightly|${win(8).start}`,
        `test.window|${Date.UTC(2026, 1, 1, 5)}`,
      ]);
      expect(await redis.llen(`${prefix}:test:plain`)).toBe(1);
      for (const n of [0, 1, 2, 3, 4, 5, 7]) {
        expect(await ledger.getWindow({ scheduleId: 'nightly', ...win(n) }), `window ${n}`).toBeNull();
      }
      expect(await ledger.getWindow({ scheduleId: 'nope', ...win(0) })).toBeNull();
      expect(await ledger.getWindow({ scheduleId: 'nightly', start: Date.UTC(2026, 0, 13), end: Date.UTC(2026, 0, 14) })).toBeNull();
      expect(await ledger.getWindow({ scheduleId: 'nightly', ...win(6) })).toMatchObject({ state: 'queued' });
      expect(await ledger.getWindow({ scheduleId: 'nightly', ...win(8) })).toMatchObject({ state: 'done' });
    },
  );

  it(
    'what ox-batch enqueue writes passes the check of a worker with that config; this worker, without the schedule, refuses it and says why',
    { timeout: 90_000 },
    async () => {
      const configFile = join(dir, 'cli.yaml');
      await writeFile(
        configFile,
        'schedules:\n  nightly-export:\n    job: feedback.export\n    cron: "0 2 * * *"\n    tz: Europe/Berlin\n    window: 1d\n',
      );
      const env = { OXB_CONFIG: configFile, REDIS_URL, OXB_REDIS_PREFIX: prefix };
      const jobIds: string[] = [];
      for (const args of [
        ['enqueue', 'nightly-export', '--start', '2026-01-20', '--end', '2026-01-22'],
        ['enqueue', 'feedback.export', '--start', '2026-01-20T05:00:00Z', '--end', '2026-01-20T07:30:00Z', '--param', 'format=jsonl'],
        ['enqueue', 'ads.sync', '--param', 'catalog=/srv/catalog.yaml'],
      ]) {
        const enqueued = await runCli(bundle.entry, args, env);
        expect(enqueued.code, enqueued.stderr).toBe(0);
        jobIds.push(...(JSON.parse(enqueued.stdout.toString()) as { jobs: Array<{ jobId: string }> }).jobs.map((j) => j.jobId));
      }
      expect(jobIds).toHaveLength(4);
      const { checkJobData } = await import('../../src/queue/job-data.js');
      const { resolveSchedules } = await import('../../src/queue/schedules.js');
      const { loadConfig } = await import('../../src/config/load-config.js');
      const { jobKinds } = await import('../../jobs/index.js');
      const cliConfig = loadConfig({ file: configFile, env: { REDIS_URL, OXB_REDIS_PREFIX: prefix } });
      const context = { kinds: jobKinds, schedules: resolveSchedules(cliConfig, jobKinds) };
      // The test daemon runs the test kinds only, and its config lacks nightly-export: it refuses each.
      for (const id of jobIds) {
        const failed = await failedJob(id, `job ${id} refused`);
        expect(checkJobData(failed.name, failed.data, context), id).toMatchObject({ accepted: true });
        expect(failed.failedReason).toMatch(
          /^refused job data: unknown job kind "(feedback\.export|ads\.sync)" \(this worker knows: test\.window/,
        );
        expect(failed.attemptsMade).toBe(1);
      }
    },
  );
});
