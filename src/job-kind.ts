/**
 * The contract between the machinery (queue, scheduler, CLI) and a job file in `jobs/`.
 * A job kind declares its params and whether it works on time windows; its `run` gets the
 * window, params, an AbortSignal and its collaborators, and returns a JSON result that the
 * ledger keeps. No Redis or HTTP set-up happens in a job file.
 */
import type { z } from 'zod';
import type { RedisClient } from './redis/connection.js';
import type { Logger } from './log/logger.js';
import type { Config } from './config/schema.js';
import type { OxApi } from './ox/types.js';
import type { ArchiveStore, Mailer } from './delivery/types.js';
import type { DeliveryLog, Ledger } from './ledger/types.js';

export interface JobWindow {
  /** Half-open [start, end) in UTC epoch ms. */
  start: number;
  end: number;
}

export interface JobContext<P> {
  /** Job kind name, e.g. `feedback.export`. */
  job: string;
  /** Schedule id, or the job name for an unscheduled run (`ox-batch run feedback.export`). */
  scheduleId: string;
  /** Present for windowed job kinds. */
  window?: JobWindow;
  params: P;
  /** Aborted on shutdown grace expiry or cancellation: pass it to every OX, S3 and SMTP call. */
  signal: AbortSignal;
  log: Logger;
  /** 1 on the first try. */
  attempt: number;
  /** Print what would happen, change nothing. */
  dryRun: boolean;
  /** Redo work that the ledger says is done (an explicit `--force`). */
  force: boolean;
  /**
   * A preview of a window that has not closed (`ox-batch run --open`): deliver it apart
   * (a marked archive key, no mail); it is never recorded done and never guards a purge.
   */
  preview: boolean;
  /**
   * A re-export the purge asked for: OX holds rows the window's archive lacks. An archived
   * object that differs is kept, and this export stored as a revision beside it.
   */
  reexport: boolean;
  progress(value: number | Record<string, unknown>): Promise<void>;
  /** Exactly-once records of this (schedule, window); for non-windowed jobs, of this schedule. */
  deliveries: DeliveryLog;
}

/**
 * The collaborators a job may use. Built lazily: a job that never touches S3 or SMTP does not
 * need them configured.
 */
export interface Services {
  readonly config: Config;
  readonly ox: OxApi;
  readonly archive: ArchiveStore;
  readonly mailer: Mailer;
  readonly ledger: Ledger;
  readonly redis: RedisClient;
  readonly log: Logger;
  /**
   * Asks the scheduler for a tick of a schedule now, as if its trigger fired (e.g. the purge,
   * after flagging windows of its guard schedule for re-export). `id` makes it once-only.
   */
  requestTick(scheduleId: string, id: string): Promise<void>;
  now(): number;
}

/**
 * A job kind of whatever params and result, as the registry and the engine hold them. Each kind's
 * `run` is checked against its own schema where it is defined (`defineJob`), and the engine hands
 * it only params that schema validated.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- kinds of different P and R in one list: JobKind<unknown, unknown> would refuse them (run's params are contravariant)
export type AnyJobKind = JobKind<any, any>;

export interface JobKind<P = unknown, R = unknown> {
  name: string;
  description: string;
  /** Windowed jobs run once per [start, end) window; the others once per trigger. */
  windowed: boolean;
  /** Validates `params` (schedule config, `--param k=v`, enqueue data). */
  params: z.ZodType<P>;
  /**
   * Params a run of `scheduleId` must take from the schedule's configuration, never from an
   * override (`--param`, enqueue data), and why: e.g. what an export schedule whose archive
   * guards a purge writes. Checked in the paths every run takes (enqueueWindow, executeAttempt).
   */
  lockedParams?(scheduleId: string, config: Config): LockedParams | undefined;
  run(job: JobContext<P>, services: Services): Promise<R>;
}

/** What `JobKind.lockedParams` answers. */
export interface LockedParams {
  keys: readonly string[];
  why: string;
  /** What of a key's value must stay (default: all of it), e.g. whether `deliver` archives. */
  compare?: Readonly<Record<string, (value: unknown) => unknown>>;
}

/** Helps TypeScript infer P and R from the params schema and run function. */
export function defineJob<S extends z.ZodType, R>(kind: {
  name: string;
  description: string;
  windowed: boolean;
  params: S;
  lockedParams?(scheduleId: string, config: Config): LockedParams | undefined;
  run(job: JobContext<z.output<S>>, services: Services): Promise<R>;
}): JobKind<z.output<S>, R> {
  return kind as JobKind<z.output<S>, R>;
}
