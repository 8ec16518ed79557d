/**
 * The BullMQ processor of the `jobs` queue: one window or one run per BullMQ job, through the
 * same `executeAttempt` path as `ox-batch run`. Job data that no configured schedule or ox-batch
 * command could have made is refused first (job-data.ts): failed for good, nothing run, the
 * ledger untouched. Failures are sorted for BullMQ:
 *  - permanent (bad input, refused, OX 400/401/403/404, …) → UnrecoverableError: no retries,
 *    the reason is in the ledger;
 *  - aborted because the process shuts down → the job goes back to the queue at once without
 *    using up an attempt (moveToDelayed + DelayedError), another worker runs it;
 *  - the window is held by an `ox-batch run` → back to the queue until its lease would end;
 *  - anything else → BullMQ retries with exponential backoff and jitter until attempts run out.
 */
import { DelayedError, UnrecoverableError, type Job, type Processor } from 'bullmq';
import { MailBusyError, isInputError } from '../errors.js';
import type { Services, AnyJobKind } from '../job-kind.js';
import type { Logger } from '../log/logger.js';
import type { QueueObserver } from './observer.js';
import { executeAttempt, AttemptError, WindowBusyError, WindowConflictError, describeError, type FailureOutcome } from './attempt.js';
import type { JobData } from './queues.js';
import { OpenWindowError } from './closed-window.js';
import { checkJobData, RefusedJobDataError } from './job-data.js';
import type { Schedule } from './schedules.js';
import type { Ledger, WindowKey } from '../ledger/types.js';
import { annotateActiveSpan, windowAttributes } from '../telemetry/tracing.js';

export interface ProcessorOptions {
  services: Services;
  kinds: ReadonlyArray<AnyJobKind>;
  /** The configured schedules (resolved): job data must fit one of them, or name its job kind. */
  schedules: ReadonlyArray<Schedule>;
  log: Logger;
  /** Told how each attempt ends (the daemon passes its metrics). */
  observer?: QueueObserver;
  /** True once the process is shutting down: an abort then means "give the job back". */
  isShuttingDown: () => boolean;
  /**
   * A ledger on the connection the BullMQ worker completes jobs on. The done mark is written
   * there without waiting for the reply: Redis runs one connection's commands in order, so the
   * window is done before BullMQ's completion of its job, and a job costs one round trip less.
   * (One exception: a script cache flushed under a live connection answers NOSCRIPT, and
   * ioredis sends the script again after the completion; the mark then lands milliseconds late.)
   * Without it the processor waits for the mark on the services' ledger.
   */
  completionLedger?: Ledger;
}

export function createJobProcessor(options: ProcessorOptions): Processor<JobData> {
  const { services, kinds, schedules, log, observer, completionLedger } = options;
  const recordDone =
    completionLedger &&
    (async (key: WindowKey, job: string, result: unknown) => {
      const { sent, applied } = completionLedger.markDoneInOrder(key, job, result);
      applied.catch(async (err: unknown) => {
        // BullMQ may have completed the job already: write the mark again on the other connection.
        // Should that fail too, the next tick finds the job completed but the window not done and
        // queues it again; jobs are idempotent through their delivery logs.
        log.warn({ err, schedule: key.scheduleId, start: key.start }, 'the done mark failed; writing it again');
        await services.ledger
          .markDone(key, job, result)
          .catch((again: unknown) =>
            log.error(
              { err: again, schedule: key.scheduleId, start: key.start },
              'could not mark the window done; the next tick runs it again',
            ),
          );
      });
      await sent;
    });
  return async (job: Job<JobData>, token?: string, signal?: AbortSignal) => {
    const checked = checkJobData(job.name, job.data, { kinds, schedules });
    if (!checked.accepted) {
      log.warn({ jobId: job.id, reason: checked.reason }, 'refused a job that no schedule or ox-batch command made; nothing run');
      throw new RefusedJobDataError(checked.reason);
    }
    const { data, kind } = checked;
    annotateActiveSpan(windowAttributes(data.scheduleId, data.job, data.type === 'window' ? data : undefined));
    const attempt = job.attemptsMade + 1;
    const allowed = job.opts.attempts ?? 1;
    const classifyFailure = (err: unknown, permanent: boolean): FailureOutcome => {
      if (signal?.aborted && options.isShuttingDown()) return 'aborted';
      // Another live run is mailing this window: waiting for it uses no attempt.
      if (err instanceof MailBusyError) return 'retry';
      if (permanent || attempt >= allowed) return 'failed';
      return 'retry';
    };
    try {
      const outcome = await executeAttempt({
        kind,
        services,
        scheduleId: data.scheduleId,
        ...(data.type === 'window'
          ? {
              window: { start: data.start, end: data.end },
              force: data.force === true,
              ...(data.reexport !== undefined ? { reexport: data.reexport } : {}),
            }
          : {}),
        params: data.params,
        signal,
        attempt,
        progress: (value) => job.updateProgress(value),
        log,
        logBindings: { jobId: job.id },
        observer,
        classifyFailure,
        recordDone,
      });
      return { status: outcome.status, result: outcome.result ?? null, ...(outcome.reason ? { reason: outcome.reason } : {}) };
    } catch (err) {
      if (err instanceof AttemptError) {
        if (err.cause instanceof MailBusyError && token) {
          log.info({ jobId: job.id, retryAt: new Date(err.cause.retryAt).toISOString() }, err.message);
          await job.moveToDelayed(err.cause.retryAt, token);
          throw new DelayedError();
        }
        if (err.outcome === 'aborted' && token) {
          await job.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        }
        if (err.permanent) throw unrecoverable(err.message, err);
        throw new Error(err.message, { cause: err });
      }
      // A window that has not closed yet (its schedule's lag grew since it was queued): back to
      // the queue until it closes. A future one was never queued by ox-batch: refused below.
      if (err instanceof OpenWindowError && !err.future && token) {
        log.info({ jobId: job.id, closesAt: new Date(err.closesAt).toISOString() }, err.message);
        await job.moveToDelayed(err.closesAt, token);
        throw new DelayedError();
      }
      // An `ox-batch run` holds the window: back to the queue until its lease would run out,
      // without using up an attempt; the window is done by then, or the run is gone.
      if (err instanceof WindowBusyError && token) {
        log.info({ jobId: job.id, retryAt: new Date(err.retryAt).toISOString() }, err.message);
        await job.moveToDelayed(err.retryAt, token);
        throw new DelayedError();
      }
      // Params the job's schema rejects (or no window): no retry can fix them.
      const reason = describeError(err);
      // A window conflict leaves the ledger alone: the record belongs to the other window.
      if (data.type === 'window' && isInputError(err) && !(err instanceof WindowConflictError) && !(err instanceof OpenWindowError)) {
        await services.ledger
          .markFailed({ scheduleId: data.scheduleId, start: data.start, end: data.end }, data.job, reason, { permanent: true })
          .catch(() => undefined);
      }
      if (isInputError(err)) throw unrecoverable(reason, err);
      throw err;
    }
  };
}

/** BullMQ fails a job for good on its UnrecoverableError, whose constructor takes no cause: it is set after. */
function unrecoverable(message: string, cause: unknown): UnrecoverableError {
  const err = new UnrecoverableError(message);
  err.cause = cause;
  return err;
}
