/**
 * `passwd.audit`: for one window, who of the watched users changed a password, when, and through
 * which client — with the changes an incident responder should look at flagged (a client nobody
 * expects, more changes than `maxChanges`). The report is archived and mailed like a feedback
 * export (same delivery module, type `passwd-changes`). A user OX cannot answer for is listed in
 * the summary, not fatal; the run fails only when every user failed or OX is down.
 */
import { z } from 'zod';
import { defineJob } from '../src/job-kind.js';
import { loadWatchedUsers } from '../src/audit/read-user-source.js';
import { OX_CLIENT_IDS } from '../src/audit/flag-changes.js';
import { auditUsers } from '../src/audit/audit-users.js';
import { reportRows, summarize, summaryText } from '../src/audit/audit-report.js';
import { everyUserFailed } from '../src/audit/every-user-failed.js';
import { deliverAuditReport, auditDeliveryParams } from '../src/audit/deliver-audit-report.js';
import { InputError } from '../src/errors.js';

const clientList = z.union([
  z.array(z.string().min(1)),
  z.string().transform((s) =>
    s
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean),
  ),
]);

const auditParams = z.object({
  /** A file (YAML/JSON/CSV, local or s3://) or an inline list of contextId/userId. */
  users: z.union([z.string().min(1, 'empty: give a users file or a list such as 10/1,10/2'), z.array(z.unknown())], {
    error: (issue) =>
      issue.input === undefined
        ? 'missing: give the watched users as a file (YAML/JSON/CSV, local or s3://) or a list such as 10/1,10/2'
        : 'expected a users file (YAML/JSON/CSV, local or s3://) or a list of contextId/userId such as 10/1,10/2',
  }),
  /** Client ids considered normal; a change through any other is flagged `unknown-client`. */
  alertClients: clientList.default([...OX_CLIENT_IDS]),
  /** More changes per user in one window than this are flagged `burst`. */
  maxChanges: z.number().int().min(1).default(3),
  ...auditDeliveryParams.shape,
});

export const passwdAudit = defineJob({
  name: 'passwd.audit',
  description: 'Report password changes of watched users per window, flag unknown clients and bursts, archive and mail the report',
  windowed: true,
  params: auditParams,
  async run(job, services) {
    const window = job.window!;
    const { config, ox } = services;
    const users = await loadWatchedUsers(job.params.users, config.archive, job.signal);
    if (users.length === 0) throw new InputError('param users: the list of watched users is empty');

    const rules = {
      knownClients: new Set(job.params.alertClients),
      maxChanges: job.params.maxChanges,
      historySize: config.passwd.historySize,
    };
    const { audits, failures } = await auditUsers(ox, users, window, rules, {
      concurrency: config.passwd.concurrency,
      signal: job.signal,
      onProgress: (done) => void job.progress({ users: users.length, done }).catch(() => undefined),
    });
    if (failures.length === users.length) throw everyUserFailed(failures);

    const summary = summarize(audits, failures);
    const text = summaryText(summary, window, job.scheduleId);
    const rows = reportRows(audits);
    for (const user of summary.mayBeMissing)
      job.log.warn({ user }, `passwd.audit: history of ${user} is full and starts inside the window: changes may be missing`);

    if (job.dryRun) {
      job.log.info(
        { summary },
        `passwd.audit dry run: ${rows.length} changes of ${summary.usersChecked} users, ${summary.flaggedRows} flagged; nothing delivered`,
      );
      return { ...summary, rows: rows.length, dryRun: true };
    }
    const delivered = await deliverAuditReport(job, services, rows, summary, text);
    job.log.info(
      { summary },
      `passwd.audit: ${summary.usersChecked} of ${users.length} users checked, ${summary.changes} changes, ${summary.flaggedRows} flagged${failures.length ? `, ${failures.length} users failed` : ''}`,
    );
    return { ...delivered, ...summary };
  },
});
