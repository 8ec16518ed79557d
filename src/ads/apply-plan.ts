import { isRetryable } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { OxError } from '../ox/ox-error.js';
import type { OxApi, ResellerPackageConfig } from '../ox/types.js';
import type { AdEntry } from './catalog.js';
import type { AdDeletion, AdsPlan } from './plan.js';
import type { AppliedState } from './applied-state.js';
import { TokenBucket } from './token-bucket.js';

export type EntryAction = 'create' | 'update' | 'delete' | 'reapply';

export interface EntryFailure {
  key: string;
  action: EntryAction;
  error: string;
  /** Where the catalog declares it (absent for deletions). */
  origin?: string;
}

export interface ApplyReport {
  created: number;
  updated: number;
  deleted: number;
  reapplied: number;
  failed: number;
  /** The first failures (all of them are counted in `failed`). */
  failures: EntryFailure[];
  /** HTTP requests issued (the OX client's retries not counted). */
  requests: number;
  /** What OX answered per entry: created, updated, deleted, ignored, nothing-to-delete. */
  oxOutcomes: Record<string, number>;
  durationMs: number;
}

export interface ApplyOptions {
  ox: OxApi;
  state: AppliedState;
  /** OX requests in flight at once. */
  concurrency: number;
  /** Cap of OX requests per second; 0 = no cap. */
  ratePerSecond: number;
  log: Logger;
  signal?: AbortSignal;
  /** Failures kept in the report (and so in the ledger); all are counted. */
  maxReportedFailures?: number;
  onProgress?(progress: { done: number; total: number; failed: number }): void;
}

/** OX refuses every request of this sync alike: stop instead of failing 100,000 entries one by one. */
const FATAL_STATUSES = new Set([401, 403]);
/**
 * Requests failing in a row, each after the OX client's own retries, that mean OX is down rather
 * than unhappy with some entries: the sync stops and the rest stays pending for the next run.
 */
const MIN_CONSECUTIVE_FAILURES = 20;

type Task = () => Promise<void>;
type Change = { action: EntryAction; entry: AdEntry } | { action: 'delete'; deletion: AdDeletion };

/**
 * Sends a plan to OX. Package changes of a reseller go out as one PUT /config/reseller (removed
 * packages as `config: null`), users one request each. Deletions of users run before writes, so
 * a move from `name:42/alice` to `user:42/7` (the same person) ends with the new config in place.
 * An entry's applied hash is recorded only after OX confirmed it; a failed entry keeps its old
 * state and is retried by the next sync.
 */
export async function applyAdsPlan(plan: AdsPlan, options: ApplyOptions): Promise<ApplyReport> {
  const started = performance.now();
  const report: ApplyReport = {
    created: 0,
    updated: 0,
    deleted: 0,
    reapplied: 0,
    failed: 0,
    failures: [],
    requests: 0,
    oxOutcomes: {},
    durationMs: 0,
  };
  const maxFailures = options.maxReportedFailures ?? 100;
  const recorder = new StateRecorder(options.state);
  const bucket = new TokenBucket(options.ratePerSecond);
  const total = plan.creates.length + plan.updates.length + plan.deletes.length + (plan.full ? plan.unchanged.length : 0);
  let done = 0;
  let fatal: unknown;
  let failuresInARow = 0;
  const outageThreshold = Math.max(MIN_CONSECUTIVE_FAILURES, 2 * options.concurrency);

  const progress = (entries: number) => {
    done += entries;
    options.onProgress?.({ done, total, failed: report.failed });
  };
  const succeeded = (change: Change, outcome: string) => {
    report.oxOutcomes[outcome] = (report.oxOutcomes[outcome] ?? 0) + 1;
    if (change.action === 'delete') {
      report.deleted += 1;
      recorder.deleted(keyOf(change));
    } else {
      report[({ create: 'created', update: 'updated', reapply: 'reapplied' } as const)[change.action]] += 1;
      recorder.written(change.entry.key, change.entry.hash);
    }
  };
  const failedEntry = (change: Change, error: string) => {
    report.failed += 1;
    if (report.failures.length < maxFailures) {
      report.failures.push({
        key: keyOf(change),
        action: change.action,
        error,
        ...('entry' in change ? { origin: change.entry.origin } : {}),
      });
    }
  };
  const send = async (changes: Change[], request: () => Promise<void>) => {
    await bucket.take(options.signal);
    report.requests += 1;
    try {
      await request();
      failuresInARow = 0;
    } catch (err) {
      if (isFatal(err, options.signal)) {
        fatal ??= err;
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      for (const change of changes) failedEntry(change, message);
      if (isRetryable(err)) failuresInARow += 1;
      if (failuresInARow >= outageThreshold) {
        fatal ??= new Error(
          `OX keeps failing: ${failuresInARow} requests in a row failed after retries (last: ${message}); sync stopped, unsent entries stay pending`,
          { cause: err },
        );
      }
    } finally {
      progress(changes.length);
    }
  };

  const { resellerTasks, userDeletes, userWrites } = buildTasks(plan, options, send, succeeded, failedEntry);
  const run = (tasks: Task[]) => runPool(tasks, options.concurrency, () => fatal !== undefined || options.signal?.aborted === true);
  try {
    await run([...resellerTasks, ...userDeletes]);
    await run(userWrites);
  } finally {
    await recorder.close();
    report.durationMs = Math.round(performance.now() - started);
  }
  if (fatal !== undefined) throw fatal;
  options.signal?.throwIfAborted();
  if (report.failed > 0)
    options.log.warn(
      { failed: report.failed, first: report.failures.slice(0, 3) },
      'advertisement entries failed; they are retried on the next sync',
    );
  return report;
}

function buildTasks(
  plan: AdsPlan,
  options: ApplyOptions,
  send: (changes: Change[], request: () => Promise<void>) => Promise<void>,
  succeeded: (change: Change, outcome: string) => void,
  failedEntry: (change: Change, error: string) => void,
): { resellerTasks: Task[]; userDeletes: Task[]; userWrites: Task[] } {
  const { ox, signal } = options;
  const byReseller = new Map<string, Change[]>();
  const userDeletes: Task[] = [];
  const userWrites: Task[] = [];

  const writes: Change[] = [
    ...plan.creates.map((entry) => ({ action: 'create' as const, entry })),
    ...plan.updates.map((entry) => ({ action: 'update' as const, entry })),
    ...(plan.full ? plan.unchanged.map((entry) => ({ action: 'reapply' as const, entry })) : []),
  ];
  const deletes: Change[] = plan.deletes.map((deletion) => ({ action: 'delete', deletion }));

  for (const change of [...deletes, ...writes]) {
    const target = 'entry' in change ? change.entry : change.deletion.target;
    if (target.scope === 'package') {
      const list = byReseller.get(target.reseller) ?? [];
      list.push(change);
      byReseller.set(target.reseller, list);
    } else if (change.action === 'delete') {
      userDeletes.push(() =>
        send([change], async () => {
          const outcome =
            target.scope === 'user'
              ? await ox.deleteUserConfig({ contextId: target.contextId, userId: target.userId, signal })
              : await ox.deleteNameConfig({ contextId: target.contextId, name: target.login, signal });
          succeeded(change, outcome);
        }),
      );
    } else {
      const { config } = change.entry;
      userWrites.push(() =>
        send([change], async () => {
          const outcome =
            target.scope === 'user'
              ? await ox.setUserConfig({ contextId: target.contextId, userId: target.userId, config, signal })
              : await ox.setNameConfig({ contextId: target.contextId, name: target.login, config, signal });
          succeeded(change, outcome);
        }),
      );
    }
  }

  const resellerTasks = [...byReseller].map(
    ([reseller, changes]): Task =>
      () =>
        send(changes, async () => {
          const entries: ResellerPackageConfig[] = changes.map((change) => {
            const target = ('entry' in change ? change.entry : change.deletion.target) as { package: string };
            return { package: target.package, config: 'entry' in change ? change.entry.config : null };
          });
          const results = await ox.setResellerConfigs({ reseller, entries, signal });
          if (results.length !== changes.length) {
            const message = `OX answered ${results.length} results for ${changes.length} packages of reseller ${reseller}`;
            for (const change of changes) failedEntry(change, message);
            return;
          }
          changes.forEach((change, i) => {
            const result = results[i]!;
            if (result.status === 'ERROR') failedEntry(change, `OX reported ERROR${result.error ? `: ${result.error}` : ''}`);
            else succeeded(change, result.status.toLowerCase());
          });
        }),
  );
  return { resellerTasks, userDeletes, userWrites };
}

function keyOf(change: Change): string {
  return 'entry' in change ? change.entry.key : change.deletion.key;
}

function isFatal(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  return err instanceof OxError && err.status !== undefined && FATAL_STATUSES.has(err.status);
}

/** Runs tasks with at most `concurrency` in flight; stops taking new ones once `stop()` says so. */
async function runPool(tasks: Task[], concurrency: number, stop: () => boolean): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length && !stop()) {
      const task = tasks[next]!;
      next += 1;
      await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
}

/**
 * Batches applied-state writes into pipelines instead of one Redis round trip per entry. Only
 * OX-confirmed entries reach it; if the process dies before a flush, those entries are simply
 * sent again next time (every write is idempotent).
 */
class StateRecorder {
  private written_: Array<[string, string]> = [];
  private deleted_: string[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private error: unknown;

  constructor(
    private readonly state: AppliedState,
    private readonly batchSize = 1000,
  ) {}

  written(key: string, hash: string): void {
    this.written_.push([key, hash]);
    this.maybeFlush();
  }

  deleted(key: string): void {
    this.deleted_.push(key);
    this.maybeFlush();
  }

  async close(): Promise<void> {
    this.flush();
    await this.flushing;
    if (this.error !== undefined) throw this.error;
  }

  private maybeFlush(): void {
    if (this.written_.length + this.deleted_.length >= this.batchSize) this.flush();
  }

  private flush(): void {
    const changes = { written: this.written_, deleted: this.deleted_ };
    this.written_ = [];
    this.deleted_ = [];
    this.flushing = this.flushing
      .then(() => this.state.record(changes))
      .catch((err: unknown) => {
        this.error ??= err;
      });
  }
}
