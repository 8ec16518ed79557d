/**
 * What one feedback.export run produces, worked out from its params before anything is fetched:
 * the artifact's name parts and file type, and the fields that describe it in the manifest and
 * the job result.
 */
import type { ArtifactNaming } from '../delivery/archive-key.js';
import { artifactFileType } from './export-feedback.js';
import { isoSeconds } from './export-mail.js';
import type { FeedbackExportParams } from './export-params.js';

export interface ExportPlan {
  gzip: boolean;
  naming: ArtifactNaming;
  contentType: string;
  /** contextGroup, type, format, compress (and its level): in the manifest and the result. */
  describe: {
    contextGroup: string;
    type: string;
    format: FeedbackExportParams['format'];
    compress: FeedbackExportParams['compress'];
    compressionLevel?: number;
  };
  /** `describe` plus the window in ISO UTC: the head of the job result. */
  summary: ExportPlan['describe'] & { window: { start: string; end: string } };
}

export function planExport(params: FeedbackExportParams, schedule: string, window: { start: number; end: number }): ExportPlan {
  const gzip = params.compress === 'gzip';
  const file = artifactFileType(params.format, gzip);
  const describe = {
    contextGroup: params.contextGroup,
    type: params.type,
    format: params.format,
    compress: params.compress,
    ...(gzip ? { compressionLevel: params.compressionLevel } : {}),
  };
  return {
    gzip,
    naming: { schedule, group: params.contextGroup, type: params.type, window, ext: file.ext, gzip },
    contentType: file.contentType,
    describe,
    summary: { ...describe, window: { start: isoSeconds(window.start), end: isoSeconds(window.end) } },
  };
}
