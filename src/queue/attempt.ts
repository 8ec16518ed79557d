/**
 * Runs one job kind once — for one window, or once for a non-windowed kind — with the ledger
 * kept right: a begin before ("done already? else running"; `ox-batch run` also takes a lease),
 * `markDone` with the result after, `markFailed` (or
 * "queued again" when a retry follows) with a readable reason on error. The BullMQ worker and
 * `ox-batch run` share this path, and job helpers' tests call `executeManualAttempt` directly.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { InputError, OxBatchError, RefusedError, exitCodeOf, isPermanent, type ExitCode, type OxBatchErrorCode } from '../errors.js';
import type { JobWindow, Services, AnyJobKind } from '../job-kind.js';
import type { Logger } from '../log/logger.js';
import { scrubText } from '../log/secrets.js';
import type { DeliveryLog, WindowKey } from '../ledger/types.js';
import { deliveryLogFor, memoryDeliveryLog, scheduleKey } from '../ledger/delivery-log.js';
import type { QueueObserver } from './observer.js';
import { validateParams } from './schedules.js';
import { assertWindowClosed } from './closed-window.js';
import { assertParamsAsConfigured } from './locked-params.js';
import { describeWindow } from '../time/windows.js';

/** What became of a failed try, for the ledger. */
export type FailureOutcome = 'failed' | 'retry' | 'aborted';

export interface ExecuteAttemptOptions {
  kind: AnyJobKind;
  services: Services;
  /** Schedule id; default the job name (an unscheduled run). */
  scheduleId?: string;
  /** Required for windowed kinds, ignored otherwise. */
  window?: JobWindow;
  /** Raw params: validated here by the kind's schema. */
  params?: unknown;
  signal?: AbortSignal;
  /** 1 on the first try; default one more than the ledger has seen. */
  attempt?: number;
  dryRun?: boolean;
  force?: boolean;
  /**
   * `ox-batch run --open`: a preview of a window that has not closed yet. Archived under a
   * marked key of its own, never mailed, never recorded in the ledger (so never done, never a
   * purge guard). A future window is refused all the same.
   */
  preview?: boolean;
  /**
   * A re-export the purge asked for (the flag's `flaggedAt`): an archive that differs is kept and
   * the new export stored as a revision beside it; the flag is cleared when the window is done.
   */
  reexport?: number;
  progress?: (value: number | Record<string, unknown>) => Promise<void>;
  log?: Logger;
  /** Extra fields on every log line of this run (the worker adds the BullMQ job id). */
  logBindings?: Record<string, unknown>;
  /** Told how each attempt ends (the daemon passes its metrics). */
  observer?: QueueObserver;
  /** How long a run holds its window without renewing (default 60 s; renewed every third of it). */
  runLeaseMs?: number;
  /** Decides what a failure means (the worker knows about attempts left and shutdown). */
  classifyFailure?: (err: unknown, permanent: boolean) => FailureOutcome;
  /**
   * Records a window done; default `ledger.markDone`. Whatever waits for the job must find the
   * window done in Redis (see the worker's, in job-processor.ts).
   */
  recordDone?: (key: WindowKey, job: string, result: unknown) => Promise<void>;
}

export interface AttemptOutcome {
  job: string;
  scheduleId: string;
  window?: JobWindow;
  /** `preview`: an open window run with `--open`, archived apart and not recorded. */
  status: 'done' | 'skipped' | 'failed' | 'preview';
  /** The job's result; for a skipped window, the result recorded when it was done. */
  result?: unknown;
  /** Why it was skipped or failed. */
  reason?: string;
  /** A failed run's process exit code: 2 when the job refused or its input was bad (nothing was changed), else 1. */
  exitCode?: number;
  attempt: number;
  durationMs: number;
}

/**
 * A failed attempt: the ledger is already updated. Its cause (what the job threw) decides the
 * rest: a permanent cause is never retried, and an input error or a refusal exits 2.
 */
export class AttemptError extends OxBatchError {
  override readonly name = 'AttemptError';
  readonly code: OxBatchErrorCode = 'OXB_ATTEMPT_FAILED';
  constructor(
    message: string,
    readonly outcome: FailureOutcome,
    readonly attempt: number,
    options: { cause: unknown },
  ) {
    super(message, options);
  }

  override get permanent(): boolean {
    return isPermanent(this.cause);
  }

  /** The job may run again: the cause is not permanent (an abort included). */
  get retryable(): boolean {
    return !this.permanent;
  }

  override get exitCode(): ExitCode {
    return exitCodeOf(this.cause);
  }
}

/**
 * The ledger keys a schedule's windows by start: a window that shares its start with a recorded
 * window of another end would read that window's done state, result and deliveries as its own.
 */
export class WindowConflictError extends InputError {
  override readonly code: OxBatchErrorCode = 'OXB_WINDOW_CONFLICT';
  constructor(job: string, scheduleId: string, window: JobWindow, recordedEnd: number) {
    super(
      `job ${job}: ${scheduleId} already has the window ${describeWindow({ start: window.start, end: recordedEnd })} in the ledger; ` +
        `${describeWindow(window)} starts at the same instant and would share its records: run that window, or windows that start elsewhere`,
    );
  }
}

/**
 * The window runs elsewhere: in a worker, or in an `ox-batch run` whose lease is live. `run`
 * is refused (exit 2, nothing changed); a worker puts its job back until `retryAt`.
 */
export class WindowBusyError extends RefusedError {
  override readonly code: OxBatchErrorCode = 'OXB_WINDOW_BUSY';
  readonly retryAt: number;
  constructor(job: string, scheduleId: string, window: JobWindow, busy: { owner: string; leaseUntil?: number; startedAt?: number }) {
    const since = busy.startedAt ? ` since ${new Date(busy.startedAt).toISOString()}` : '';
    const lease = `lease until ${new Date(busy.leaseUntil ?? 0).toISOString()}`;
    super(
      busy.owner.startsWith('worker:')
        ? `job ${job}: ${scheduleId} ${describeWindow(window)} is running in a worker (${busy.owner}${since}, ${lease}); wait for it (a dead worker's hold ends with its lease), or give --force`
        : busy.owner
          ? `job ${job}: ${scheduleId} ${describeWindow(window)} is being run by ox-batch run (${busy.owner}, ${lease}); wait for it, or give --force if that process is gone`
          : `job ${job}: ${scheduleId} ${describeWindow(window)} is running in a worker${since}; wait for it (a dead worker's job runs again after the stall interval), or give --force`,
    );
    this.retryAt = (busy.leaseUntil ?? Date.now()) + 1_000;
  }
}

/** Who holds a window `ox-batch run` runs, and for how long without renewal. */
const RUN_OWNER = `run:${hostname()}:${process.pid}`;
const RUN_LEASE_MS = 60_000;

/** Each worker execution of a window holds it under a name of its own. */
function workerOwner(): string {
  return `worker:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** One line for the ledger and the dashboard: the error type, OX details, no secrets. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return scrubText(String(err));
  const name = err.name && err.name !== 'Error' ? `${err.name}: ` : '';
  return scrubText(`${name}${err.message}`).split('\n')[0]!.slice(0, 2000);
}

function ledgerKey(kind: AnyJobKind, scheduleId: string, window?: JobWindow): WindowKey {
  return kind.windowed && window ? { scheduleId, start: window.start, end: window.end } : scheduleKey(scheduleId);
}

/**
 * Runs the job once. Returns `done` or `skipped` (a window the ledger already has as done,
 * without `force`); throws `AttemptError` after recording a failure, and InputError for params
 * the job's schema rejects or a windowed job without a window (nothing recorded then).
 */
export async function executeAttempt(options: ExecuteAttemptOptions): Promise<AttemptOutcome> {
  const { kind, services } = options;
  const scheduleId = options.scheduleId ?? kind.name;
  const window = kind.windowed ? options.window : undefined;
  if (kind.windowed && !window)
    throw new InputError(`job ${kind.name} works on time windows: give a window (--start and --end, or a schedule)`);
  if (window && !(window.end > window.start))
    throw new InputError(`job ${kind.name}: window end ${window.end} is not after start ${window.start}`);
  const params = validateParams(kind, options.params, `job ${kind.name}`);
  assertParamsAsConfigured(kind, services.config, scheduleId, params);
  const ledger = services.ledger;
  const key = ledgerKey(kind, scheduleId, window);
  const preview = options.preview === true;
  if (preview && !window) throw new InputError(`job ${kind.name} does not work on time windows: --open previews an open window`);
  const dryRun = options.dryRun === true;
  const force = options.force === true;
  // The closed-window rule (closed-window.ts): every run of a window passes here. A dry run
  // changes nothing and may look at an open window; a future one is refused always.
  if (window)
    assertWindowClosed(services.config, scheduleId, window, services.now(), { mode: preview ? 'preview' : dryRun ? 'dry-run' : 'run' });
  /** Whether the ledger hears of this run: not for a dry run, nor for a preview. */
  const recorded = !dryRun && !preview;

  const signal = options.signal ?? new AbortController().signal;
  const started = Date.now();
  const baseLog = options.log ?? services.log;
  const skip = (result: unknown, attempt: number): AttemptOutcome => {
    baseLog.info(
      { job: kind.name, schedule: scheduleId, window: describeWindow(window!) },
      'window is already done; skipped (use --force to run it again)',
    );
    options.observer?.recordAttempt(kind.name, scheduleId, 'skipped', 0);
    return { job: kind.name, scheduleId, window, attempt, status: 'skipped', result, reason: 'window already done', durationMs: 0 };
  };

  let attempt = options.attempt ?? 1;
  /** Set when a forced run starts on a done window: the result it would replace. */
  let replacesDone: { result: unknown } | undefined;
  /** `ox-batch run` holds its window by a lease, renewed while the job runs. */
  let leaseTimer: NodeJS.Timeout | undefined;
  // A worker's hold lasts as long as BullMQ's lock on the job: a dead worker's window is free
  // again by the time the stall check hands its job to another worker.
  const leaseMs = options.runLeaseMs ?? (options.attempt !== undefined ? services.config.worker.lockDurationMs : RUN_LEASE_MS);
  // The owner of the window while this run holds it: its lease is renewed while the job runs.
  const owner = options.attempt !== undefined ? workerOwner() : RUN_OWNER;
  if (window && recorded) {
    // The worker's attempt comes from BullMQ; `ox-batch run` lets the ledger count it.
    const byWorker = options.attempt !== undefined;
    const begun = byWorker
      ? await ledger.beginWindow(key, kind.name, attempt, { force, owner, leaseUntil: Date.now() + leaseMs })
      : await ledger.beginManual(key, kind.name, { owner, leaseUntil: Date.now() + leaseMs, force });
    if ('conflictEnd' in begun) throw new WindowConflictError(kind.name, scheduleId, window, begun.conflictEnd);
    if ('busy' in begun) throw new WindowBusyError(kind.name, scheduleId, window, begun.busy);
    if (!begun.started) return skip(begun.result, attempt);
    attempt = begun.attempt ?? attempt;
    replacesDone = begun.replacesDone;
    {
      leaseTimer = setInterval(() => {
        ledger.renewLease(key, owner, Date.now() + leaseMs).then(
          (held) => {
            if (!held)
              baseLog.warn(
                { job: kind.name, schedule: scheduleId, window: describeWindow(window) },
                'this run no longer holds its window (a forced run took it over)',
              );
          },
          (err: unknown) => baseLog.warn({ err }, 'could not renew the lease of this run'),
        );
      }, leaseMs / 3);
      leaseTimer.unref();
    }
  }
  // The run's child logger is made on first use: its bindings are serialised when it is made,
  // and a quiet no-op job would pay for that on every run without writing a line.
  let runLog: Logger | undefined;
  const log = (): Logger =>
    (runLog ??= baseLog.child({
      job: kind.name,
      schedule: scheduleId,
      attempt,
      ...(window ? { window: describeWindow(window) } : {}),
      ...options.logBindings,
    }));
  const base = { job: kind.name, scheduleId, ...(window ? { window } : {}), attempt };
  const startedAt = services.now();
  // What the job spends itself (runMs) and in the ledger's delivery log (deliveryLogMs) goes on
  // the "job done" line: `npm run bench -- scale` tells the engine's share of a window from it.
  const deliveries = timedDeliveryLog(preview ? memoryDeliveryLog() : deliveryLogFor(ledger, key, owner));
  const runStarted = performance.now();
  try {
    const result: unknown = await kind.run(
      {
        job: kind.name,
        scheduleId,
        window,
        params,
        signal,
        get log() {
          return log();
        },
        attempt,
        dryRun,
        force,
        preview,
        reexport: options.reexport !== undefined,
        progress: options.progress ?? (async () => undefined),
        deliveries: deliveries.log,
      },
      services,
    );
    const runMs = performance.now() - runStarted;
    const durationMs = Date.now() - started;
    if (recorded) {
      // Before returning: the ledger says done before BullMQ says completed, so whoever waits
      // for the job (backfill --wait, the purge reading archived windows) finds the result.
      if (window)
        await (options.recordDone ? options.recordDone(key, kind.name, result ?? null) : ledger.markDone(key, kind.name, result ?? null));
      if (window && options.reexport !== undefined) await ledger.clearReexport(key, options.reexport);
      else
        await ledger.recordAttempt({
          job: kind.name,
          scheduleId,
          state: 'done',
          startedAt,
          finishedAt: services.now(),
          result: result ?? null,
        });
    }
    options.observer?.recordAttempt(kind.name, scheduleId, 'done', durationMs, result);
    if (baseLog.isLevelEnabled('info'))
      log().info(
        { durationMs, runMs: round2(runMs), deliveryLogMs: round2(deliveries.ms()) },
        dryRun ? 'dry run finished' : preview ? 'preview of an open window finished (not recorded in the ledger)' : 'job done',
      );
    return { ...base, status: preview ? 'preview' : 'done', result: result ?? null, durationMs };
  } catch (err) {
    const durationMs = Date.now() - started;
    // Errors no retry can fix say so themselves (errors.ts): bad input, a refused job, OX's
    // 400/401/403/404, a rejected mail recipient, S3 access denied. An abort is not permanent.
    const permanent = isPermanent(err);
    const outcome = options.classifyFailure?.(err, permanent) ?? 'failed';
    const reason = describeError(err);
    if (recorded) {
      try {
        if (outcome === 'failed') {
          // A refused forced re-run changed nothing: the window stays done with its result (a
          // failed mark would hold the purge back and raise the failed-windows alert).
          if (window && replacesDone && err instanceof RefusedError) await ledger.markDone(key, kind.name, replacesDone.result);
          else if (window) await ledger.markFailed(key, kind.name, reason, { permanent });
          else
            await ledger.recordAttempt({
              job: kind.name,
              scheduleId,
              state: 'failed',
              startedAt,
              finishedAt: services.now(),
              error: reason,
            });
        } else if (window) {
          await ledger.markRetrying(
            key,
            kind.name,
            outcome === 'aborted' ? `aborted (shutdown or cancel), queued again: ${reason}` : reason,
          );
        }
      } catch (ledgerErr) {
        // Redis is gone: the BullMQ job stalls and runs again, and the ledger catches up then.
        log().error({ err: ledgerErr }, 'could not record the failure in the ledger');
      }
    }
    options.observer?.recordAttempt(kind.name, scheduleId, outcome === 'failed' ? 'failed' : outcome, durationMs);
    log()[outcome === 'failed' ? 'error' : 'warn'](
      { err, permanent, outcome },
      outcome === 'failed' ? 'job failed' : 'job try failed; it will run again',
    );
    throw new AttemptError(reason, outcome, attempt, { cause: err });
  } finally {
    clearInterval(leaseTimer);
  }
}

/**
 * A job kind, or its name looked up in `kinds`: the registry (jobs/index.ts) is handed in by
 * the composition root (the CLI), never loaded from here.
 */
export type ManualAttemptOptions = Omit<ExecuteAttemptOptions, 'kind' | 'classifyFailure'> &
  ({ kind: AnyJobKind; kinds?: undefined } | { kind: string; kinds: ReadonlyArray<AnyJobKind> });

/**
 * `ox-batch run` and tests: one run in this process, recorded in the ledger like a queued one.
 * A failure, and a window running elsewhere (exit code 2), is returned as `status: 'failed'`
 * with the reason; bad params throw InputError.
 */
export async function executeManualAttempt(options: ManualAttemptOptions): Promise<AttemptOutcome> {
  let kind: AnyJobKind | undefined;
  if (typeof options.kind === 'string') {
    // The type requires `kinds` with a name; TypeScript does not narrow the union by typeof here.
    const kinds = options.kinds ?? [];
    kind = kinds.find((k) => k.name === options.kind);
    if (!kind) throw new InputError(`unknown job kind "${options.kind}" (known: ${kinds.map((k) => k.name).join(', ') || 'none'})`);
  } else {
    kind = options.kind;
  }
  const started = Date.now();
  try {
    return await executeAttempt({ ...options, kind });
  } catch (err) {
    const failed = (reason: string, exitCode: number, attempt: number): AttemptOutcome => ({
      job: kind.name,
      scheduleId: options.scheduleId ?? kind.name,
      ...(kind.windowed && options.window ? { window: options.window } : {}),
      status: 'failed',
      reason,
      exitCode,
      attempt,
      durationMs: Date.now() - started,
    });
    // A window running elsewhere is refused, not an error of this run: the other windows of a
    // multi-window run go on, and the command exits 2.
    if (err instanceof WindowBusyError) {
      (options.log ?? options.services.log).warn(err.message);
      return failed(err.message, err.exitCode, 0);
    }
    if (!(err instanceof AttemptError)) throw err;
    return failed(err.message, err.exitCode, err.attempt);
  }
}

const round2 = (ms: number) => Math.round(ms * 100) / 100;

/** A delivery log that adds up the time its calls take. */
function timedDeliveryLog(inner: DeliveryLog): { log: DeliveryLog; ms(): number } {
  let total = 0;
  const timed = async <T>(call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await call();
    } finally {
      total += performance.now() - started;
    }
  };
  return {
    log: {
      get: (id) => timed(() => inner.get(id)),
      record: (id, record) => timed(() => inner.record(id, record)),
      claimMail: (request) => timed(() => inner.claimMail(request)),
      settleMail: (outcome, entries) => timed(() => inner.settleMail(outcome, entries)),
    },
    ms: () => total,
  };
}
