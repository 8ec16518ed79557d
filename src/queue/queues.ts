/**
 * The BullMQ queues of one deployment, all under the configured prefix (`{oxb}` keeps every key
 * in one Redis Cluster slot): `jobs` carries window and run jobs, `ticks` carries the scheduler
 * triggers. Ticks have their own queue so a busy worker pool never delays a trigger.
 */
import { Queue, type JobsOptions, type KeepJobs } from 'bullmq';
import type { RedisClient } from '../redis/connection.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { bullmqTelemetry } from '../telemetry/tracing.js';

export const JOB_QUEUE = 'jobs';
export const TICK_QUEUE = 'ticks';

/** One window of a windowed job kind. */
export interface WindowJobData {
  type: 'window';
  scheduleId: string;
  job: string;
  start: number;
  end: number;
  params: unknown;
  force?: boolean;
  /** A re-export the purge asked for: the `flaggedAt` of the window's flag (ledger). */
  reexport?: number;
}

/** One run of a non-windowed job kind. */
export interface RunJobData {
  type: 'run';
  scheduleId: string;
  job: string;
  params: unknown;
}

export type JobData = WindowJobData | RunJobData;

export interface TickData {
  type: 'tick';
  scheduleId: string;
  /** Absent for the schedule's trigger; `resume` for the catch-up `ox-batch resume` asks for. */
  reason?: 'resume';
}

const JITTER = 0.5;

/** Finished jobs are trimmed by age and count (BullMQ's age is in seconds). */
export function retentionOptions(config: Config): { removeOnComplete: KeepJobs; removeOnFail: KeepJobs } {
  const { keepCompleted, keepFailed } = config.worker;
  return {
    removeOnComplete: { age: Math.ceil(keepCompleted.age / 1000), count: keepCompleted.count },
    removeOnFail: { age: Math.ceil(keepFailed.age / 1000), count: keepFailed.count },
  };
}

/** Attempts with exponential backoff and jitter, so retries of many windows do not align. */
export function jobOptions(config: Config, attempts: number, jobId: string): JobsOptions {
  return {
    jobId,
    attempts,
    backoff: { type: 'exponential', delay: config.worker.backoffMs, jitter: JITTER },
    ...retentionOptions(config),
  };
}

export function createQueue<D = unknown>(name: string, config: Config, connection: RedisClient, log: Logger): Queue<D> {
  const queue = new Queue<D>(name, {
    connection,
    prefix: config.redis.prefix,
    streams: { events: { maxLen: config.worker.eventsMaxLen } },
    defaultJobOptions: retentionOptions(config),
    ...bullmqTelemetry(),
  });
  queue.on('error', (err: Error) => log.warn({ queue: name, err: { message: err.message } }, 'queue error'));
  return queue;
}

export const PENDING_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused', 'wait']);
