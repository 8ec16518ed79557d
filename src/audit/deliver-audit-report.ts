/**
 * Delivers the audit report exactly like a feedback export — same spool, same deliverArtifact
 * (deterministic key with type `passwd-changes`, manifest, read-back verification, exactly-once
 * mail) — with the audit summary in the manifest and in the mail: text part, and an HTML part
 * with the flagged changes first (audit-mail.ts).
 */
import { z } from 'zod';
import { commaList, mailTemplate } from '../delivery/param-schemas.js';
import type { JobContext, Services } from '../job-kind.js';
import { spoolStream } from '../delivery/spool.js';
import { deliverArtifact, type ArtifactResult } from '../delivery/deliver-artifact.js';
import { renderTemplate } from '../delivery/mail-template.js';
import { isoUtc } from '../time/parse-time.js';
import { AUDIT_COLUMNS, type AuditRow } from './flag-changes.js';
import { reportCsvStream, type AuditSummary } from './audit-report.js';
import { auditHtmlRenderer, flaggedText } from './audit-mail.js';

export const AUDIT_TYPE = 'passwd-changes';
/** Second level of the archive key (the context group for feedback). */
export const AUDIT_GROUP = 'audit';

export const AUDIT_PLACEHOLDERS = ['schedule', 'start', 'end', 'users', 'changes', 'flagged', 'failed'] as const;
export const DEFAULT_AUDIT_SUBJECT = 'OX password changes {start} to {end}: {changes} changes, {flagged} flagged';

const list = commaList;
const template = (what: string) => mailTemplate(AUDIT_PLACEHOLDERS, what);

/** The delivery params of passwd.audit: those of feedback.export that make sense for a report. */
export const auditDeliveryParams = z.object({
  deliver: list(z.enum(['archive', 'mail']))
    .default(['archive'])
    .refine((d) => d.length > 0, 'at least one of archive, mail'),
  mailTo: list(z.string().min(3)).optional(),
  mailCc: list(z.string().min(3)).default([]),
  /** OX's `send` mails feedback only: the audit always mails over SMTP. */
  via: z.literal('smtp').default('smtp'),
  compress: z
    .union([z.enum(['gzip', 'none']), z.boolean()])
    .default('none')
    .transform((v) => (v === true || v === 'gzip' ? ('gzip' as const) : ('none' as const))),
  subject: template('params.subject').default(DEFAULT_AUDIT_SUBJECT),
  /** Put above the generated summary. */
  text: template('params.text').optional(),
});

type AuditDeliveryParams = z.output<typeof auditDeliveryParams>;

export async function deliverAuditReport(
  job: JobContext<AuditDeliveryParams>,
  services: Services,
  rows: readonly AuditRow[],
  summary: AuditSummary,
  summaryText: string,
): Promise<ArtifactResult> {
  const { params } = job;
  const window = job.window!;
  const gzip = params.compress === 'gzip';
  const artifact = await spoolStream(reportCsvStream(rows), {
    dir: services.config.spool.dir,
    gzip,
    rowCounter: { update: () => undefined, rows: rows.length },
    signal: job.signal,
  });
  try {
    const values = {
      schedule: job.scheduleId,
      start: isoUtc(window.start),
      end: isoUtc(window.end),
      users: summary.usersChecked + summary.usersFailed,
      changes: summary.changes,
      flagged: summary.flaggedRows,
      failed: summary.usersFailed,
    };
    const intro = params.text ? `${renderTemplate(params.text, values, 'params.text').trimEnd()}\n\n` : '';
    const subject = renderTemplate(params.subject, values, 'params.subject');
    return await deliverArtifact(
      {
        artifact,
        naming: { schedule: job.scheduleId, group: AUDIT_GROUP, type: AUDIT_TYPE, window, ext: 'csv', gzip },
        contentType: gzip ? 'application/gzip' : 'text/csv; charset=utf-8',
        deliver: params.deliver,
        manifest: {
          job: 'passwd.audit',
          type: AUDIT_TYPE,
          format: 'csv',
          compress: params.compress,
          columns: AUDIT_COLUMNS,
          oxUrl: services.ox.baseUrl,
          summary,
        },
        mail: {
          via: 'smtp',
          to: params.mailTo ?? services.config.mail.to,
          cc: params.mailCc,
          subject,
          text: `${intro}${summaryText}\n${flaggedText(rows)}`,
          html: async (file) => ({
            html: (await auditHtmlRenderer())(rows, summary, {
              title: subject,
              intro,
              window: { start: values.start, end: values.end },
              file,
            }),
            inline: [],
          }),
        },
        job,
      },
      services,
    );
  } finally {
    await artifact.cleanup();
  }
}
