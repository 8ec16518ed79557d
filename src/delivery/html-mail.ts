/**
 * The HTML part of a job mail (the feedback digest, the password audit): tables only, one
 * 640-pixel column, styles written once and inlined by juice, so that Outlook (Word's renderer)
 * and Gmail (which drops <style> in many views) show the same thing. Every text from OX, from a
 * person or from config goes through `h` (escape-html); the randomized tests in test/digest and
 * test/audit hold that no such text can add markup.
 */
import escapeHtml from 'escape-html';
import type { MailedFile } from './deliver-artifact.js';

const STYLE = `
body { margin: 0; padding: 0; background: #f3f5f8; }
.page { background: #f3f5f8; }
.card { background: #ffffff; border: 1px solid #dde2e8; }
.pad { padding: 16px 20px; }
h1 { font-family: Arial, Helvetica, sans-serif; font-size: 18px; color: #1d2733; margin: 0 0 4px 0; }
h2 { font-family: Arial, Helvetica, sans-serif; font-size: 14px; color: #1d2733; margin: 18px 0 6px 0; }
p, td, th { font-family: Arial, Helvetica, sans-serif; font-size: 13px; color: #333d48; }
.muted { color: #6b7785; font-size: 12px; }
.intro { color: #6b7785; font-size: 12px; white-space: pre-wrap; }
.kpi { font-size: 22px; font-weight: bold; color: #1d2733; }
.kpi-label { font-size: 11px; color: #6b7785; text-transform: uppercase; }
.grid th { text-align: left; font-size: 12px; color: #6b7785; border-bottom: 1px solid #dde2e8; padding: 4px 8px 4px 0; }
.grid td { border-bottom: 1px solid #eef1f4; padding: 4px 8px 4px 0; }
.num { text-align: right; }
.nowrap { white-space: nowrap; }
.small td, .small th { font-size: 12px; }
.flag { color: #b3261e; font-weight: bold; }
.flagged td { background: #fdf1f0; }
.comment { border-left: 3px solid #2f6fdf; padding: 6px 10px; background: #f7f9fc; }
.comment-meta { font-size: 11px; color: #6b7785; }
.low { border-left-color: #d94c5c; }
`;

/** Text as HTML: every character that could open markup or end an attribute is escaped. */
export const h = (value: string | number): string => escapeHtml(String(value));

/** A complete mail document around `body` (already HTML), titled `title` (text). */
export function mailPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${h(title)}</title><style>${STYLE}</style></head>
<body><table role="presentation" class="page" width="100%" cellpadding="0" cellspacing="0" border="0"><tr><td align="center" style="padding: 16px 8px;">
<table role="presentation" class="card" width="640" cellpadding="0" cellspacing="0" border="0"><tr><td class="pad">
<h1>${h(title)}</h1>
${body}
</td></tr></table>
</td></tr></table></body></html>
`;
}

/** A table of text cells; `columnClass(column)` styles a column (`num`: right-aligned, `nowrap`); `rowClass(row)` marks rows. */
export function gridTable(
  head: string[],
  rows: string[][],
  columnClass: (column: number) => string | undefined,
  rowClass?: (row: number) => string | undefined,
): string {
  const cls = (name: string | undefined) => (name ? ` class="${h(name)}"` : '');
  const th = head.map((c, i) => `<th${cls(columnClass(i))}>${h(c)}</th>`).join('');
  const trs = rows
    .map((r, n) => `<tr${cls(rowClass?.(n))}>${r.map((c, i) => `<td${cls(columnClass(i))}>${h(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table role="presentation" class="grid" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>${th}</tr>\n${trs}</table>`;
}

/** Label / figure / note cells side by side (the mail's headline numbers). */
export function kpiRow(cells: Array<{ label: string; value: string; note?: string }>): string {
  const width = Math.floor(100 / Math.max(1, cells.length));
  const tds = cells.map(
    (c) =>
      `<td valign="top" width="${width}%"><div class="kpi-label">${h(c.label)}</div><div class="kpi">${h(c.value)}</div>${c.note ? `<div class="muted">${h(c.note)}</div>` : ''}</td>`,
  );
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="margin-top: 12px;"><tr>${tds.join('')}</tr></table>`;
}

/** juice (and its HTML parser) load on first use: only a process that mails pays for them. */
export async function styleInliner(): Promise<(html: string) => string> {
  const { default: juice } = await import('juice');
  return (html) => juice(html);
}

/** How the job's file travels with the mail: attached, or linked when too large to attach. */
export function fileNote(file: MailedFile | undefined, what: string): string {
  if (!file) return '';
  if (file.download) {
    return (
      `<p>The file <b>${h(file.filename)}</b> (${h(file.bytes.toLocaleString('en-US'))} bytes, SHA-256 <code>${h(file.sha256)}</code>) is too large to attach. ` +
      `<a href="${h(file.download.url)}">Download it</a> until ${h(file.download.expiresAt)}.</p>`
    );
  }
  return `<p>${h(what)}, attached unchanged: <b>${h(file.filename)}</b> (${h(file.bytes.toLocaleString('en-US'))} bytes).</p>`;
}
