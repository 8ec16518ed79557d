/**
 * The digest as terminal tables (`ox-batch feedback digest`): the same figures as the mail, in
 * aligned columns.
 */
import { count, fixed, percent, questionLabel, scaleTitle, scoreLabels, shown, signed, windowLabel } from './digest-format.js';
import type { FeedbackDigest, TopList } from './digest-types.js';

export function digestTable(digest: FeedbackDigest, what: string): string {
  const out: string[] = [];
  out.push(`${what}, ${windowLabel(digest)}`);
  const headline =
    digest.scale === 'nps'
      ? `NPS ${signed(digest.scores.nps, 1)}, mean ${fixed(digest.scores.mean, 2)}`
      : `mean ${fixed(digest.scores.mean, 2)}`;
  out.push(
    `rows ${count(digest.rows)}${digest.invalidScores ? ` (${count(digest.invalidScores)} without a valid score)` : ''}; ${scaleTitle(digest.scale)}: ${headline} over ${count(digest.scores.answers)} answers`,
  );
  if (digest.rows === 0) return `${out.join('\n')}\nno feedback in this range\n`;
  const labels = scoreLabels(digest.scale);
  out.push(
    '',
    ...table(
      ['score', 'answers', 'share'],
      digest.scores.distribution.map((n, i) => [labels[i]!, count(n), percent(n, digest.scores.answers)]),
      [1, 2],
    ),
  );
  if (digest.scale === 'nps' && digest.questions?.length) {
    out.push(
      '',
      ...table(
        ['question', 'answers', 'NPS', 'promoters', 'passives', 'detractors', 'mean'],
        digest.questions.map((q) => [
          questionLabel(q.question),
          count(q.answers),
          signed(q.nps, 1),
          count(q.promoters ?? 0),
          count(q.passives ?? 0),
          count(q.detractors ?? 0),
          fixed(q.mean, 2),
        ]),
        [1, 2, 3, 4, 5, 6],
      ),
    );
  }
  const apps = [...digest.apps, ...(digest.otherApps ? [digest.otherApps] : [])];
  out.push(
    '',
    ...table(
      ['app', 'rows', 'share', digest.scale === 'nps' ? 'NPS' : 'mean'],
      apps.map((a) => [
        shown(a.app),
        count(a.rows),
        percent(a.rows, digest.rows),
        digest.scale === 'nps' ? signed(a.nps, 1) : fixed(a.mean, 2),
      ]),
      [1, 2, 3],
    ),
  );
  const tops: Array<[string, TopList]> = [
    ['browser', digest.browsers],
    ['operating system', digest.operatingSystems],
    ['language', digest.languages],
  ];
  const depth = Math.max(...tops.map(([, list]) => list.values.length));
  out.push(
    '',
    ...table(
      tops.flatMap(([title]) => [title, 'rows']),
      Array.from({ length: depth }, (_, i) =>
        tops.flatMap(([, list]) => {
          const v = list.values[i];
          return v ? [shown(v.value), count(v.rows)] : ['', ''];
        }),
      ),
      [1, 3, 5],
    ),
  );
  if (digest.comments.length > 0) {
    out.push('', 'comments worth reading (lowest scores first, then the longest):');
    for (const c of digest.comments) {
      const where = [
        c.score === null ? 'no valid score' : `score ${c.score}`,
        c.question === undefined ? '' : questionLabel(c.question),
        shown(c.app),
        c.date,
      ]
        .filter(Boolean)
        .join(', ');
      out.push(`  [${where}] ${c.text.replace(/\n/g, ' / ')}${c.truncated ? ` (${count(c.length)} characters in all)` : ''}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Columns padded to their widest cell; `right` lists the columns aligned right (numbers). */
function table(head: string[], rows: string[][], right: number[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}
