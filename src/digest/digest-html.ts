/**
 * The digest as the mail's HTML part (layout and escaping rules in delivery/html-mail.ts): the
 * headline figures, the chart as an inline PNG by `cid:`, the tables and the comments worth
 * reading. Every text that came from OX or from a person — comments, app and browser names, the
 * intro — goes through `h`; test/digest/digest-escaping.test.ts holds that no comment can add markup.
 */
import type { MailedFile } from '../delivery/deliver-artifact.js';
import { fileNote, gridTable as grid, h, kpiRow, mailPage, styleInliner } from '../delivery/html-mail.js';
import { CHART_HEIGHT, CHART_WIDTH } from './digest-chart.js';
import {
  count,
  describeChange,
  fixed,
  headline,
  lastWindows,
  percent,
  questionLabel,
  scaleTitle,
  scoreLabels,
  shown,
  signed,
  windowLabel,
} from './digest-format.js';
import type { AppFigures, FeedbackDigest, QuestionFigures, TopList } from './digest-types.js';

export const CHART_CID = 'digest-chart@ox-batch';

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

export async function digestHtmlRenderer(): Promise<DigestHtmlRenderer> {
  const inline = await styleInliner();
  return (digest, context) => inline(page(digest, context));
}

function page(digest: FeedbackDigest, context: DigestHtmlContext): string {
  return mailPage(
    context.title,
    [
      `<p class="muted">${h(digest.type)} · ${h(windowLabel(digest))}</p>`,
      context.intro ? `<p class="intro">${h(context.intro.trim())}</p>` : '',
      kpis(digest),
      digest.rows === 0 ? '<p>No feedback in this window.</p>' : figures(digest, context.chart !== false),
      fileNote(context.file, "The window's file"),
      '<p class="muted">Sent by ox-batch. The figures are also in the archive manifest and the job result (<code>digest</code>).</p>',
    ].join('\n'),
  );
}

function kpis(digest: FeedbackDigest): string {
  const change = digest.history?.change;
  const cells = [
    { label: 'Rows', value: count(digest.rows), note: digest.invalidScores ? `${count(digest.invalidScores)} without a valid score` : '' },
    {
      label: digest.scale === 'nps' ? 'NPS, all questions' : 'Mean score',
      value: digest.scale === 'nps' ? signed(digest.scores.nps, 1) : fixed(digest.scores.mean, 2),
      note: `${count(digest.scores.answers)} answers`,
    },
  ];
  if (digest.history) {
    cells.push({
      label: 'vs previous window',
      value: change?.previous ? headlineChange(digest, 'previous') : '–',
      note: describeChange(digest.scale, change?.previous),
    });
    cells.push({
      label: `vs ${lastWindows(digest.history.lastFour?.windows).replace('the ', '')}`,
      value: change?.lastFour ? headlineChange(digest, 'lastFour') : '–',
      note: describeChange(digest.scale, change?.lastFour),
    });
  }
  return kpiRow(cells);
}

function headlineChange(digest: FeedbackDigest, which: 'previous' | 'lastFour'): string {
  const change = digest.history!.change[which]!;
  return digest.scale === 'nps' ? signed(change.nps, 1) : signed(change.mean, 2);
}

function figures(digest: FeedbackDigest, chart: boolean): string {
  return [
    `<h2>${h(scaleTitle(digest.scale))}</h2>`,
    !chart
      ? ''
      : `<img src="cid:${CHART_CID}" width="${CHART_WIDTH}" height="${CHART_HEIGHT}" alt="${h(`Score distribution and trend: ${headline(digest.scale, digest.scores)}`)}" style="display: block; border: 0; width: ${CHART_WIDTH}px; height: ${CHART_HEIGHT}px;">`,
    distributionTable(digest),
    digest.scale === 'nps' && digest.questions?.length ? questionTable(digest, digest.questions) : '',
    appTable(digest),
    topTables(digest),
    comments(digest),
  ].join('\n');
}

function distributionTable(digest: FeedbackDigest): string {
  const labels = scoreLabels(digest.scale);
  const previous = digest.history?.previous?.distribution;
  const previousTotal = previous?.reduce((a, b) => a + b, 0) ?? 0;
  const head = ['Score', 'Answers', 'Share', ...(previous ? ['Previous window'] : [])];
  const rows = digest.scores.distribution.map((n, i) => [
    labels[i]!,
    count(n),
    percent(n, digest.scores.answers),
    ...(previous ? [percent(previous[i] ?? 0, previousTotal)] : []),
  ]);
  return `<h2>Distribution</h2>${grid(head, rows, (c) => (c > 0 ? 'num' : undefined))}`;
}

function questionTable(digest: FeedbackDigest, questions: QuestionFigures[]): string {
  const prev = digest.history?.change.previous?.questions;
  const four = digest.history?.change.lastFour?.questions;
  const rows = questions.map((q) => [
    questionLabel(q.question),
    count(q.answers),
    signed(q.nps, 1),
    count(q.promoters ?? 0),
    count(q.passives ?? 0),
    count(q.detractors ?? 0),
    ...(digest.history ? [signed(prev?.[q.question], 1), signed(four?.[q.question], 1)] : []),
  ]);
  const head = [
    'Question',
    'Answers',
    'NPS',
    'Promoters',
    'Passives',
    'Detractors',
    ...(digest.history ? ['vs previous', 'vs last 4'] : []),
  ];
  return `<h2>NPS by question</h2>${grid(head, rows, (c) => (c > 0 ? 'num' : undefined))}`;
}

function appTable(digest: FeedbackDigest): string {
  const apps: AppFigures[] = [...digest.apps, ...(digest.otherApps ? [digest.otherApps] : [])];
  const nps = digest.scale === 'nps';
  const rows = apps.map((a) => [
    shown(a.app),
    count(a.rows),
    percent(a.rows, digest.rows),
    nps ? signed(a.nps, 1) : fixed(a.mean, 2),
    ...(nps ? [(a.questions ?? []).map((q) => `${q.question}: ${signed(q.nps, 1)}`).join(', ')] : []),
  ]);
  const head = ['App', 'Rows', 'Share', nps ? 'NPS' : 'Mean', ...(nps ? ['NPS by question'] : [])];
  return `<h2>By app</h2>${grid(head, rows, (c) => (c > 0 && c < 4 ? 'num' : undefined))}`;
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
  const items = digest.comments
    .map((c) => {
      const meta = [
        c.score === null ? 'no valid score' : digest.scale === 'stars' ? `${c.score}★` : `score ${c.score}`,
        c.question === undefined ? '' : questionLabel(c.question),
        shown(c.app),
        c.date,
      ]
        .filter(Boolean)
        .map(h)
        .join(' · ');
      const text = c.text.split('\n').map(h).join('<br>');
      const more = c.truncated
        ? `<div class="comment-meta">… ${h(count(c.length))} characters in all; the whole comment is in the file.</div>`
        : '';
      return `<tr><td style="padding-bottom: 8px;"><div class="comment${c.score !== null && c.score <= low ? ' low' : ''}"><div class="comment-meta">${meta}</div><div>${text}</div>${more}</div></td></tr>`;
    })
    .join('\n');
  return `<h2>Comments worth reading</h2><p class="muted">Lowest scores first, then the longest.</p><table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">${items}</table>`;
}
