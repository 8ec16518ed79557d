/**
 * `ox-batch start`: the long-running process. Depending on its role it
 *  - (scheduler) upserts one BullMQ Job Scheduler per schedule at every start and runs the
 *    `ticks` worker that turns each firing into window/run jobs (see tick.ts), with a watchdog
 *    that re-upserts a scheduler whose chain stopped (a known BullMQ failure mode);
 *  - (worker) runs one Worker on the `jobs` queue with the configured concurrency;
 *  - serves /healthz, /readyz, /metrics (and the dashboard) on the HTTP port.
 * A scheduler catches up at once — at start, and when Redis is back after an outage — by ticking
 * every windowed schedule the way its trigger would (`/readyz` says not ready until the startup
 * catch-up is queued), and runs the retry clock that queues failed windows again once
 * `retryFailedAfter` has passed.
 * `stop()` is the graceful shutdown, bounded by one budget (`worker.shutdownGraceMs` +
 * `worker.closeTimeoutMs`): stop taking jobs, give running ones the grace period, then abort
 * them (they go back to the queue); BullMQ's worker.close() can hang after the jobs are done
 * (taskforcesh/bullmq#4656), so the jobs are counted here and a hung close is left behind.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Worker, type Job, type Queue } from 'bullmq';
import type { Express } from 'express';
import type { Config } from '../config/schema.js';
import type { AnyJobKind } from '../job-kind.js';
import { createLogger, type Logger } from '../log/logger.js';
import { safeUrl } from '../log/secrets.js';
import { Metrics } from '../http/metrics.js';
import { mountDashboard } from '../http/dashboard.js';
import { mountWindowGrid } from '../http/window-grid.js';
import { startHttpServer, type ReadinessCheck, type RunningHttpServer } from '../http/http-server.js';
import { createServices, type ClosableServices } from '../services.js';
import { createLedger } from '../ledger/create-ledger.js';
import { createJobProcessor } from '../queue/job-processor.js';
import { checkJobData } from '../queue/job-data.js';
import { sweepSpoolAtStart } from '../delivery/spool-sweep.js';
import { describeError } from '../queue/attempt.js';
import { JOB_QUEUE, TICK_QUEUE, createQueue, retentionOptions, type JobData, type TickData } from '../queue/queues.js';
import { closeRedis, createRedis, type RedisClient } from '../redis/connection.js';
import { tickSchedulerId } from '../queue/job-ids.js';
import { resolveSchedules, type Schedule } from '../queue/schedules.js';
import { ScheduleState } from '../queue/schedule-state.js';
import { scheduleStatus, toFigures } from '../queue/schedule-status.js';
import { retryFailedWindows, tickSchedule, type TickContext, type TickReport } from '../queue/tick.js';
import { AlertNotifier, notificationsEnabled } from '../queue/alert-notifier.js';
import { bullmqTelemetry } from '../telemetry/tracing.js';
import { waitForRedis } from '../redis/wait-for-redis.js';

export type DaemonRole = 'all' | 'scheduler' | 'worker';

export interface DaemonOptions {
  config: Config;
  role?: DaemonRole;
  /** Jobs run at once in this process; default config.worker.concurrency. */
  concurrency?: number;
  /** HTTP port; default config.http.port; null: no HTTP server. */
  port?: number | null;
  /** Job kinds this process knows: the registry (jobs/index.ts), handed in by the CLI. */
  kinds: ReadonlyArray<AnyJobKind>;
  log?: Logger;
  now?: () => number;
  /** How often scheduler chains are checked (default 60 s). */
  watchdogIntervalMs?: number;
  /** How long to wait for Redis at start before giving up (default 30 s). */
  connectTimeoutMs?: number;
  /**
   * How often the retry clock looks for failed windows that are due (default: a quarter of the
   * shortest `retryFailedAfter`, within 1 s .. 60 s).
   */
  retryCheckIntervalMs?: number;
}

export { waitForRedis } from '../redis/wait-for-redis.js';

function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

/** How long a worker.close() may take once no job runs any more before it is left behind. */
const CLOSE_SETTLE_MS = 1_000;
/** Retry of a startup catch-up that failed (Redis error): readiness stays false meanwhile. */
const CATCH_UP_RETRY_MS = 5_000;

export class Daemon {
  http?: RunningHttpServer;
  tickWorker?: Worker<TickData>;
  jobWorker?: Worker<JobData>;
  private watchdog?: NodeJS.Timeout;
  private retryClock?: NodeJS.Timeout;
  private catchUpRetry?: NodeJS.Timeout;
  /** True once the startup catch-up has been queued (readiness). */
  private caughtUp = false;
  private recovering?: Promise<void>;
  private readonly onRedisReady = () => this.afterRedisOutage();
  /** Jobs and ticks this process is running now (counted here: worker.close() may hang). */
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  /** Failed / refused / overdue notifications (alerts.webhook, alerts.mailTo), in scheduler roles. */
  notifier?: AlertNotifier;
  /** This process among the scheduler replicas (the trigger-manager lease names it). */
  readonly instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private managerTtlMs = 180_000;

  private stopping?: Promise<void>;
  private shuttingDown = false;

  private constructor(
    readonly config: Config,
    readonly role: DaemonRole,
    readonly schedules: Schedule[],
    readonly kinds: ReadonlyArray<AnyJobKind>,
    readonly log: Logger,
    readonly metrics: Metrics,
    readonly redis: RedisClient,
    readonly workerRedis: RedisClient,
    readonly services: ClosableServices,
    readonly jobsQueue: Queue<JobData>,
    readonly ticksQueue: Queue<TickData>,
    readonly state: ScheduleState,
    readonly now: () => number,
  ) {}

  /** Validates the schedules (InputError, exit 2), connects, and starts the role's parts. */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const { config } = options;
    const role = options.role ?? 'all';
    const { kinds } = options;
    const schedules = resolveSchedules(config, kinds);
    const log = options.log ?? createLogger({ level: config.logging.level });
    const now = options.now ?? (() => Date.now());

    const redis = createRedis(config.redis.url, 'command', log, 'ox-batch');
    try {
      await waitForRedis(redis, config.redis.url, options.connectTimeoutMs ?? 30_000);
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    const workerRedis = createRedis(config.redis.url, 'worker', log, 'ox-batch-worker');
    const jobsQueue = createQueue<JobData>(JOB_QUEUE, config, redis, log);
    const ticksQueue = createQueue<TickData>(TICK_QUEUE, config, redis, log);
    const metrics = new Metrics({ defaultMetrics: true });
    const services = createServices(config, { log, redis, observer: metrics.oxObserver, now });
    const daemon = new Daemon(
      config,
      role,
      schedules,
      kinds,
      log,
      metrics,
      redis,
      workerRedis,
      services,
      jobsQueue,
      ticksQueue,
      new ScheduleState(redis, config.redis.prefix),
      now,
    );
    try {
      await daemon.begin(options);
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    return daemon;
  }

  private get ticksEnabled(): boolean {
    return this.role === 'all' || this.role === 'scheduler';
  }

  private get jobsEnabled(): boolean {
    return this.role === 'all' || this.role === 'worker';
  }

  private async begin(options: DaemonOptions): Promise<void> {
    const { config, log } = this;
    const workerSettings = {
      connection: this.workerRedis,
      prefix: config.redis.prefix,
      lockDuration: config.worker.lockDurationMs,
      stalledInterval: config.worker.stalledIntervalMs,
      maxStalledCount: 1,
      ...retentionOptions(config),
      ...bullmqTelemetry(),
    };

    if (this.ticksEnabled) {
      const every = options.watchdogIntervalMs ?? 60_000;
      this.managerTtlMs = 3 * every;
      await this.state.claimTriggerManager(this.instanceId, this.managerTtlMs);
      await this.upsertSchedulers();
      this.tickWorker = new Worker<TickData>(
        TICK_QUEUE,
        this.counted((job: Job<TickData>) => this.processTick(job)),
        { ...workerSettings, concurrency: 4 },
      );
      this.watchWorker(this.tickWorker, TICK_QUEUE);
      this.watchdog = setInterval(() => void this.checkSchedulers().catch((err) => log.warn({ err }, 'scheduler watchdog failed')), every);
      this.watchdog.unref();
      const retryEvery = options.retryCheckIntervalMs ?? retryCheckInterval(this.schedules);
      this.retryClock = setInterval(() => void this.retryFailed(), retryEvery);
      this.retryClock.unref();
    }
    if (this.jobsEnabled) {
      // Spool files a crashed worker of this host left (personal data) go before new ones come.
      await sweepSpoolAtStart({ config, redis: this.redis, log, by: 'daemon' });
      const processor = createJobProcessor({
        services: this.services,
        kinds: this.kinds,
        schedules: this.schedules,
        log,
        observer: this.metrics,
        isShuttingDown: () => this.shuttingDown,
        completionLedger: createLedger(this.workerRedis, config.redis.prefix),
      });
      this.jobWorker = new Worker<JobData>(JOB_QUEUE, this.counted(processor), {
        ...workerSettings,
        concurrency: options.concurrency ?? config.worker.concurrency,
      });
      this.watchWorker(this.jobWorker, JOB_QUEUE);
    }

    if (this.ticksEnabled && notificationsEnabled(config)) {
      this.notifier = new AlertNotifier({
        config,
        schedules: this.schedules,
        ledger: this.services.ledger,
        state: this.state,
        redis: this.redis,
        mailer: () => this.services.mailer,
        log,
        now: this.now,
      });
      this.notifier.start();
    }

    this.metrics.setSources({
      schedules: async () => {
        const now = this.now();
        const all = await Promise.all(
          this.schedules.map((s) => scheduleStatus({ ledger: this.services.ledger, state: this.state }, s, now)),
        );
        return all.map(toFigures);
      },
      queueCounts: async () => {
        const states = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized'] as const;
        return Promise.all(
          [this.jobsQueue, this.ticksQueue].map(async (q) => ({ queue: q.name, counts: await q.getJobCounts(...states) })),
        );
      },
    });

    const port = options.port === undefined ? config.http.port : options.port;
    if (port !== null) {
      this.http = await startHttpServer({
        host: config.http.host,
        port,
        metrics: this.metrics,
        readiness: () => this.readiness(),
        log,
        mountDashboard: (app) => this.mountDashboard(app),
      });
    }
    log.info(
      {
        role: this.role,
        redis: safeUrl(config.redis.url),
        prefix: config.redis.prefix,
        schedules: this.schedules.map((s) => s.id),
        concurrency: this.jobWorker?.concurrency,
      },
      'ox-batch daemon started',
    );
    if (this.ticksEnabled) {
      // Every later `ready` of the command connection is Redis back after an outage.
      this.redis.on('ready', this.onRedisReady);
      await this.startupCatchUp();
    }
  }

  /**
   * Wraps a processor so this process knows how many jobs it runs (see shutdown). It declares
   * all three parameters: BullMQ hands a processor the AbortSignal that cancelAllJobs() aborts
   * only when `processor.length >= 3`.
   */
  private counted<D, R>(
    processor: (job: Job<D>, token?: string, signal?: AbortSignal) => Promise<R>,
  ): (job: Job<D>, token?: string, signal?: AbortSignal) => Promise<R> {
    return async (job: Job<D>, token?: string, signal?: AbortSignal) => {
      this.running++;
      try {
        return await processor(job, token, signal);
      } finally {
        this.running--;
        if (this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      }
    };
  }

  private idle(): Promise<'idle'> {
    if (this.running === 0) return Promise.resolve('idle');
    return new Promise((resolve) => this.idleWaiters.push(() => resolve('idle')));
  }

  /**
   * Ticks every windowed schedule now, the same path as its trigger (the ledger decides, job ids
   * are deterministic: replicas starting together queue each window once), then runs the retry
   * clock once. Non-windowed schedules are left to their triggers: BullMQ runs a missed slot
   * once, late, when a worker is back. Answers the schedules whose catch-up failed.
   */
  async catchUp(reason: 'start' | 'redis-back'): Promise<string[]> {
    const failed: string[] = [];
    for (const schedule of this.schedules) {
      if (!schedule.window || this.shuttingDown) continue;
      try {
        const report = await tickSchedule(this.tickContext(), schedule);
        const counts = report.counts;
        if (counts && counts.queued + counts.requeued > 0) {
          this.log.info(
            { schedule: schedule.id, reason, ...counts, gaps: report.gaps },
            `catch-up (${reason}): queued what ${schedule.id} owes now, not at its next trigger`,
          );
        }
      } catch (err) {
        failed.push(schedule.id);
        this.log.warn({ schedule: schedule.id, reason, err }, 'catch-up failed; tried again shortly');
      }
    }
    await this.retryFailed();
    return failed;
  }

  /** The startup catch-up; until it is queued /readyz says not ready, and it is tried again. */
  private async startupCatchUp(): Promise<void> {
    const failed = await this.catchUp('start');
    if (failed.length === 0) {
      this.caughtUp = true;
      return;
    }
    if (this.shuttingDown) return;
    this.catchUpRetry = setTimeout(() => void this.startupCatchUp(), CATCH_UP_RETRY_MS);
    this.catchUpRetry.unref();
  }

  /**
   * Redis answered again after an outage (a restart, a failover): bring back triggers Redis may
   * have lost (trigger manager only), then catch up at once — windows that closed during the
   * outage are not left for the next trigger.
   */
  private afterRedisOutage(): void {
    if (this.shuttingDown || this.recovering) return;
    this.recovering = (async () => {
      this.log.info('redis is back: catching up now');
      await this.checkSchedulers().catch((err: unknown) =>
        this.log.warn({ err }, 'could not check the schedule triggers after the outage'),
      );
      const failed = await this.catchUp('redis-back');
      if (failed.length === 0) this.caughtUp = true;
    })().finally(() => {
      this.recovering = undefined;
    });
  }

  /** One run of the retry clock over every windowed schedule. */
  private async retryFailed(): Promise<void> {
    for (const schedule of this.schedules) {
      if (!schedule.window || this.shuttingDown) continue;
      await retryFailedWindows(this.tickContext(), schedule).catch((err: unknown) =>
        this.log.warn({ schedule: schedule.id, err }, 'retry clock: could not queue failed windows again'),
      );
    }
  }

  private mountDashboard(app: Express): void {
    // The grid first: the dashboard owns the rest of /ui.
    mountWindowGrid(
      app,
      {
        config: this.config,
        schedules: this.schedules,
        ledger: this.services.ledger,
        state: this.state,
        queue: this.jobsQueue,
        archive: () => this.services.archive,
        now: this.now,
      },
      this.config.ui,
      { log: this.log },
    );
    mountDashboard(app, [this.jobsQueue, this.ticksQueue], this.config.ui, {
      log: this.log,
      title: `ox-batch ${this.config.redis.prefix}`,
    });
  }

  private watchWorker(worker: Worker, queue: string): void {
    worker.on('error', (err) => this.log.warn({ queue, err: { message: err.message } }, 'worker error'));
    worker.on('failed', (job, err) => {
      if (!job) return;
      // By name, as BullMQ itself tells an UnrecoverableError (RefusedJobDataError keeps that name).
      const final = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
      this.log[final ? 'error' : 'warn'](
        { queue, jobId: job.id, attemptsMade: job.attemptsMade, reason: err.message },
        final
          ? err.name === 'UnrecoverableError'
            ? 'job failed: its error is permanent, no retry can fix it'
            : 'job failed: its attempts are used up (a window is queued again after retryFailedAfter)'
          : 'job failed; BullMQ retries it',
      );
      // A job that stalled too often is failed by BullMQ without running the processor: its
      // window would otherwise stay `running` in the ledger (status, metrics, --wait read it).
      const data = job.data as Partial<JobData>;
      // Refused job data (job-data.ts) is no window of ours: its "window" must not touch the ledger.
      if (final && data.type === 'window' && checkJobData(job.name, job.data, this).accepted) {
        this.services.ledger
          .markAbandoned({ scheduleId: data.scheduleId!, start: data.start!, end: data.end! }, data.job!, describeError(err))
          .catch((ledgerErr: unknown) => this.log.warn({ jobId: job.id, err: ledgerErr }, 'could not record the failed job in the ledger'));
      }
    });
    worker.on('stalled', (jobId) => this.log.warn({ queue, jobId }, 'job stalled (its worker died or blocked); queued again'));
  }

  /** Upserts every schedule's Job Scheduler and removes those of schedules no longer configured. */
  async upsertSchedulers(): Promise<void> {
    for (const schedule of this.schedules) await this.upsertScheduler(schedule);
    await this.removeUnknownSchedulers();
  }

  private async removeUnknownSchedulers(): Promise<void> {
    const wanted = new Set(this.schedules.map((s) => tickSchedulerId(s.id)));
    const existing = await this.ticksQueue.getJobSchedulers(0, -1);
    for (const scheduler of existing) {
      const id = scheduler.id ?? scheduler.key;
      if (id.startsWith('tick.') && !wanted.has(id)) {
        await this.ticksQueue.removeJobScheduler(id);
        this.log.info({ scheduler: id }, 'removed the trigger of a schedule that is no longer configured');
      }
    }
  }

  private async upsertScheduler(schedule: Schedule): Promise<void> {
    const repeat = schedule.cron !== undefined ? { pattern: schedule.cron, tz: schedule.tz } : { every: schedule.every! };
    await this.ticksQueue.upsertJobScheduler(tickSchedulerId(schedule.id), repeat, {
      name: 'tick',
      data: { type: 'tick', scheduleId: schedule.id },
      opts: { removeOnComplete: { count: 50 }, removeOnFail: { count: 200 } },
    });
  }

  /**
   * The watchdog, in the trigger manager only: re-upserts a scheduler that vanished or whose next
   * firing lies in the past (a broken chain) and removes triggers of schedules this process does
   * not have. Other processes leave the triggers alone: an older replica of a rolling deploy
   * would otherwise bring back a schedule the new configuration dropped (and remove new ones).
   * Returns whether this process manages the triggers.
   */
  async checkSchedulers(): Promise<boolean> {
    if (!(await this.state.keepTriggerManager(this.instanceId, this.managerTtlMs))) return false;
    const now = this.now();
    for (const schedule of this.schedules) {
      const scheduler = await this.ticksQueue.getJobScheduler(tickSchedulerId(schedule.id));
      const stale = !scheduler || (scheduler.next !== undefined && scheduler.next < now - 120_000);
      if (stale) {
        this.log.warn({ schedule: schedule.id, next: scheduler?.next }, 'schedule trigger missing or stuck; upserting it again');
        await this.upsertScheduler(schedule);
      }
    }
    await this.removeUnknownSchedulers();
    return true;
  }

  private tickContext(): TickContext {
    return {
      queue: this.jobsQueue,
      ledger: this.services.ledger,
      config: this.config,
      state: this.state,
      log: this.log,
      now: this.now,
      observer: this.metrics,
    };
  }

  private async processTick(job: Job<TickData>): Promise<TickReport | { ignored: string }> {
    const schedule = this.schedules.find((s) => s.id === job.data.scheduleId);
    if (!schedule) return { ignored: `schedule ${job.data.scheduleId} is not configured in this process` };
    const report = await tickSchedule(this.tickContext(), schedule, job.opts.prevMillis ?? job.timestamp);
    // Keep the stored job result small: counts, not every window.
    const { windows: _windows, ...summary } = report;
    return summary;
  }

  /** Runs one tick of a schedule now (tests, `ox-batch enqueue SCHEDULE` without a window). */
  async tick(scheduleId: string): Promise<TickReport> {
    const schedule = this.schedules.find((s) => s.id === scheduleId);
    if (!schedule) throw new Error(`unknown schedule ${scheduleId}`);
    return tickSchedule(this.tickContext(), schedule);
  }

  async readiness(): Promise<ReadinessCheck> {
    const checks: Record<string, boolean | string> = {};
    checks.redis =
      this.redis.status === 'ready' &&
      (await Promise.race([
        this.redis.ping().then(
          () => true,
          () => false,
        ),
        timeout(1000).then(() => false),
      ]));
    if (this.jobWorker) checks.jobWorker = this.jobWorker.isRunning() && !this.jobWorker.closing;
    if (this.tickWorker) checks.tickWorker = this.tickWorker.isRunning() && !this.tickWorker.closing;
    // A scheduler is ready once what the schedules owe at start is queued.
    if (this.ticksEnabled) checks.caughtUp = this.caughtUp;
    checks.shuttingDown = this.shuttingDown;
    const ready =
      checks.redis === true && checks.jobWorker !== false && checks.tickWorker !== false && checks.caughtUp !== false && !this.shuttingDown;
    return { ready, checks };
  }

  get stopRequested(): boolean {
    return this.shuttingDown;
  }

  /**
   * Graceful stop within one budget, `graceMs` (default config.worker.shutdownGraceMs) plus
   * config.worker.closeTimeoutMs: no new jobs; running ones get `graceMs`, then are aborted and
   * handed back to the queue; whatever still has not returned when the budget is used up (a
   * hung worker.close(), Redis gone) is left behind, and stop() resolves.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    this.stopping ??= this.shutdown(options.graceMs ?? this.config.worker.shutdownGraceMs);
    return this.stopping;
  }

  /** The whole shutdown's bound: what terminationGracePeriodSeconds must exceed. */
  static shutdownBudgetMs(config: Config, graceMs = config.worker.shutdownGraceMs): number {
    return graceMs + config.worker.closeTimeoutMs;
  }

  private async shutdown(graceMs: number): Promise<void> {
    const { log } = this;
    const started = Date.now();
    const budgetMs = Daemon.shutdownBudgetMs(this.config, graceMs);
    const deadline = started + budgetMs;
    const left = (cap = Infinity) => Math.max(0, Math.min(cap, deadline - Date.now()));
    this.shuttingDown = true;
    for (const timer of [this.watchdog, this.retryClock]) if (timer) clearInterval(timer);
    this.notifier?.stop();
    if (this.catchUpRetry) clearTimeout(this.catchUpRetry);
    this.redis.off('ready', this.onRedisReady);
    // Another scheduler replica takes the triggers over at its next watchdog run.
    if (this.ticksEnabled && this.redis.status === 'ready')
      await Promise.race([this.state.releaseTriggerManager(this.instanceId).catch(() => undefined), timeout(left(1_000))]);
    const workers = [this.tickWorker, this.jobWorker].filter((w) => w !== undefined);
    log.info(
      { graceMs, budgetMs, active: this.running },
      'stopping: no new jobs are taken; running jobs may finish within the grace period',
    );
    const closing = Promise.allSettled(workers.map((w) => w.close())).then(() => 'closed' as const);
    // Wait for the jobs themselves, not for close(): close() can hang after they are done.
    let outcome = await Promise.race([closing, this.idle(), timeout(left(graceMs))]);
    if (outcome === 'timeout') {
      log.warn({ active: this.running }, 'grace period over: aborting running jobs; they go back to the queue');
      for (const w of workers) w.cancelAllJobs('shutdown');
      outcome = await Promise.race([closing, this.idle(), timeout(left())]);
    }
    if (outcome !== 'closed') {
      if (this.running > 0) {
        log.error(
          { active: this.running },
          'shutdown budget used up with jobs still running; leaving them, they return to the queue after the stall interval',
        );
      } else if ((await Promise.race([closing, timeout(left(CLOSE_SETTLE_MS))])) === 'timeout') {
        // No job runs, yet close() has not returned: with Redis down it cannot, and with Redis up
        // it is BullMQ's hang on a reconnecting blocking connection (taskforcesh/bullmq#4656).
        const redisStatus = this.workerRedis.status;
        log.warn(
          { redis: redisStatus, budgetMs },
          redisStatus === 'ready'
            ? 'worker.close() has not returned although Redis answers and no job runs (BullMQ issue #4656); leaving it behind'
            : `worker.close() has not returned: the Redis connection is ${redisStatus}; leaving it behind`,
        );
      }
    }
    await Promise.race([this.http?.close().catch(() => undefined), timeout(left(2_000))]);
    await Promise.race([Promise.allSettled([this.jobsQueue.close(), this.ticksQueue.close(), this.services.close()]), timeout(left())]);
    await closeRedis(this.workerRedis, left(2_000));
    await closeRedis(this.redis, left(2_000));
    log.info({ ms: Date.now() - started, budgetMs }, 'stopped');
  }
}

/** A quarter of the shortest retryFailedAfter of the windowed schedules, within 1 s .. 60 s. */
function retryCheckInterval(schedules: readonly Schedule[]): number {
  const shortest = Math.min(...schedules.filter((s) => s.window).map((s) => s.retryFailedAfterMs));
  return Number.isFinite(shortest) ? Math.min(60_000, Math.max(1_000, Math.floor(shortest / 4))) : 60_000;
}
