/**
 * Words and numbers of the digest, shared by its text part, its HTML part and the terminal table,
 * so the three say the same thing the same way.
 */
import type { DigestChange, DigestScale, FeedbackDigest, ScoreFigures } from './digest-types.js';

const THOUSANDS = new Intl.NumberFormat('en-US');

export function count(n: number): string {
  return THOUSANDS.format(n);
}

export function fixed(n: number | null | undefined, decimals: number): string {
  return typeof n === 'number' ? n.toFixed(decimals) : '–';
}

/** `+1.2` / `-0.5` / `±0`; `–` when unknown. */
export function signed(n: number | null | undefined, decimals: number): string {
  if (typeof n !== 'number') return '–';
  if (n === 0) return '±0';
  return `${n > 0 ? '+' : '−'}${Math.abs(n).toFixed(decimals)}`;
}

export function percent(part: number, whole: number): string {
  return whole === 0 ? '–' : `${((part / whole) * 100).toFixed(1)}%`;
}

/** Labels of the distribution's slots: `1★`…`5★`, or `0`…`10`. */
export function scoreLabels(scale: DigestScale): string[] {
  return scale === 'stars' ? ['1★', '2★', '3★', '4★', '5★'] : Array.from({ length: 11 }, (_, i) => String(i));
}

export function scaleTitle(scale: DigestScale): string {
  if (scale === 'stars') return 'Star rating (1-5)';
  if (scale === 'nps') return 'Net Promoter Score (0-10)';
  return 'Score (0-10)';
}

/** "3.94" for stars, "NPS +12.5" for nps: the headline figure of a set of scores. */
export function headline(scale: DigestScale, figures: Pick<ScoreFigures, 'mean' | 'nps'>): string {
  return scale === 'nps' ? `NPS ${signed(figures.nps, 1)}` : `mean ${fixed(figures.mean, 2)}`;
}

/** The change of the headline figure and of the rows, e.g. "mean +0.12, rows +5.0%". */
export function describeChange(scale: DigestScale, change: DigestChange | null | undefined): string {
  if (!change) return 'no earlier digest';
  const figure = scale === 'nps' ? `NPS ${signed(change.nps, 1)}` : `mean ${signed(change.mean, 2)}`;
  const rows = change.rowsPercent === null ? `rows ${signed(change.rows, 0)}` : `rows ${signed(change.rowsPercent, 1)}%`;
  return `${figure}, ${rows}`;
}

/** A value as shown: OX's empty string becomes "(none)". */
export function shown(value: string): string {
  return value === '' ? '(none)' : value;
}

export function questionLabel(question: string): string {
  return `question ${question}`;
}

/** Window bounds for people: `2026-11-01 00:00 – 2026-11-02 00:00 UTC`. */
export function windowLabel(digest: Pick<FeedbackDigest, 'window'>): string {
  if (!digest.window) return 'all feedback';
  const short = (iso: string) => iso.replace('T', ' ').replace(/(:00)?(\.000)?Z$/, '');
  return `${short(digest.window.start)} – ${short(digest.window.end)} UTC`;
}

/** Trend axis label of a window start: the date, with the time when windows are shorter than a day. */
export function trendLabel(startIso: string, endIso: string): string {
  const hours = (Date.parse(endIso) - Date.parse(startIso)) / 3_600_000;
  return hours < 24 ? startIso.slice(5, 16).replace('T', ' ') : startIso.slice(5, 10);
}

/** "the last 4 windows", "the last window". */
export function lastWindows(n: number | undefined): string {
  const count = n ?? 4;
  return count === 1 ? 'the last window' : `the last ${count} windows`;
}
