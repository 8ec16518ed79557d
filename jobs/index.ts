import type { AnyJobKind } from '../src/job-kind.js';
import { feedbackExport } from './feedback-export.js';
import { feedbackPurge } from './feedback-purge.js';
import { passwdAudit } from './passwd-audit.js';
import { adsSync } from './ads-sync.js';

/** Every job kind ox-batch can run, by name. Add a job file's export here. */
export const jobKinds: ReadonlyArray<AnyJobKind> = [feedbackExport, feedbackPurge, passwdAudit, adsSync];

export function findJobKind(name: string): AnyJobKind | undefined {
  return jobKinds.find((kind) => kind.name === name);
}
