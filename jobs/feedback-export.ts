/**
 * `feedback.export`: one [start, end) window of OX user feedback, exported once from OX into a
 * spool file (OX's CSV, normalised CSV or JSON lines, optionally gzipped), then archived under
 * a deterministic key with a verified manifest and/or mailed — each exactly once per window.
 */
import { defineJob } from '../src/job-kind.js';
import { InputError } from '../src/errors.js';
import { scrubText } from '../src/log/secrets.js';
import { deliverArtifact } from '../src/delivery/deliver-artifact.js';
import { artifactKey } from '../src/delivery/archive-key.js';
import { exportFeedback } from '../src/export/export-feedback.js';
import { exportMailing } from '../src/export/export-mail.js';
import { describeCopy } from '../src/export/archived-copy.js';
import { feedbackExportParams } from '../src/export/export-params.js';
import { planExport } from '../src/export/export-plan.js';
import { purgesGuardedBy } from '../src/purge/guard-schedule.js';
import { startDigest, wantsDigest } from '../src/digest/window-digest.js';
import { withDigest } from '../src/digest/digest-mail.js';

export const feedbackExport = defineJob({
  name: 'feedback.export',
  description: 'Export one window of user feedback from OX to the archive (fs or S3) and/or by mail, exactly once',
  windowed: true,
  params: feedbackExportParams,

  // A schedule whose archive guards a purge archives exactly what its configuration says: a
  // `--param` of other columns or another feed would be deleted by on the strength of a copy
  // that lacks them.
  lockedParams(scheduleId, config) {
    const purges = purgesGuardedBy(config, scheduleId);
    if (purges.length === 0) return undefined;
    return {
      keys: ['contextGroup', 'type', 'format', 'columns', 'deliver'],
      why: `its archive guards the purge ${purges.join(', ')}`,
      // Of deliver, what counts is whether it archives: mail on or off changes no archive.
      compare: { deliver: (deliver) => Array.isArray(deliver) && deliver.includes('archive') },
    };
  },

  async run(job, services) {
    const { params, window } = job;
    if (!window) throw new InputError('feedback.export is windowed: give --start and --end, or run it from a schedule');

    // Work out the artifact and check the mail settings before fetching anything from OX.
    const plan = planExport(params, job.scheduleId, window);
    const mailing = params.deliver.includes('mail') ? await exportMailing(params, job.scheduleId, window, services.config) : undefined;

    // One pass from OX into the spool: rows, bytes, SHA-256 and the digest are known when it completes.
    const digesting = wantsDigest(params) ? startDigest(params, window) : undefined;
    const artifact = await exportFeedback(services.ox, {
      ...params,
      gzip: plan.gzip,
      window,
      spoolDir: services.config.spool.dir,
      signal: job.signal,
      observer: digesting?.observer,
      onProgress: (bytes) => void job.progress({ phase: 'exporting', bytes }).catch(() => undefined),
    });
    try {
      // What the archive will hold of the feed: only a complete copy may guard a purge.
      const copy = describeCopy(params, artifact);
      job.log.info(
        {
          rows: artifact.rows,
          bytes: artifact.bytes,
          format: params.format,
          oxRetries: artifact.oxRetries,
          ...(copy.partial ? { partial: copy.partial } : {}),
        },
        'window exported from OX',
      );
      await job.progress({ phase: 'exported', rows: artifact.rows, bytes: artifact.bytes });
      const digest = await digesting?.complete(artifact.rows, { ledger: services.ledger, scheduleId: job.scheduleId, log: job.log });
      if (job.dryRun) {
        return {
          ...plan.summary,
          ...digest?.fields,
          dryRun: true,
          rows: artifact.rows,
          bytes: artifact.bytes,
          sha256: artifact.sha256,
          wouldDeliver: params.deliver,
          archiveKey: artifactKey(plan.naming, services.config.archive.prefix),
        };
      }

      // Archive (verified, with manifest) and mail, each at most once per window.
      const delivered = await deliverArtifact(
        {
          artifact,
          naming: plan.naming,
          contentType: plan.contentType,
          deliver: params.deliver,
          manifest: { ...plan.describe, copy, oxUrl: scrubText(services.ox.baseUrl), ...digest?.fields },
          mail: mailing && withDigest(mailing.forRows(artifact.rows), digest),
          job,
        },
        services,
      );
      return { ...plan.summary, copy, ...delivered, contentBytes: artifact.contentBytes, oxRetries: artifact.oxRetries, ...digest?.fields };
    } finally {
      await artifact.cleanup();
    }
  },
});
