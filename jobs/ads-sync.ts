/**
 * `ads.sync`: keeps OX's advertisement configs in step with a reseller catalog. OX cannot be
 * asked what is configured (there is no GET), so ox-batch remembers what it applied and sends
 * only what changed: new and edited packages and user overrides, and deletions of removed ones.
 * A catalog with any problem changes nothing; a catalog that would delete too much is refused;
 * entries OX fails stay pending and are sent again by the next run.
 */
import { z } from 'zod';
import { defineJob } from '../src/job-kind.js';
import { syncAds, type AdsSyncResult } from '../src/ads/sync-ads.js';

const adsSyncParams = z.strictObject({
  /** Local path, s3://bucket/key or http(s):// URL of a .yaml/.yml/.json/.csv catalog. */
  catalog: z.string().min(1),
  /** Send every entry again, not only changed ones: repairs drift made behind ox-batch's back. */
  full: z.boolean().default(false),
  /** Apply even an empty catalog, one deleting every entry, or one over ads.maxDeleteCount and ads.maxDeleteFraction. */
  allowMassDelete: z.boolean().default(false),
  dryRun: z.boolean().default(false),
});

export const adsSync = defineJob({
  name: 'ads.sync',
  description: 'Apply an advertisement catalog (reseller packages, user overrides) to OX, incrementally',
  windowed: false,
  params: adsSyncParams,
  async run(job, services): Promise<AdsSyncResult> {
    const { catalog, full, allowMassDelete } = job.params;
    const dryRun = job.dryRun || job.params.dryRun;
    return syncAds({ catalog, full: full || job.force, allowMassDelete, dryRun }, services.ox, {
      config: services.config,
      redis: services.redis,
      log: job.log,
      signal: job.signal,
      onProgress: throttled((progress) => job.progress(progress)),
    });
  },
});

/** Progress reaches BullMQ (a Redis write) at most once a second, not once per entry. */
function throttled<T>(report: (value: T) => Promise<void>): (value: T) => void {
  let last = 0;
  return (value) => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    report(value).catch(() => undefined);
  };
}
