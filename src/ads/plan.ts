import { createHash } from 'node:crypto';
import { RefusedError } from '../errors.js';
import { targetOfKey, type AdEntry, type AdEntryTarget, type Catalog } from './catalog.js';

/** An entry that was applied before and is no longer in the catalog. */
export interface AdDeletion {
  key: string;
  target: AdEntryTarget;
}

/** Desired (the catalog) against last applied (Redis): what a sync has to send. */
export interface AdsPlan {
  source: string;
  /** `--full`: unchanged entries are sent again (OX cannot be read back, so drift is invisible). */
  full: boolean;
  /** Entries in the applied state before this sync. */
  known: number;
  creates: AdEntry[];
  updates: AdEntry[];
  deletes: AdDeletion[];
  unchanged: AdEntry[];
}

export interface PlanCounts {
  desired: number;
  known: number;
  create: number;
  update: number;
  delete: number;
  unchanged: number;
  /** Entries this plan sends to OX (with `--full`, unchanged ones too). */
  toSend: number;
}

export function planAdsSync(catalog: Catalog, applied: ReadonlyMap<string, string>, options: { full?: boolean } = {}): AdsPlan {
  const plan: AdsPlan = {
    source: catalog.source,
    full: options.full ?? false,
    known: applied.size,
    creates: [],
    updates: [],
    deletes: [],
    unchanged: [],
  };
  const desiredKeys = new Set<string>();
  for (const entry of catalog.entries) {
    desiredKeys.add(entry.key);
    const appliedHash = applied.get(entry.key);
    if (appliedHash === undefined) plan.creates.push(entry);
    else if (appliedHash !== entry.hash) plan.updates.push(entry);
    else plan.unchanged.push(entry);
  }
  for (const key of applied.keys()) {
    if (!desiredKeys.has(key)) plan.deletes.push({ key, target: targetOfKey(key) });
  }
  return plan;
}

/**
 * A digest of every (key, hash) of a catalog, in catalog order. Equal digests mean the same
 * desired state; a reordered catalog merely misses the in-sync shortcut and is compared entry by entry.
 */
export function catalogDigest(catalog: Catalog): string {
  const digest = createHash('sha256');
  for (const entry of catalog.entries) digest.update(`${entry.key}\t${entry.hash}\n`);
  return digest.digest('base64url');
}

/** The plan of a catalog the applied state is known to equal: everything unchanged. */
export function planAllUnchanged(catalog: Catalog): AdsPlan {
  return {
    source: catalog.source,
    full: false,
    known: catalog.entries.length,
    creates: [],
    updates: [],
    deletes: [],
    unchanged: catalog.entries,
  };
}

export function planCounts(plan: AdsPlan): PlanCounts {
  const changes = plan.creates.length + plan.updates.length + plan.deletes.length;
  return {
    desired: plan.creates.length + plan.updates.length + plan.unchanged.length,
    known: plan.known,
    create: plan.creates.length,
    update: plan.updates.length,
    delete: plan.deletes.length,
    unchanged: plan.unchanged.length,
    toSend: changes + (plan.full ? plan.unchanged.length : 0),
  };
}

export interface DeleteGuard {
  /** Share of the known entries a plan may delete (ads.maxDeleteFraction). */
  maxDeleteFraction: number;
  /** Deletes up to this many are always allowed, whatever the share (ads.maxDeleteCount). */
  maxDeleteCount: number;
  allowMassDelete?: boolean;
}

/**
 * A truncated catalog export must not wipe a reseller: an empty catalog, or one that would delete
 * every known entry, is refused; so is a plan deleting more than `maxDeleteCount` entries and
 * more than `maxDeleteFraction` of the known ones. The absolute floor lets a small catalog be
 * edited (one package of six is 17 %), the share still stops a large one from losing half.
 * `allowMassDelete` skips all of it.
 */
export function assertPlanIsSafe(plan: AdsPlan, options: DeleteGuard): void {
  if (options.allowMassDelete) return;
  const counts = planCounts(plan);
  const override = 'If that is intended, pass --allow-mass-delete (job param allowMassDelete: true)';
  if (counts.desired === 0) {
    throw new RefusedError(
      `catalog ${plan.source} has no entries; refusing to sync (it would delete all ${counts.known} known entries). ${override}`,
    );
  }
  if (counts.known > 0 && counts.delete === counts.known) {
    throw new RefusedError(
      `catalog ${plan.source} would delete every one of the ${counts.known} known entries (none of them is in it any more); refusing. ${override}`,
    );
  }
  if (counts.delete <= options.maxDeleteCount) return;
  const limit = options.maxDeleteFraction * counts.known;
  if (counts.delete > limit) {
    const share = ((counts.delete / counts.known) * 100).toFixed(1);
    throw new RefusedError(
      `catalog ${plan.source} would delete ${counts.delete} of ${counts.known} known entries (${share}% > ads.maxDeleteFraction ` +
        `${(options.maxDeleteFraction * 100).toFixed(1)}%, and more than ads.maxDeleteCount ${options.maxDeleteCount}); refusing. ` +
        'Check the catalog, or pass --allow-mass-delete (job param allowMassDelete: true)',
    );
  }
}

/** The guard settings of the config, with the run's override. */
export function deleteGuard(ads: { maxDeleteFraction: number; maxDeleteCount: number }, allowMassDelete?: boolean): DeleteGuard {
  return { maxDeleteFraction: ads.maxDeleteFraction, maxDeleteCount: ads.maxDeleteCount, allowMassDelete };
}
