/**
 * Prometheus metrics of one ox-batch process. The names are a contract (dashboards, alerts and
 * docs use them): deploy/grafana, deploy/prometheus and the README's metrics table. The job kind
 * is the label `kind`: a label `job` would collide with Prometheus' own scrape label (and turn
 * into `exported_job`). A registry per process (not prom-client's global one), so
 * tests and the benchmark can run several daemons in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OxRequestObserver } from '../ox/types.js';
import type { AttemptResult, QueueObserver, ScheduleFigures } from '../queue/observer.js';
import { toolVersion } from '../version.js';

export const METRIC_NAMES = [
  'oxb_job_runs_total',
  'oxb_job_duration_seconds',
  'oxb_ox_requests_total',
  'oxb_ox_request_duration_seconds',
  'oxb_schedule_watermark_lag_seconds',
  'oxb_schedule_failed_windows',
  'oxb_schedule_gap_windows',
  'oxb_schedule_overdue_windows',
  'oxb_schedule_last_run_failed',
  'oxb_build_info',
  'oxb_queue_jobs',
  'oxb_job_rows_total',
  'oxb_job_bytes_total',
  'oxb_window_retry_rounds_total',
] as const;

const SOURCE_DEADLINE_MS = 3_000;

let processRegistry: Registry | undefined;

/**
 * The process metrics (CPU, memory, GC, event-loop delay), collected once per process: their
 * collectors (a GC observer, an event-loop delay monitor) cannot be stopped, so a registry per
 * daemon would pile them up where several daemons start in one process (tests, the benchmark).
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    // prom-client's names already start with process_ / nodejs_: oxb_process_cpu_seconds_total.
    collectDefaultMetrics({ register: processRegistry, prefix: 'oxb_' });
  }
  return processRegistry;
}

/** The value, or undefined when it fails or takes longer than `ms`. */
async function withinDeadline<T>(promise: Promise<T> | undefined, ms: number): Promise<T | undefined> {
  if (!promise) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.catch(() => undefined),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export type { AttemptResult, ScheduleFigures };

export interface MetricsSources {
  schedules?: () => Promise<ScheduleFigures[]>;
  queueCounts?: () => Promise<Array<{ queue: string; counts: Record<string, number> }>>;
}

/** The process's metrics; what the queue reports (QueueObserver) becomes counters here. */
export class Metrics implements QueueObserver {
  readonly registry: Registry;
  readonly jobRuns: Counter<'kind' | 'schedule' | 'result'>;
  readonly jobDuration: Histogram<'kind'>;
  readonly oxRequests: Counter<'operation' | 'status'>;
  readonly oxRequestDuration: Histogram<'operation'>;
  readonly watermarkLag: Gauge<'schedule'>;
  readonly failedWindows: Gauge<'schedule'>;
  readonly gapWindows: Gauge<'schedule'>;
  readonly reexportWindows: Gauge<'schedule'>;
  readonly overdueWindows: Gauge<'schedule'>;
  readonly lastRunFailed: Gauge<'schedule' | 'kind' | 'reason'>;
  readonly buildInfo: Gauge<'version' | 'node'>;
  readonly queueJobs: Gauge<'queue' | 'state'>;
  readonly jobRows: Counter<'kind' | 'schedule'>;
  readonly jobBytes: Counter<'kind' | 'schedule'>;
  readonly retryRounds: Counter<'schedule'>;
  private sources: MetricsSources = {};
  private readonly withProcessMetrics: boolean;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    const registers = [this.registry];
    this.jobRuns = new Counter({
      name: 'oxb_job_runs_total',
      help: 'Job runs by job kind, schedule and result (done, failed, retry, skipped, aborted)',
      labelNames: ['kind', 'schedule', 'result'],
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'oxb_job_duration_seconds',
      help: 'Duration of job runs by job kind',
      labelNames: ['kind'],
      registers,
      buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200],
    });
    this.oxRequests = new Counter({
      name: 'oxb_ox_requests_total',
      help: 'HTTP requests to OX by operation and status (each retry counts)',
      labelNames: ['operation', 'status'],
      registers,
    });
    this.oxRequestDuration = new Histogram({
      name: 'oxb_ox_request_duration_seconds',
      help: 'OX request latency until the response headers (exports: whole body)',
      labelNames: ['operation'],
      registers,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    });
    this.watermarkLag = new Gauge({
      name: 'oxb_schedule_watermark_lag_seconds',
      help: 'Now minus the end of the contiguous run of done windows',
      labelNames: ['schedule'],
      registers,
    });
    this.failedWindows = new Gauge({
      name: 'oxb_schedule_failed_windows',
      help: 'Windows whose last run failed',
      labelNames: ['schedule'],
      registers,
    });
    this.gapWindows = new Gauge({
      name: 'oxb_schedule_gap_windows',
      help: 'Windows after the watermark older than catchUp that are not done (need a backfill)',
      labelNames: ['schedule'],
      registers,
    });
    this.reexportWindows = new Gauge({
      name: 'oxb_schedule_reexport_windows',
      help: 'Done windows where the purge counted rows in OX their archive lacks (not deleted; queued for re-export)',
      labelNames: ['schedule'],
      registers,
    });
    this.overdueWindows = new Gauge({
      name: 'oxb_schedule_overdue_windows',
      help: 'Closed windows not done by end + lag + alertAfter (runs: 1 when none succeeded for a period + alertAfter)',
      labelNames: ['schedule'],
      registers,
    });
    this.lastRunFailed = new Gauge({
      name: 'oxb_schedule_last_run_failed',
      help: 'Non-windowed schedules (purge, ads sync): 1 when the last run failed (reason failed) or was refused by a guard (reason refused)',
      labelNames: ['schedule', 'kind', 'reason'],
      registers,
    });
    this.buildInfo = new Gauge({
      name: 'oxb_build_info',
      help: 'Always 1: the ox-batch version and Node.js version of this process',
      labelNames: ['version', 'node'],
      registers,
    });
    this.buildInfo.set({ version: toolVersion(), node: process.versions.node }, 1);
    this.queueJobs = new Gauge({
      name: 'oxb_queue_jobs',
      help: 'BullMQ jobs by queue and state',
      labelNames: ['queue', 'state'],
      registers,
    });
    this.jobRows = new Counter({
      name: 'oxb_job_rows_total',
      help: 'Rows processed by jobs (from the result field rows)',
      labelNames: ['kind', 'schedule'],
      registers,
    });
    this.jobBytes = new Counter({
      name: 'oxb_job_bytes_total',
      help: 'Bytes produced by jobs (from the result field bytes)',
      labelNames: ['kind', 'schedule'],
      registers,
    });
    this.retryRounds = new Counter({
      name: 'oxb_window_retry_rounds_total',
      help: 'Failed windows queued again by the retry clock (each a new round of attempts)',
      labelNames: ['schedule'],
      registers,
    });
    this.withProcessMetrics = options.defaultMetrics === true;
    if (this.withProcessMetrics) processMetrics();
  }

  setSources(sources: MetricsSources): void {
    this.sources = sources;
  }

  private async collectFromSources(): Promise<void> {
    // While Redis is down its commands wait out their retries (a minute and more): a scrape
    // must still answer with the process and OX metrics, so the Redis-read gauges get a deadline.
    const [schedules, queues] = await Promise.all([
      withinDeadline(this.sources.schedules?.(), SOURCE_DEADLINE_MS),
      withinDeadline(this.sources.queueCounts?.(), SOURCE_DEADLINE_MS),
    ]);
    if (schedules) {
      // Reset first: a schedule removed from the config must not keep its last values.
      for (const gauge of [
        this.watermarkLag,
        this.failedWindows,
        this.gapWindows,
        this.reexportWindows,
        this.overdueWindows,
        this.lastRunFailed,
      ])
        gauge.reset();
      for (const s of schedules) {
        if (s.watermarkLagSeconds !== undefined) this.watermarkLag.set({ schedule: s.scheduleId }, s.watermarkLagSeconds);
        this.failedWindows.set({ schedule: s.scheduleId }, s.failedWindows);
        this.gapWindows.set({ schedule: s.scheduleId }, s.gapWindows);
        this.reexportWindows.set({ schedule: s.scheduleId }, s.reexportWindows ?? 0);
        this.overdueWindows.set({ schedule: s.scheduleId }, s.overdueWindows ?? 0);
        if (s.lastRunFailure) this.lastRunFailed.set({ schedule: s.scheduleId, kind: s.job ?? '', reason: s.lastRunFailure }, 1);
      }
    }
    if (queues) {
      for (const { queue, counts } of queues) {
        for (const [state, count] of Object.entries(counts)) this.queueJobs.set({ queue, state }, count);
      }
    }
  }

  /** Records a finished run; rows/bytes come from numeric `rows` / `bytes` of the result. */
  recordAttempt(kind: string, schedule: string, result: AttemptResult, durationMs: number, value?: unknown): void {
    this.jobRuns.inc({ kind, schedule, result });
    if (result === 'done' || result === 'failed' || result === 'retry') this.jobDuration.observe({ kind }, durationMs / 1000);
    if (result === 'done' && value && typeof value === 'object') {
      const { rows, bytes } = value as { rows?: unknown; bytes?: unknown };
      if (typeof rows === 'number' && Number.isFinite(rows)) this.jobRows.inc({ kind, schedule }, rows);
      if (typeof bytes === 'number' && Number.isFinite(bytes)) this.jobBytes.inc({ kind, schedule }, bytes);
    }
  }

  /** A failed window was queued again for a new round of attempts. */
  recordRetryRound(schedule: string): void {
    this.retryRounds.inc({ schedule });
  }

  /** The observer handed to the OX client. */
  readonly oxObserver: OxRequestObserver = (event) => {
    this.oxRequests.inc({ operation: event.operation, status: String(event.status) });
    this.oxRequestDuration.observe({ operation: event.operation }, event.durationMs / 1000);
  };

  /** The Prometheus text; the gauges read from Redis are refreshed first, once per scrape. */
  async text(): Promise<string> {
    await this.collectFromSources();
    return this.withProcessMetrics ? Registry.merge([this.registry, processMetrics()]).metrics() : this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
