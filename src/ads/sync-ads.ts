import { OxBatchError, type OxBatchErrorCode } from '../errors.js';
import type { RedisClient } from '../redis/connection.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { OxApi } from '../ox/types.js';
import { AppliedState } from './applied-state.js';
import { applyAdsPlan, type ApplyReport } from './apply-plan.js';
import { loadCatalog } from './catalog-source.js';
import {
  assertPlanIsSafe,
  catalogDigest,
  deleteGuard,
  planAdsSync,
  planAllUnchanged,
  planCounts,
  type AdsPlan,
  type PlanCounts,
} from './plan.js';
import type { Catalog } from './catalog.js';

export interface AdsSyncRequest {
  /** Local path, s3://bucket/key or http(s):// URL of a .yaml/.yml/.json/.csv catalog. */
  catalog: string;
  /** Re-send every entry, not only changed ones. */
  full?: boolean;
  /** Skip the delete guard (empty catalog, every entry deleted, maxDeleteCount/maxDeleteFraction). */
  allowMassDelete?: boolean;
  /** Plan only. */
  dryRun?: boolean;
}

export interface AdsSyncContext {
  config: Pick<Config, 'ads' | 'archive'> & { redis: Pick<Config['redis'], 'prefix'>; ox?: Pick<Config['ox'], 'retry'> };
  redis: RedisClient;
  log: Logger;
  signal?: AbortSignal;
  onProgress?(progress: { done: number; total: number; failed: number }): void;
}

export interface AdsSyncResult {
  catalog: string;
  full: boolean;
  dryRun: boolean;
  plan: PlanCounts;
  /** Absent on a dry run. */
  applied?: ApplyReport;
}

/** A sync that sent everything it could, but OX failed some entries. They are retried next time. */
export class AdsSyncIncompleteError extends OxBatchError {
  override readonly name = 'AdsSyncIncompleteError';
  readonly code: OxBatchErrorCode = 'OXB_ADS_INCOMPLETE';
  readonly retryable = true;
  constructor(readonly result: AdsSyncResult) {
    const applied = result.applied!;
    const first = applied.failures
      .slice(0, 3)
      .map((f) => `${f.key}: ${f.error}`)
      .join('; ');
    super(
      `advertisement sync from ${result.catalog}: ${applied.failed} of ${result.plan.toSend} entries failed (retried on the next sync): ${first}`,
    );
  }
}

/** Loads the catalog and the applied state and computes the plan. Changes nothing. */
export async function planFromCatalog(request: AdsSyncRequest, context: Omit<AdsSyncContext, 'onProgress'>): Promise<AdsPlan> {
  const catalog = await loadCatalog(request.catalog, {
    s3: context.config.archive,
    ads: context.config.ads,
    signal: context.signal,
    retry: context.config.ox?.retry,
  });
  return planAgainstState(catalog, new AppliedState(context.redis, context.config.redis.prefix), request.full ?? false);
}

async function planAgainstState(catalog: Catalog, state: AppliedState, full: boolean): Promise<AdsPlan> {
  if (!full && catalog.entries.length > 0 && (await state.isInSyncWith(catalogDigest(catalog), catalog.entries.length))) {
    return planAllUnchanged(catalog);
  }
  return planAdsSync(catalog, await state.load(), { full });
}

/**
 * One advertisement sync: catalog → plan → safety guard → apply, under a lock so that a CLI run
 * and the scheduled job never interleave. Returns the counts; throws AdsSyncIncompleteError when
 * some entries failed (after the others were applied and recorded).
 */
export async function syncAds(request: AdsSyncRequest, ox: OxApi, context: AdsSyncContext): Promise<AdsSyncResult> {
  const { config, log, signal } = context;
  const state = new AppliedState(context.redis, config.redis.prefix);
  // Reading and validating a 100,000-entry catalog takes a while: Redis takes the lock meanwhile.
  // A broken catalog is still reported first, as such.
  const catalogLoading = loadCatalog(request.catalog, { s3: config.archive, ads: config.ads, signal, retry: config.ox?.retry });
  catalogLoading.catch(() => undefined);
  const lock = request.dryRun ? null : await state.acquireLock();
  if (!request.dryRun && !lock) {
    await catalogLoading;
    throw new Error(`another advertisement sync is running (Redis key ${state.lockKey}); try again when it has finished`);
  }
  try {
    const catalog = await catalogLoading;
    const plan = await planAgainstState(catalog, state, request.full ?? false);
    const counts = planCounts(plan);
    log.info({ catalog: catalog.source, ...counts, full: plan.full }, 'advertisement sync plan');
    assertPlanIsSafe(plan, deleteGuard(config.ads, request.allowMassDelete));
    const result: AdsSyncResult = { catalog: catalog.source, full: plan.full, dryRun: request.dryRun ?? false, plan: counts };
    if (request.dryRun) return result;

    result.applied = await applyAdsPlan(plan, {
      ox,
      state,
      concurrency: config.ads.concurrency,
      ratePerSecond: config.ads.ratePerSecond,
      log,
      signal,
      onProgress: context.onProgress,
    });
    await state.saveLastSync({ at: Date.now(), ...result, applied: { ...result.applied, failures: result.applied.failures.slice(0, 10) } });
    if (result.applied.failed === 0) await state.markInSyncWith(catalogDigest(catalog), catalog.entries.length);
    log.info({ catalog: catalog.source, ...result.applied, failures: undefined }, 'advertisement sync applied');
    if (result.applied.failed > 0) throw new AdsSyncIncompleteError(result);
    return result;
  } finally {
    await lock?.release();
  }
}
