/**
 * The digest as the mail's HTML part: tables only, a fixed 640-pixel column and the chart as an
 * inline PNG by `cid:`, with the styles inlined by juice so that Outlook (Word's renderer) and
 * Gmail (which drops <style> in many views) show the same thing. Every text that came from OX or
 * from a person — comments, app and browser names, the intro — goes through `escapeHtml`; the
 * randomized test in test/digest/digest-escaping.test.ts holds that no comment can add markup.
 */
import escapeHtml from 'escape-html';
import type { MailedFile } from '../delivery/deliver-artifact.js';
import { CHART_HEIGHT, CHART_WIDTH } from './digest-chart.js';
import { count, describeChange, fixed, headline, percent, questionLabel, scaleTitle, scoreLabels, shown, signed, windowLabel } from './digest-format.js';
import type { AppFigures, FeedbackDigest, QuestionFigures, TopList } from './digest-types.js';

export const CHART_CID = 'digest-chart@ox-batch';

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
.comment { border-left: 3px solid #2f6fdf; padding: 6px 10px; background: #f7f9fc; }
.comment-meta { font-size: 11px; color: #6b7785; }
.low { border-left-color: #d94c5c; }
`;

export interface DigestHtmlContext {
  /** The mail subject, shown as the heading. */
  title: string;
  /** The mail's own text (params.text), shown small above the figures. */
  intro?: string;
  /** How the window's file travels with the mail. */
  file?: MailedFile;
  /** False when there is no chart image to show. */
  chart?: boolean;
}

export type DigestHtmlRenderer = (digest: FeedbackDigest, context: DigestHtmlContext) => string;

/** juice (and its HTML parser) load on first use: only a process that mails pays for them. */
export async function digestHtmlRenderer(): Promise<DigestHtmlRenderer> {
  const { default: juice } = await import('juice');
  return (digest, context) => juice(page(digest, context));
}

const h = (value: string | number) => escapeHtml(String(value));

function page(digest: FeedbackDigest, context: DigestHtmlContext): string {
  const body = [
    `<h1>${h(context.title)}</h1>`,
    `<p class="muted">${h(digest.type)} · ${h(windowLabel(digest))}</p>`,
    context.intro ? `<p class="intro">${h(context.intro.trim())}</p>` : '',
    kpis(digest),
    digest.rows === 0 ? '<p>No feedback in this window.</p>' : figures(digest, context.chart !== false),
    fileNote(context),
    '<p class="muted">Sent by ox-batch. The figures are also in the archive manifest and the job result (<code>digest</code>).</p>',
  ].join('\n');
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${h(context.title)}</title><style>${STYLE}</style></head>
<body><table role="presentation" class="page" width="100%" cellpadding="0" cellspacing="0" border="0"><tr><td align="center" style="padding: 16px 8px;">
<table role="presentation" class="card" width="640" cellpadding="0" cellspacing="0" border="0"><tr><td class="pad">
${body}
</td></tr></table>
</td></tr></table></body></html>
`;
}

function kpis(digest: FeedbackDigest): string {
  const cell = (label: string, value: string, note = '') =>
    `<td valign="top" width="25%"><div class="kpi-label">${h(label)}</div><div class="kpi">${h(value)}</div>${note ? `<div class="muted">${h(note)}</div>` : ''}</td>`;
  const change = digest.history?.change;
  const cells = [
    cell('Rows', count(digest.rows), digest.invalidScores ? `${count(digest.invalidScores)} without a valid score` : ''),
    cell(digest.scale === 'nps' ? 'NPS, all questions' : 'Mean score', digest.scale === 'nps' ? signed(digest.scores.nps, 1) : fixed(digest.scores.mean, 2), `${count(digest.scores.answers)} answers`),
  ];
  if (digest.history) {
    cells.push(cell('vs previous window', change?.previous ? headlineChange(digest, 'previous') : '–', describeChange(digest.scale, change?.previous)));
    cells.push(cell(`vs last ${digest.history.lastFour?.windows ?? 4} windows`, change?.lastFour ? headlineChange(digest, 'lastFour') : '–', describeChange(digest.scale, change?.lastFour)));
  }
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="margin-top: 12px;"><tr>${cells.join('')}</tr></table>`;
}

function headlineChange(digest: FeedbackDigest, which: 'previous' | 'lastFour'): string {
  const change = digest.history!.change[which]!;
  return digest.scale === 'nps' ? signed(change.nps, 1) : signed(change.mean, 2);
}

function figures(digest: FeedbackDigest, chart: boolean): string {
  return [
    `<h2>${h(scaleTitle(digest.scale))}</h2>`,
    !chart ? '' : `<img src="cid:${CHART_CID}" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" alt="${h(`Score distribution and trend: ${headline(digest.scale, digest.scores)}`)}" style="display: block; border: 0; width: ${CHART_WIDTH}px; height: ${CHART_HEIGHT}px;">`,
    distributionTable(digest),
    digest.scale === 'nps' && digest.questions?.length ? questionTable(digest, digest.questions) : '',
    appTable(digest),
    topTables(digest),
    comments(digest),
  ].join('\n');
}

function grid(head: string[], rows: string[][], numeric: (column: number) => boolean): string {
  const th = head.map((c, i) => `<th${numeric(i) ? ' class="num"' : ''}>${h(c)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric(i) ? ' class="num"' : ''}>${h(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table role="presentation" class="grid" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>${th}</tr>\n${trs}</table>`;
}

function distributionTable(digest: FeedbackDigest): string {
  const labels = scoreLabels(digest.scale);
  const previous = digest.history?.previous?.distribution;
  const previousTotal = previous?.reduce((a, b) => a + b, 0) ?? 0;
  const head = ['Score', 'Answers', 'Share', ...(previous ? ['Previous window'] : [])];
  const rows = digest.scores.distribution.map((n, i) => [labels[i]!, count(n), percent(n, digest.scores.answers), ...(previous ? [percent(previous[i] ?? 0, previousTotal)] : [])]);
  return `<h2>Distribution</h2>${grid(head, rows, (c) => c > 0)}`;
}

function questionTable(digest: FeedbackDigest, questions: QuestionFigures[]): string {
  const prev = digest.history?.change.previous?.questions;
  const four = digest.history?.change.lastFour?.questions;
  const rows = questions.map((q) => [
    questionLabel(q.question), count(q.answers), signed(q.nps, 1), count(q.promoters ?? 0), count(q.passives ?? 0), count(q.detractors ?? 0),
    ...(digest.history ? [signed(prev?.[q.question], 1), signed(four?.[q.question], 1)] : []),
  ]);
  const head = ['Question', 'Answers', 'NPS', 'Promoters', 'Passives', 'Detractors', ...(digest.history ? ['vs previous', 'vs last 4'] : [])];
  return `<h2>NPS by question</h2>${grid(head, rows, (c) => c > 0)}`;
}

function appTable(digest: FeedbackDigest): string {
  const apps: AppFigures[] = [...digest.apps, ...(digest.otherApps ? [digest.otherApps] : [])];
  const nps = digest.scale === 'nps';
  const rows = apps.map((a) => [
    shown(a.app), count(a.rows), percent(a.rows, digest.rows), nps ? signed(a.nps, 1) : fixed(a.mean, 2),
    ...(nps ? [(a.questions ?? []).map((q) => `${q.question}: ${signed(q.nps, 1)}`).join(', ')] : []),
  ]);
  const head = ['App', 'Rows', 'Share', nps ? 'NPS' : 'Mean', ...(nps ? ['NPS by question'] : [])];
  return `<h2>By app</h2>${grid(head, rows, (c) => c > 0 && c < 4)}`;
}

function topTables(digest: FeedbackDigest): string {
  const column = (title: string, list: TopList) => {
    const rows = list.values.map((v) => `<tr><td>${h(shown(v.value))}</td><td class="num">${h(count(v.rows))}</td></tr>`).join('');
    const note = list.capped ? `<tr><td colspan="2" class="muted">more than ${h(count(list.distinct))} distinct values</td></tr>` : '';
    return `<td valign="top" width="33%" style="padding-right: 12px;"><table role="presentation" class="grid" width="100%" cellpadding="0" cellspacing="0" border="0"><tr><th>${h(title)}</th><th class="num">Rows</th></tr>${rows}${note}</table></td>`;
  };
  return `<h2>Clients</h2><table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"><tr>${column('Browser', digest.browsers)}${column('Operating system', digest.operatingSystems)}${column('Language', digest.languages)}</tr></table>`;
}

function comments(digest: FeedbackDigest): string {
  if (digest.comments.length === 0) return '';
  const low = digest.scale === 'stars' ? 2 : 6;
  const items = digest.comments.map((c) => {
    const meta = [c.score === null ? 'no valid score' : digest.scale === 'stars' ? `${c.score}★` : `score ${c.score}`, c.question === undefined ? '' : questionLabel(c.question), shown(c.app), c.date]
      .filter(Boolean).map(h).join(' · ');
    const text = c.text.split('\n').map(h).join('<br>');
    const more = c.truncated ? `<div class="comment-meta">… ${h(count(c.length))} characters in all; the whole comment is in the file.</div>` : '';
    return `<tr><td style="padding-bottom: 8px;"><div class="comment${c.score !== null && c.score <= low ? ' low' : ''}"><div class="comment-meta">${meta}</div><div>${text}</div>${more}</div></td></tr>`;
  }).join('\n');
  return `<h2>Comments worth reading</h2><p class="muted">Lowest scores first, then the longest.</p><table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">${items}</table>`;
}

function fileNote(context: DigestHtmlContext): string {
  const file = context.file;
  if (!file) return '';
  if (file.download) {
    return `<p>The file <b>${h(file.filename)}</b> (${h(count(file.bytes))} bytes, SHA-256 <code>${h(file.sha256)}</code>) is too large to attach. ` +
      `<a href="${h(file.download.url)}">Download it</a> until ${h(file.download.expiresAt)}.</p>`;
  }
  return `<p>The window's file is attached, unchanged: <b>${h(file.filename)}</b> (${h(count(file.bytes))} bytes).</p>`;
}
