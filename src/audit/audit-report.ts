/**
 * The audit's artifact (an RFC 4180 CSV written with csv-stringify) and its summary: how many
 * users were checked, how many changes were found and flagged, which users could not be checked
 * and which histories may be incomplete. The summary goes into the mail text and the ledger.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { isoUtc } from '../time/parse-time.js';
import type { JobWindow } from '../job-kind.js';
import { AUDIT_COLUMNS, type AuditRow, type UserAudit } from './flag-changes.js';
import type { WatchedUser } from './user-list.js';

/** A user that could not be checked, and why (404: gone or history disabled; 401: credentials). */
export interface UserFailure extends WatchedUser {
  status?: number;
  reason: string;
}

export interface AuditSummary {
  usersChecked: number;
  usersFailed: number;
  changes: number;
  flaggedRows: number;
  flaggedUsers: number;
  /** `ctx/user` of users whose full history starts inside or after the window. */
  mayBeMissing: string[];
  failures: UserFailure[];
}

export function summarize(audits: readonly UserAudit[], failures: readonly UserFailure[]): AuditSummary {
  return {
    usersChecked: audits.length,
    usersFailed: failures.length,
    changes: audits.reduce((n, a) => n + a.rows.length, 0),
    flaggedRows: audits.reduce((n, a) => n + a.flaggedRows, 0),
    flaggedUsers: audits.filter((a) => a.flaggedRows > 0).length,
    mayBeMissing: audits.filter((a) => a.mayBeMissing).map((a) => `${a.user.contextId}/${a.user.userId}`),
    failures: [...failures],
  };
}

/** Rows of all users, by context, user and date. */
export function reportRows(audits: readonly UserAudit[]): AuditRow[] {
  return audits.flatMap((a) => a.rows).sort((a, b) => a.context_id - b.context_id || a.user_id - b.user_id || a.date.localeCompare(b.date));
}

/**
 * A spreadsheet opens this report; client ids and addresses come from whoever changed the
 * password, so a cell that starts like a formula gets a `'` in front (OX's own export guard).
 */
export function guardFormula(value: string): string {
  return /^[=+\-@|]/.test(value) ? `'${value}` : value;
}

/** The report CSV as a byte stream (header always, CRLF rows, quotes only where RFC 4180 needs them). */
export function reportCsvStream(rows: readonly AuditRow[]): Readable {
  const guarded = rows.map((row) => ({
    ...row,
    client_id: guardFormula(row.client_id),
    client_name: guardFormula(row.client_name),
    client_address: guardFormula(row.client_address),
  }));
  return Readable.from(guarded).pipe(
    stringify({ header: true, columns: AUDIT_COLUMNS as string[], record_delimiter: '\r\n', quoted_match: /^\s|\s$/ }),
  );
}

/** Writes the report CSV to a file. */
export async function writeReportCsv(rows: readonly AuditRow[], path: string): Promise<void> {
  await pipeline(reportCsvStream(rows), createWriteStream(path));
}

export function summaryText(summary: AuditSummary, window: JobWindow, scheduleId: string): string {
  const lines = [
    `Password-change audit ${scheduleId}, window ${isoUtc(window.start)} .. ${isoUtc(window.end)} (UTC, end exclusive)`,
    '',
    `Users checked: ${summary.usersChecked} of ${summary.usersChecked + summary.usersFailed}${summary.usersFailed ? ` (${summary.usersFailed} could not be checked, listed below)` : ''}`,
    `Changes found: ${summary.changes}`,
    `Flagged rows:  ${summary.flaggedRows} (users with flagged changes: ${summary.flaggedUsers})`,
  ];
  if (summary.mayBeMissing.length > 0) {
    lines.push(
      '',
      `Changes may be missing (OX keeps only the last changes per user and the oldest kept one is inside the window) for: ${summary.mayBeMissing.join(', ')}`,
    );
  }
  if (summary.failures.length > 0) {
    lines.push('', 'Users that could not be checked:');
    for (const f of summary.failures) lines.push(`  ${f.contextId}/${f.userId}: ${f.status ? `HTTP ${f.status} ` : ''}${f.reason}`);
  }
  lines.push(
    '',
    'Flags: unknown-client = changed through a client not in alertClients; burst = more changes in the window than maxChanges.',
  );
  return `${lines.join('\n')}\n`;
}
