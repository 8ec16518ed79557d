/**
 * The daemon's commands: start, schedules, pause, resume, run, enqueue, backfill, status.
 * Data (JSON results, tables) goes to stdout; log lines and progress go to stderr.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../redis/connection.js';
import type { Config } from '../../config/schema.js';
import { EXIT_FAILURE, EXIT_OK, InputError } from '../../errors.js';
import type { AnyJobKind } from '../../job-kind.js';
import type { Logger } from '../../log/logger.js';
import type { RedisLedger as RedisLedgerClass } from '../../ledger/redis-ledger.js';
import type { DaemonRole } from '../../daemon/daemon.js';
import type { EnqueueResult } from '../../queue/enqueue.js';
import type { JobData, TickData } from '../../queue/queues.js';
import type { AttemptOutcome } from '../../queue/attempt.js';
import type { ScheduleState as ScheduleStateClass } from '../../queue/schedule-state.js';
import type { Schedule } from '../../queue/schedules.js';
import type { Window } from '../../time/windows.js';
import { collect, configFor, parseParams, withRuntime } from '../cli-support.js';
import { commandRedis } from '../command-redis.js';

/**
 * What the daemon's commands use, imported when one of them runs (`withRuntime` hands it to the
 * action), not at start-up: BullMQ, ioredis, express and the AWS SDK behind the services are
 * more than `ox-batch --help` and the low-level OX commands should wait for.
 */
/** What the queue commands (schedules, pause, resume, enqueue, backfill, status) and `start` need; `run` has its own. */
async function loadDaemonRuntime() {
  const [
    progress,
    logger,
    ledger,
    time,
    redisWait,
    enqueue,
    lifecycle,
    queues,
    redisConnection,
    scheduleState,
    status,
    schedules,
    windows,
    closedWindow,
    tick,
    sweep,
    registry,
  ] = await Promise.all([
    import('cli-progress'),
    import('../../log/logger.js'),
    import('../../ledger/redis-ledger.js'),
    import('../../time/parse-time.js'),
    import('../../redis/wait-for-redis.js'),
    import('../../queue/enqueue.js'),
    import('../../queue/lifecycle.js'),
    import('../../queue/queues.js'),
    import('../../redis/connection.js'),
    import('../../queue/schedule-state.js'),
    import('../../queue/schedule-status.js'),
    import('../../queue/schedules.js'),
    import('../../time/windows.js'),
    import('../../queue/closed-window.js'),
    import('../../queue/tick.js'),
    import('../../delivery/spool-sweep.js'),
    import('../../../jobs/index.js'),
  ]);
  return {
    SingleBar: progress.SingleBar,
    Presets: progress.Presets,
    createLogger: logger.createLogger,
    RedisLedger: ledger.RedisLedger,
    parseInstant: time.parseInstant,
    waitForRedis: redisWait.waitForRedis,
    enqueueRun: enqueue.enqueueRun,
    enqueueWindows: enqueue.enqueueWindows,
    summarize: enqueue.summarize,
    stopOnSignals: lifecycle.stopOnSignals,
    JOB_QUEUE: queues.JOB_QUEUE,
    TICK_QUEUE: queues.TICK_QUEUE,
    createQueue: queues.createQueue,
    closeRedis: redisConnection.closeRedis,
    createRedis: redisConnection.createRedis,
    ScheduleState: scheduleState.ScheduleState,
    scheduleStatus: status.scheduleStatus,
    runningWindows: status.runningWindows,
    failedWindowList: status.failedWindowList,
    resolveSchedules: schedules.resolveSchedules,
    validateParams: schedules.validateParams,
    lastClosedWindow: windows.lastClosedWindow,
    windowsBetween: windows.windowsBetween,
    windowContaining: windows.windowContaining,
    assertWindowClosed: closedWindow.assertWindowClosed,
    requestCatchUp: tick.requestCatchUp,
    sweepSpoolAtStart: sweep.sweepSpoolAtStart,
    lastSweeps: sweep.lastSweeps,
    /** The job registry: this command line is the composition root that hands it to the engine. */
    kinds: registry.jobKinds as ReadonlyArray<AnyJobKind>,
  };
}

type DaemonRuntime = Awaited<ReturnType<typeof loadDaemonRuntime>>;

/**
 * `run` works in this process and queues nothing: it leaves BullMQ (and the queue modules that
 * load it) out, ~10 MB of peak RSS and ~0.1 s of start-up CPU less for every manual attempt
 * (measured with the export bench's (b) scenario). A purge that asks for a tick loads BullMQ then.
 */
async function loadRunRuntime() {
  const [logger, services, time, attempt, schedules, windows, closedWindow, sweep, registry] = await Promise.all([
    import('../../log/logger.js'),
    import('../../services.js'),
    import('../../time/parse-time.js'),
    import('../../queue/attempt.js'),
    import('../../queue/schedules.js'),
    import('../../time/windows.js'),
    import('../../queue/closed-window.js'),
    import('../../delivery/spool-sweep.js'),
    import('../../../jobs/index.js'),
  ]);
  return {
    createLogger: logger.createLogger,
    createServices: services.createServices,
    parseInstant: time.parseInstant,
    executeManualAttempt: attempt.executeManualAttempt,
    resolveSchedules: schedules.resolveSchedules,
    validateParams: schedules.validateParams,
    lastClosedWindow: windows.lastClosedWindow,
    windowsBetween: windows.windowsBetween,
    windowContaining: windows.windowContaining,
    assertWindowClosed: closedWindow.assertWindowClosed,
    sweepSpoolAtStart: sweep.sweepSpoolAtStart,
    kinds: registry.jobKinds as ReadonlyArray<AnyJobKind>,
  };
}

/** What resolving a target and its windows needs: the run runtime has it, so has the daemon one. */
type TargetRuntime = Pick<DaemonRuntime, 'parseInstant' | 'validateParams' | 'lastClosedWindow' | 'windowsBetween' | 'windowContaining'>;

/** `start` also needs the daemon (HTTP server, dashboard, workers): the other commands never load it. */
async function loadStartRuntime() {
  const [runtime, { Daemon }] = await Promise.all([loadDaemonRuntime(), import('../../daemon/daemon.js')]);
  return { ...runtime, Daemon };
}

function stderrLogger(runtime: Pick<DaemonRuntime, 'createLogger'>, config: Config): Logger {
  return runtime.createLogger({ level: config.logging.level, destination: 2 });
}

interface QueueSession {
  config: Config;
  log: Logger;
  kinds: ReadonlyArray<AnyJobKind>;
  schedules: Schedule[];
  redis: RedisClient;
  queue: Queue<JobData>;
  ledger: RedisLedgerClass;
  state: ScheduleStateClass;
}

type PreparedSession = Pick<QueueSession, 'config' | 'log' | 'kinds' | 'schedules'>;

/**
 * Config, schedules, the command's own input checks (`prepare`: bad input exits 2 without
 * waiting for Redis), then a fail-fast Redis client and the jobs queue.
 */
async function withQueue<T, P>(
  runtime: DaemonRuntime,
  command: Command,
  fn: (session: QueueSession, prepared: P) => Promise<T>,
  prepare?: (session: PreparedSession) => P,
): Promise<T> {
  const config = await configFor(command);
  const log = stderrLogger(runtime, config);
  const kinds = runtime.kinds;
  const schedules = runtime.resolveSchedules(config, kinds);
  const prepared = prepare ? prepare({ config, log, kinds, schedules }) : (undefined as P);
  const redis = runtime.createRedis(config.redis.url, 'producer', undefined, 'ox-batch-cli');
  try {
    await runtime.waitForRedis(redis, config.redis.url, 10_000);
    const queue = runtime.createQueue<JobData>(runtime.JOB_QUEUE, config, redis, log);
    try {
      return await fn(
        {
          config,
          log,
          kinds,
          schedules,
          redis,
          queue,
          ledger: new runtime.RedisLedger(redis, config.redis.prefix),
          state: new runtime.ScheduleState(redis, config.redis.prefix),
        },
        prepared,
      );
    } finally {
      await queue.close().catch(() => undefined);
    }
  } finally {
    await runtime.closeRedis(redis);
  }
}

interface Target {
  kind: AnyJobKind;
  scheduleId: string;
  schedule?: Schedule;
  params: unknown;
  attempts: number;
}

/** `JOB|SCHEDULE` plus `--param`s: a schedule id first, else a job kind name. */
function resolveTarget(
  runtime: TargetRuntime,
  name: string,
  session: Pick<QueueSession, 'config' | 'kinds' | 'schedules'>,
  paramPairs: string[] | undefined,
): Target {
  const extra = parseParams(paramPairs);
  const schedule = session.schedules.find((s) => s.id === name);
  if (schedule) {
    const raw = { ...(session.config.schedules[name]?.params ?? {}), ...extra };
    return {
      kind: schedule.kind,
      scheduleId: schedule.id,
      schedule,
      params: runtime.validateParams(schedule.kind, raw, `schedule ${name}`),
      attempts: schedule.attempts,
    };
  }
  const kind = session.kinds.find((k) => k.name === name);
  if (!kind) {
    const schedules = session.schedules.map((s) => s.id).join(', ') || 'none';
    const jobs = session.kinds.map((k) => k.name).join(', ') || 'none';
    throw new InputError(`"${name}" is neither a schedule (${schedules}) nor a job kind (${jobs})`);
  }
  return { kind, scheduleId: kind.name, params: runtime.validateParams(kind, extra, `job ${name}`), attempts: 5 };
}

interface WindowOptions {
  start?: string;
  end?: string;
  /** `run --open`: the window containing now (a preview) when no --start/--end is given. */
  open?: boolean;
}

/** The windows a command works on: aligned windows of a schedule, or one exact window of a job. */
function targetWindows(runtime: TargetRuntime, target: Target, options: WindowOptions, config: Config, now: number): Window[] {
  if (!target.kind.windowed) {
    if (options.start !== undefined || options.end !== undefined)
      throw new InputError(`job ${target.kind.name} does not work on time windows: drop --start/--end`);
    return [];
  }
  if ((options.start === undefined) !== (options.end === undefined)) throw new InputError('give both --start and --end, or neither');
  const schedule = target.schedule;
  const tz = schedule?.tz ?? config.timezone;
  if (options.start === undefined || options.end === undefined) {
    if (!schedule?.window)
      throw new InputError(`job ${target.kind.name} works on time windows: give --start and --end (or name a schedule)`);
    if (options.open) return [runtime.windowContaining(schedule.window, schedule.tz, now)];
    return [runtime.lastClosedWindow(schedule.window, schedule.tz, now, schedule.lagMs)];
  }
  const start = runtime.parseInstant(options.start, tz, '--start');
  const end = runtime.parseInstant(options.end, tz, '--end');
  if (!(end > start)) throw new InputError(`--end ${options.end} is not after --start ${options.start}`);
  if (schedule?.window) return runtime.windowsBetween(schedule.window, schedule.tz, start, end);
  return [{ start, end }];
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function table(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return '(none)\n';
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((r) => columns.map((c) => (r[c] === undefined || r[c] === null ? '-' : String(r[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[line(columns), ...cells.map(line)].join('\n')}\n`;
}

function progressBar(runtime: DaemonRuntime, total: number, label: string): { increment(): void; stop(): void } {
  if (!process.stderr.isTTY || total <= 1) return { increment: () => undefined, stop: () => undefined };
  const bar = new runtime.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta_formatted}`, stream: process.stderr, hideCursor: true },
    runtime.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { increment: () => bar.increment(), stop: () => bar.stop() };
}

/**
 * Waits until every window is done or failed in the ledger (runs: until their jobs finished).
 * Returns the number that failed.
 */
async function waitForJobs(runtime: DaemonRuntime, session: QueueSession, scheduleId: string, results: EnqueueResult[]): Promise<number> {
  const open = new Map(results.filter((r) => r.status !== 'done').map((r) => [r.jobId, r]));
  const bar = progressBar(runtime, open.size, 'running');
  let failed = 0;
  while (open.size > 0) {
    for (const [jobId, r] of [...open]) {
      let finished: 'done' | 'failed' | undefined;
      if (r.window) {
        const record = await session.ledger.getWindow({ scheduleId, ...r.window });
        if (record?.state === 'done') finished = 'done';
        else if (record?.state === 'failed') finished = 'failed';
      } else {
        const job = await session.queue.getJob(jobId);
        const state = job ? await job.getState() : 'completed';
        if (state === 'completed') finished = 'done';
        else if (state === 'failed') finished = 'failed';
      }
      if (finished) {
        open.delete(jobId);
        bar.increment();
        if (finished === 'failed') {
          failed++;
          const reason = r.window
            ? (await session.ledger.getWindow({ scheduleId, ...r.window }))?.lastError
            : (await session.queue.getJob(jobId))?.failedReason;
          process.stderr.write(`failed: ${jobId}: ${reason ?? 'unknown reason'}\n`);
        }
      }
    }
    if (open.size > 0) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  bar.stop();
  return failed;
}

export function registerDaemonCommands(program: Command): void {
  program
    .command('start')
    .description('run the daemon: schedule triggers, workers, /healthz /readyz /metrics (until SIGTERM/SIGINT)')
    .addOption(new Option('--role <role>', 'what this process does').choices(['all', 'scheduler', 'worker']).default('all'))
    .option('--concurrency <n>', 'jobs run at once by this process (default worker.concurrency)', (v) => positiveInt(v, '--concurrency'))
    .option('--port <port>', 'HTTP port for health, metrics and the dashboard (default http.port)', (v) => portNumber(v))
    .action(
      withRuntime(
        loadStartRuntime,
        async (runtime, options: { role: DaemonRole; concurrency?: number; port?: number }, command: Command) => {
          const config = await configFor(command);
          const log = runtime.createLogger({ level: config.logging.level });
          const daemon = await runtime.Daemon.start({
            config,
            kinds: runtime.kinds,
            role: options.role,
            concurrency: options.concurrency,
            port: options.port,
            log,
          });
          const code = await runtime.stopOnSignals(daemon, log);
          // A handle left behind by a hung close must not keep the process alive after a clean stop.
          setTimeout(() => process.exit(code), 1000).unref();
          return code;
        },
      ),
    );

  program
    .command('schedules')
    .description('configured schedules: trigger, zone, next run, paused, watermark, lag, failed windows')
    .option('--json', 'print JSON instead of a table')
    .action(
      withRuntime(loadDaemonRuntime, async (runtime, options: { json?: boolean }, command: Command) => {
        await withQueue(runtime, command, async (session) => {
          const now = Date.now();
          const all = await Promise.all(session.schedules.map((s) => runtime.scheduleStatus(session, s, now)));
          if (options.json) return printJson(all);
          process.stdout.write(
            table(
              all.map((s) => ({
                schedule: s.id,
                job: s.job,
                trigger: s.trigger,
                tz: s.tz,
                window: s.window,
                next: s.next,
                paused: s.paused ? 'yes' : 'no',
                watermark: s.watermark,
                lag: s.lagSeconds === undefined ? undefined : formatSeconds(s.lagSeconds),
                failed: s.failedWindows,
                gaps: s.gaps,
              })),
            ),
          );
        });
      }),
    );

  for (const paused of [true, false]) {
    program
      .command(paused ? 'pause' : 'resume')
      .argument('<schedule>', 'schedule id')
      .description(
        paused
          ? 'stop queueing new work for a schedule (running jobs finish)'
          : 'queue work for a paused schedule again (what it missed is queued now by the running scheduler)',
      )
      .action(
        withRuntime(loadDaemonRuntime, async (runtime, id: string, _options: unknown, command: Command) => {
          await withQueue(
            runtime,
            command,
            async (session) => {
              await session.state.setPaused(id, paused);
              if (!paused && session.config.schedules[id]?.paused) {
                process.stderr.write(`note: schedules.${id}.paused is true in the config; that keeps it paused\n`);
              } else if (!paused) {
                // Catch up now, through the ticks queue: the scheduler ticks it like a trigger.
                const ticks = runtime.createQueue<TickData>(runtime.TICK_QUEUE, session.config, session.redis, session.log);
                try {
                  await runtime.requestCatchUp(ticks, id);
                } finally {
                  await ticks.close().catch(() => undefined);
                }
              }
              process.stderr.write(`${id}: ${paused ? 'paused' : 'resumed; a running scheduler queues what it missed now'}\n`);
            },
            (session) => {
              if (!session.schedules.some((s) => s.id === id))
                throw new InputError(`unknown schedule "${id}" (configured: ${session.schedules.map((s) => s.id).join(', ') || 'none'})`);
            },
          );
        }),
      );
  }

  program
    .command('run')
    .argument('<target>', 'schedule id or job kind')
    .description('run a job now in this process (no queue), record it in the ledger, print the result as JSON')
    .option('--start <time>', 'window start (ISO 8601 or epoch ms); a schedule runs each aligned window in range')
    .option('--end <time>', 'window end (exclusive)')
    .option('--param <key=value>', 'job parameter (repeatable; JSON values allowed)', collect, [])
    .option('--dry-run', 'show what would happen, change nothing')
    .option('--force', 'run windows the ledger has as done, or as running elsewhere, again')
    .option('--open', 'preview a window that has not closed yet: archived under preview/…, never mailed, never recorded as done')
    .action(
      withRuntime(
        loadRunRuntime,
        async (
          runtime,
          name: string,
          options: WindowOptions & { param: string[]; dryRun?: boolean; force?: boolean; open?: boolean },
          command: Command,
        ) => {
          const config = await configFor(command);
          const log = stderrLogger(runtime, config);
          const kinds = runtime.kinds;
          const schedules = runtime.resolveSchedules(config, kinds);
          const target = resolveTarget(runtime, name, { config, kinds, schedules }, options.param);
          const windows = targetWindows(runtime, target, options, config, Date.now());
          // Refuse the whole command before anything runs (exit 2, nothing changed); executeAttempt
          // checks every window again.
          if (options.open && !target.kind.windowed)
            throw new InputError(`job ${target.kind.name} does not work on time windows: --open previews an open window`);
          for (const window of windows)
            runtime.assertWindowClosed(config, target.scheduleId, window, Date.now(), {
              mode: options.open ? 'preview' : options.dryRun ? 'dry-run' : 'run',
            });
          const redis = await commandRedis(config.redis.url);
          const services = runtime.createServices(config, { log, redis: redis.redis });
          const controller = new AbortController();
          const onSignal = () => controller.abort(new Error('interrupted'));
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          const outcomes: AttemptOutcome[] = [];
          let sweeping: Promise<unknown> | undefined;
          try {
            await redis.ready; // the ledger lives there: say at once when it does not answer
            // Beside the job, not before it: the sweep removes only dead processes' files.
            if (!options.dryRun) sweeping = runtime.sweepSpoolAtStart({ config, redis: redis.redis, log, by: 'run' });
            for (const window of windows.length > 0 ? windows : [undefined]) {
              outcomes.push(
                await runtime.executeManualAttempt({
                  kind: target.kind,
                  services,
                  scheduleId: target.scheduleId,
                  window,
                  params: target.params,
                  dryRun: options.dryRun === true,
                  force: options.force === true,
                  preview: options.open === true,
                  signal: controller.signal,
                }),
              );
              if (controller.signal.aborted) break;
            }
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
            await sweeping; // never rejects: runtime.sweepSpoolAtStart logs its own failures
            await services.close();
            await redis.close();
          }
          const shown = outcomes.map((o) =>
            o.window ? { ...o, window: { start: new Date(o.window.start).toISOString(), end: new Date(o.window.end).toISOString() } } : o,
          );
          printJson(shown.length === 1 ? shown[0] : shown);
          // A refused job (e.g. a purge without a verified archive) or bad input exits 2: nothing changed.
          return outcomes.some((o) => o.status === 'failed')
            ? Math.max(...outcomes.map((o) => o.exitCode ?? EXIT_OK), EXIT_FAILURE)
            : EXIT_OK;
        },
      ),
    );

  program
    .command('enqueue')
    .argument('<target>', 'schedule id or job kind')
    .description('queue a job for the workers (one per window of a schedule in range)')
    .option('--start <time>', 'window start (ISO 8601 or epoch ms)')
    .option('--end <time>', 'window end (exclusive)')
    .option('--param <key=value>', 'job parameter (repeatable)', collect, [])
    .option('--force', 'queue windows the ledger has as done again')
    .option('--wait', 'wait until the jobs finished; exit 1 if any failed')
    .action(
      withRuntime(
        loadDaemonRuntime,
        async (runtime, name: string, options: WindowOptions & { param: string[]; force?: boolean; wait?: boolean }, command: Command) => {
          return withQueue(
            runtime,
            command,
            async (session, { target, windows }: { target: Target; windows: Window[] }) => {
              let results: EnqueueResult[];
              if (target.kind.windowed) {
                results = await runtime.enqueueWindows(
                  session,
                  windows.map((window) => ({
                    scheduleId: target.scheduleId,
                    kind: target.kind,
                    window,
                    params: target.params,
                    attempts: target.attempts,
                    force: options.force === true,
                  })),
                );
              } else {
                results = [
                  await runtime.enqueueRun(session, {
                    scheduleId: target.scheduleId,
                    kind: target.kind,
                    params: target.params,
                    attempts: target.attempts,
                    at: Date.now(),
                  }),
                ];
              }
              return report(runtime, session, target.scheduleId, results, options.wait === true);
            },
            (session) => {
              const target = resolveTarget(runtime, name, session, options.param);
              return { target, windows: targetWindows(runtime, target, options, session.config, Date.now()) };
            },
          );
        },
      ),
    );

  program
    .command('backfill')
    .argument('<schedule>', 'schedule id (windowed)')
    .description('queue one job per window of a schedule in [from, to); windows already done are skipped unless --force')
    .requiredOption('--from <time>', 'first window: the one containing this time (ISO 8601, a date means midnight in the schedule zone)')
    .requiredOption('--to <time>', 'end of the range (exclusive)')
    .option('--force', 'run windows that are already done again')
    .option('--wait', 'wait until the jobs finished; exit 1 if any failed')
    .action(
      withRuntime(
        loadDaemonRuntime,
        async (runtime, id: string, options: { from: string; to: string; force?: boolean; wait?: boolean }, command: Command) => {
          return withQueue(
            runtime,
            command,
            async (session, { schedule, windows }: { schedule: Schedule; windows: Window[] }) => {
              const bar = progressBar(runtime, windows.length, 'queueing');
              const results = await runtime.enqueueWindows(
                session,
                windows.map((window) => ({
                  scheduleId: id,
                  kind: schedule.kind,
                  window,
                  params: schedule.params,
                  attempts: schedule.attempts,
                  force: options.force === true,
                })),
                { onEach: () => bar.increment() },
              );
              bar.stop();
              return report(runtime, session, id, results, options.wait === true);
            },
            (session) => {
              const schedule = session.schedules.find((s) => s.id === id);
              if (!schedule)
                throw new InputError(`unknown schedule "${id}" (configured: ${session.schedules.map((s) => s.id).join(', ') || 'none'})`);
              if (!schedule.window)
                throw new InputError(`schedule ${id}: job ${schedule.kind.name} does not work on time windows; use ox-batch enqueue ${id}`);
              const from = runtime.parseInstant(options.from, schedule.tz, '--from');
              const to = runtime.parseInstant(options.to, schedule.tz, '--to');
              if (!(to > from)) throw new InputError(`--to ${options.to} is not after --from ${options.from}`);
              return { schedule, windows: runtime.windowsBetween(schedule.window, schedule.tz, from, to) };
            },
          );
        },
      ),
    );

  program
    .command('status')
    .description(
      'queue counts by state, failed jobs, running and failed windows (retry rounds, next retry), per schedule: lag, owed, queued, next retry; spool sweeps',
    )
    .option('--json', 'print JSON instead of tables')
    .option('--failed <n>', 'failed jobs shown', (v) => positiveInt(v, '--failed'), 20)
    .action(
      withRuntime(loadDaemonRuntime, async (runtime, options: { json?: boolean; failed: number }, command: Command) => {
        await withQueue(runtime, command, async (session) => {
          const ticks = runtime.createQueue(runtime.TICK_QUEUE, session.config, session.redis, session.log);
          try {
            const states = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;
            const queues = {
              [runtime.JOB_QUEUE]: await session.queue.getJobCounts(...states),
              [runtime.TICK_QUEUE]: await ticks.getJobCounts(...states),
            };
            const failedJobs = (await session.queue.getFailed(0, options.failed - 1)).map((j) => ({
              id: j.id,
              job: j.name,
              attempts: j.attemptsMade,
              failedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : undefined,
              reason: j.failedReason,
            }));
            const now = Date.now();
            const schedules = await Promise.all(session.schedules.map((s) => runtime.scheduleStatus(session, s, now)));
            const running = (
              await Promise.all(session.schedules.map((s, i) => runtime.runningWindows(session.ledger, s, schedules[i]!)))
            ).flat();
            const mailClaims = (await session.ledger.openMailClaims(now)).map((c) => ({
              schedule: c.scheduleId,
              windowStart: new Date(c.start).toISOString(),
              address: c.address,
              state: c.state,
              via: c.via,
              owner: c.owner,
              messageId: c.messageId,
              ...(c.leaseUntil ? { leaseUntil: new Date(c.leaseUntil).toISOString() } : {}),
            }));
            const failedWindows = (
              await Promise.all(session.schedules.map((s) => runtime.failedWindowList(session.ledger, s, options.failed)))
            ).flat();
            const spoolSweeps = await runtime.lastSweeps(session.redis, session.config.redis.prefix);
            if (options.json) return printJson({ queues, failedJobs, running, failedWindows, mailClaims, schedules, spoolSweeps });
            process.stdout.write(`queues\n${table(Object.entries(queues).map(([queue, counts]) => ({ queue, ...counts })))}\n`);
            process.stdout.write(`failed jobs\n${table(failedJobs)}\n`);
            process.stdout.write(`running windows\n${table(running.map((r) => ({ ...r })))}\n`);
            process.stdout.write(
              `failed windows\n${table(
                failedWindows.map((f) => ({
                  schedule: f.schedule,
                  window: f.window,
                  attempts: f.attempts,
                  rounds: f.retryRounds,
                  nextRetry: f.permanent ? 'no: permanent error, needs an operator' : (f.nextRetryAt ?? 'no: maxRetries used up'),
                  reason: f.reason,
                })),
              )}\n`,
            );
            if (mailClaims.length > 0)
              process.stdout.write(
                `mails in flight or of unknown outcome (in-flight: mailed again with the same Message-ID if its sender dies; unknown: an interrupted OX send, sent again only with --force)\n${table(mailClaims)}\n`,
              );
            const reexport = schedules.flatMap((s) => (s.reexport ?? []).map((r) => ({ schedule: s.id, ...r })));
            if (reexport.length > 0)
              process.stdout.write(
                `windows to re-export (OX holds rows their archive lacks; the purge stops before them)\n${table(reexport)}\n`,
              );
            process.stdout.write(
              `schedules\n${table(
                schedules.map((s) => ({
                  schedule: s.id,
                  paused: s.paused ? 'yes' : 'no',
                  watermark: s.watermark,
                  lag: s.lagSeconds === undefined ? undefined : formatSeconds(s.lagSeconds),
                  owed: s.owed,
                  queued: s.queued,
                  failed: s.failedWindows,
                  nextRetry: s.nextRetryAt,
                  gaps: s.gaps,
                  lastTick: s.lastTickAt,
                  lastRun: s.lastRun ? `${s.lastRun.state} ${s.lastRun.finishedAt}` : undefined,
                })),
              )}`,
            );
            process.stdout.write(
              `\nspool sweeps (files crashed processes left)\n${table(
                spoolSweeps.map(({ host, dir, last, lastRemoval }) => ({
                  host,
                  dir,
                  lastSweep: `${new Date(last.at).toISOString()} ${last.by}`,
                  removed: last.removed,
                  keptLive: last.keptLive,
                  keptOther: last.keptOther,
                  lastRemoval: lastRemoval
                    ? `${new Date(lastRemoval.at).toISOString()} ${lastRemoval.by}: ${lastRemoval.removed} file(s), ${lastRemoval.removedBytes} bytes`
                    : undefined,
                  errors: last.errors.length > 0 ? last.errors.join('; ') : undefined,
                })),
              )}`,
            );
          } finally {
            await ticks.close().catch(() => undefined);
          }
        });
      }),
    );
}

async function report(
  runtime: DaemonRuntime,
  session: QueueSession,
  scheduleId: string,
  results: EnqueueResult[],
  wait: boolean,
): Promise<number> {
  const summary = runtime.summarize(results);
  process.stderr.write(
    `${scheduleId}: ${summary.queued} queued, ${summary.requeued} failed ones queued again, ${summary.pending} already queued or running, ${summary.done} already done\n`,
  );
  printJson({
    scheduleId,
    ...summary,
    jobs: results.map((r) => ({
      jobId: r.jobId,
      status: r.status,
      ...(r.window ? { start: new Date(r.window.start).toISOString(), end: new Date(r.window.end).toISOString() } : {}),
    })),
  });
  if (!wait) return EXIT_OK;
  const failed = await waitForJobs(runtime, session, scheduleId, results);
  process.stderr.write(failed > 0 ? `${failed} job(s) failed\n` : 'all jobs done\n');
  return failed > 0 ? EXIT_FAILURE : EXIT_OK;
}

function positiveInt(value: string, what: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${what}: "${value}" is not a positive whole number`);
  return Number(value);
}

function portNumber(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError(`--port: "${value}" is not a port number`);
  return Number(value);
}

function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)}h`;
  return `${(seconds / 86_400).toFixed(1)}d`;
}
