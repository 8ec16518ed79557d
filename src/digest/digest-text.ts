/**
 * The digest as plain text: the mail's text part (for text-only clients, and the body OX's `send`
 * mails), with the same figures as the HTML part.
 */
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
import type { FeedbackDigest, ScoreFigures, TopList } from './digest-types.js';

export function digestText(digest: FeedbackDigest): string {
  const lines: string[] = [];
  lines.push(`Feedback digest: ${digest.type}, ${windowLabel(digest)}`);
  lines.push(`Rows: ${count(digest.rows)}${digest.invalidScores ? ` (${count(digest.invalidScores)} without a valid score)` : ''}`);
  lines.push(`${scaleTitle(digest.scale)}: ${headline(digest.scale, digest.scores)} over ${count(digest.scores.answers)} answers`);
  if (digest.history) {
    lines.push(`Against the previous window: ${describeChange(digest.scale, digest.history.change.previous)}`);
    const four = digest.history.lastFour;
    lines.push(`Against the mean of ${lastWindows(four?.windows)}: ${describeChange(digest.scale, digest.history.change.lastFour)}`);
  }
  if (digest.rows === 0) {
    lines.push('', 'No feedback in this window.');
    return `${lines.join('\n')}\n`;
  }
  lines.push('', 'Distribution:');
  lines.push(...distributionLines(digest, digest.scores));
  if (digest.scale === 'nps' && digest.questions?.length) {
    lines.push('', 'By question:');
    for (const q of digest.questions) lines.push(`  ${questionLabel(q.question).padEnd(14)} ${npsLine(q)}`);
  }
  lines.push('', 'By app:');
  for (const app of [...digest.apps, ...(digest.otherApps ? [digest.otherApps] : [])]) {
    lines.push(
      `  ${shown(app.app).padEnd(24)} ${count(app.rows).padStart(9)} rows  ${digest.scale === 'nps' ? npsLine(app) : `mean ${fixed(app.mean, 2)}`}`,
    );
  }
  lines.push(
    '',
    topLine('Browsers', digest.browsers),
    topLine('Operating systems', digest.operatingSystems),
    topLine('Languages', digest.languages),
  );
  if (digest.comments.length > 0) {
    lines.push('', 'Comments worth reading (lowest scores first, then the longest):');
    for (const c of digest.comments) {
      const where = [
        c.score === null ? 'no valid score' : `score ${c.score}`,
        c.question === undefined ? '' : questionLabel(c.question),
        shown(c.app),
        c.date,
      ]
        .filter(Boolean)
        .join(', ');
      lines.push(`  [${where}]`);
      for (const line of c.text.split('\n')) lines.push(`    ${line}`);
      if (c.truncated) lines.push(`    (${count(c.length)} characters in all; the whole comment is in the file)`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function distributionLines(digest: FeedbackDigest, figures: ScoreFigures): string[] {
  const labels = scoreLabels(digest.scale);
  const previous = digest.history?.previous?.distribution;
  const previousTotal = previous?.reduce((a, b) => a + b, 0) ?? 0;
  return figures.distribution.map((n, i) => {
    const before = previous ? `   previous window ${percent(previous[i] ?? 0, previousTotal).padStart(6)}` : '';
    return `  ${labels[i]!.padStart(3)} ${count(n).padStart(9)}  ${percent(n, figures.answers).padStart(6)}${before}`;
  });
}

function npsLine(f: ScoreFigures): string {
  return `NPS ${signed(f.nps, 1).padStart(6)}  promoters ${count(f.promoters ?? 0)}, passives ${count(f.passives ?? 0)}, detractors ${count(f.detractors ?? 0)}`;
}

function topLine(title: string, list: TopList): string {
  const values = list.values.map((v) => `${shown(v.value)} ${count(v.rows)}`).join(', ');
  return `${title}: ${values || '–'}${list.capped ? ` (more than ${count(list.distinct)} distinct values: the rest counted as "(other)")` : ''}`;
}
