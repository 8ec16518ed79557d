/**
 * The password audit mail: the summary, then the flagged changes first — as an HTML table (layout
 * and escaping in delivery/html-mail.ts; client ids and addresses come from whoever changed the
 * password, so every cell is escaped) and as lines in the text part — then the other changes.
 * The HTML lists at most MAX_HTML_ROWS changes; the attached CSV always has them all.
 */
import type { MailedFile } from '../delivery/deliver-artifact.js';
import { fileNote, gridTable, h, kpiRow, mailPage, styleInliner } from '../delivery/html-mail.js';
import type { AuditSummary } from './audit-report.js';
import type { AuditRow } from './flag-changes.js';

export const MAX_HTML_ROWS = 200;
/** Flagged changes listed in the text part (the CSV has them all). */
const MAX_TEXT_ROWS = 50;
const HEAD = ['User', 'Date (UTC)', 'Client', 'Client name', 'Address', 'Flags'];

/** Flagged rows first (in report order), then the others. */
export function flaggedFirst(rows: readonly AuditRow[]): AuditRow[] {
  return [...rows.filter((r) => r.flag !== ''), ...rows.filter((r) => r.flag === '')];
}

/** Lines for the text part: the flagged changes. */
export function flaggedText(rows: readonly AuditRow[]): string {
  const flagged = rows.filter((r) => r.flag !== '');
  if (flagged.length === 0) return 'No flagged changes.\n';
  const lines = ['Flagged changes:'];
  for (const r of flagged.slice(0, MAX_TEXT_ROWS)) {
    lines.push(
      `  ${r.context_id}/${r.user_id}  ${r.date}  ${r.client_id}${r.client_name ? ` (${r.client_name})` : ''}  from ${r.client_address || 'unknown address'}  [${r.flag}]`,
    );
  }
  if (flagged.length > MAX_TEXT_ROWS) lines.push(`  … and ${flagged.length - MAX_TEXT_ROWS} more in the attached report`);
  return `${lines.join('\n')}\n`;
}

export interface AuditHtmlContext {
  title: string;
  intro?: string;
  window: { start: string; end: string };
  file: MailedFile;
}

export async function auditHtmlRenderer(): Promise<
  (rows: readonly AuditRow[], summary: AuditSummary, context: AuditHtmlContext) => string
> {
  const inline = await styleInliner();
  return (rows, summary, context) => inline(auditPage(rows, summary, context));
}

function auditPage(rows: readonly AuditRow[], summary: AuditSummary, context: AuditHtmlContext): string {
  const ordered = flaggedFirst(rows);
  const shown = ordered.slice(0, MAX_HTML_ROWS);
  const cells = (r: AuditRow) => [
    `${r.context_id}/${r.user_id}`,
    r.date.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''),
    r.client_id,
    r.client_name,
    r.client_address,
    r.flag.replaceAll(';', ', '),
  ];
  const body = [
    `<p class="muted">${h(context.window.start)} – ${h(context.window.end)} (UTC, end excluded)</p>`,
    context.intro ? `<p class="intro">${h(context.intro.trim())}</p>` : '',
    kpiRow([
      { label: 'Users checked', value: `${summary.usersChecked}`, note: `of ${summary.usersChecked + summary.usersFailed}` },
      { label: 'Changes', value: `${summary.changes}` },
      { label: 'Flagged', value: `${summary.flaggedRows}`, note: `${summary.flaggedUsers} user${summary.flaggedUsers === 1 ? '' : 's'}` },
      { label: 'Not checked', value: `${summary.usersFailed}` },
    ]),
    `<h2>${summary.flaggedRows > 0 ? 'Flagged changes first' : 'Changes'}</h2>`,
    shown.length === 0
      ? '<p>No password changes in this window.</p>'
      : gridTable(
          HEAD,
          shown.map(cells),
          (c) => (c === 1 || c === 4 ? 'nowrap' : undefined),
          (n) => (shown[n]!.flag ? 'flagged' : undefined),
        ),
    ordered.length > shown.length
      ? `<p class="muted">… and ${h(ordered.length - shown.length)} more changes in the attached report.</p>`
      : '',
    summary.mayBeMissing.length > 0
      ? `<h2>Changes may be missing</h2><p>OX keeps only the last changes per user, and the oldest one kept is inside the window, for: ${h(summary.mayBeMissing.join(', '))}</p>`
      : '',
    summary.failures.length > 0
      ? `<h2>Users that could not be checked</h2>${gridTable(
          ['User', 'Status', 'Reason'],
          summary.failures.map((f) => [`${f.contextId}/${f.userId}`, f.status ? `HTTP ${f.status}` : '', f.reason]),
          () => undefined,
        )}`
      : '',
    '<p class="muted">Flags: unknown-client = changed through a client not in alertClients; burst = more changes in the window than maxChanges.</p>',
    fileNote(context.file, 'The full report'),
  ].join('\n');
  return mailPage(context.title, body);
}
