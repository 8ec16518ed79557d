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
import { artifactFileType, exportFeedback } from '../src/export/export-feedback.js';
import { exportMailing, isoSeconds } from '../src/export/export-mail.js';
import { feedbackExportParams } from '../src/export/export-params.js';

export const feedbackExport = defineJob({
  name: 'feedback.export',
  description: 'Export one window of user feedback from OX to the archive (fs or S3) and/or by mail, exactly once',
  windowed: true,
  params: feedbackExportParams,

  async run(run, services) {
    const { params } = run;
    if (!run.window) throw new InputError('feedback.export is windowed: give --start and --end, or run it from a schedule');
    const window = run.window;
    const gzip = params.compress === 'gzip';
    const file = artifactFileType(params.format, gzip);
    const naming = { schedule: run.scheduleId, group: params.contextGroup, type: params.type, window, ext: file.ext, gzip };
    const mailing = params.deliver.includes('mail') ? await exportMailing(params, run.scheduleId, window, services.config) : undefined;
    const what = { contextGroup: params.contextGroup, type: params.type, format: params.format, compress: params.compress };
    const summary = { ...what, window: { start: isoSeconds(window.start), end: isoSeconds(window.end) } };

    const artifact = await exportFeedback(services.ox, {
      ...params, gzip, window, spoolDir: services.config.spool.dir, signal: run.signal,
      onProgress: (bytes) => void run.progress({ phase: 'exporting', bytes }).catch(() => undefined),
    });
    try {
      run.log.info({ rows: artifact.rows, bytes: artifact.bytes, format: params.format }, 'window exported from OX');
      await run.progress({ phase: 'exported', rows: artifact.rows, bytes: artifact.bytes });
      if (run.dryRun) {
        return { ...summary, dryRun: true, rows: artifact.rows, bytes: artifact.bytes, sha256: artifact.sha256,
          wouldDeliver: params.deliver, archiveKey: artifactKey(naming, services.config.archive.prefix) };
      }
      const delivered = await deliverArtifact({
        artifact,
        naming,
        contentType: file.contentType,
        deliver: params.deliver,
        manifest: { ...what, oxUrl: scrubText(services.ox.baseUrl) },
        mail: mailing?.forRows(artifact.rows),
        run,
      }, services);
      return { ...summary, ...delivered, contentBytes: artifact.contentBytes };
    } finally {
      await artifact.cleanup();
    }
  },
});
