/**
 * Counts a feedback window into its digest while the export streams by, in constant memory:
 * per app (and, for nps-v1, per question of each app) one histogram of scores 0..10, counters
 * for browsers, operating systems and languages, and the few comments worth reading. Distinct
 * values are tracked up to a limit per dimension; beyond it they are counted as one "other"
 * value, so memory stays bounded whatever a window holds (OX caps these fields at 20-50
 * characters, so the limits cost a few hundred KB at most).
 *
 * Two feeders share it: `addRecord` for OX's raw export (csv and jsonl formats) and the byte
 * scanner over OX's own CSV (ox-csv-digest-scanner.ts), which hands in interned ids.
 */
import { CommentPicker } from './comment-picker.js';
import type { AppFigures, DigestScale, QuestionFigures, ScoreFigures, TopList, WindowFigures } from './digest-types.js';

/** Scores 0..10 plus one slot for rows whose score is not valid. */
const SLOTS = 12;
const INVALID_SLOT = 11;
/** Block 0 of an app's histograms counts all its rows; block 1 + q counts question q. */
const MAX_QUESTIONS = 16;
export const MAX_TRACKED_APPS = 200;
export const MAX_TRACKED_VALUES = 1000;
/** Apps listed one by one; the rest are summed into `otherApps`. */
const APPS_SHOWN = 10;
const TOP_VALUES_SHOWN = 5;
export const DEFAULT_DIGEST_COMMENTS = 5;

/** Strings to small ids, up to `capacity` distinct ones; the rest share id `capacity` ("other"). */
export class Interner {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  overflowed = false;

  constructor(readonly capacity: number) {}

  get other(): number {
    return this.capacity;
  }

  id(name: string): number {
    const known = this.ids.get(name);
    if (known !== undefined) return known;
    if (this.names.length >= this.capacity) {
      this.overflowed = true;
      return this.capacity;
    }
    const id = this.names.length;
    this.names.push(name);
    this.ids.set(name, id);
    return id;
  }
}

export function digestScale(type: string): DigestScale {
  if (type === 'star-rating-v1') return 'stars';
  if (type === 'nps-v1') return 'nps';
  return 'scores';
}

export interface DigestOptions {
  /** How many comments to keep (params.digestComments). */
  comments?: number;
}

export class DigestAccumulator {
  readonly scale: DigestScale;
  rows = 0;
  readonly apps = new Interner(MAX_TRACKED_APPS);
  readonly questions = new Interner(MAX_QUESTIONS - 1);
  readonly browsers = new Interner(MAX_TRACKED_VALUES);
  readonly operatingSystems = new Interner(MAX_TRACKED_VALUES);
  readonly languages = new Interner(MAX_TRACKED_VALUES);
  readonly comments: CommentPicker;
  private readonly minScore: number;
  private readonly maxScore: number;
  /** Per app id: SLOTS * (1 + MAX_QUESTIONS) counters. */
  private readonly appCounts: Array<Uint32Array | undefined> = [];
  private readonly browserCounts = new Float64Array(MAX_TRACKED_VALUES + 1);
  private readonly osCounts = new Float64Array(MAX_TRACKED_VALUES + 1);
  private readonly languageCounts = new Float64Array(MAX_TRACKED_VALUES + 1);

  constructor(
    readonly type: string,
    options: DigestOptions = {},
  ) {
    this.scale = digestScale(type);
    this.minScore = this.scale === 'stars' ? 1 : 0;
    this.maxScore = this.scale === 'stars' ? 5 : 10;
    this.comments = new CommentPicker(options.comments ?? DEFAULT_DIGEST_COMMENTS);
  }

  /** The score as a histogram slot: the integer itself when valid for the type, else INVALID_SLOT. */
  scoreSlot(score: number): number {
    return Number.isInteger(score) && score >= this.minScore && score <= this.maxScore ? score : INVALID_SLOT;
  }

  /** One row by ids (question -1: none). */
  addRow(slot: number, question: number, app: number, browser: number, os: number, language: number): void {
    this.rows += 1;
    let counts = this.appCounts[app];
    if (counts === undefined) {
      counts = new Uint32Array(SLOTS * (1 + MAX_QUESTIONS));
      this.appCounts[app] = counts;
    }
    counts[slot]! += 1;
    if (question >= 0) counts[SLOTS * (1 + question) + slot]! += 1;
    this.browserCounts[browser]! += 1;
    this.osCounts[os]! += 1;
    this.languageCounts[language]! += 1;
  }

  /** One record of OX's raw export (its values are strings). */
  addRecord(record: Readonly<Record<string, unknown>>): void {
    const slot = this.scoreSlot(parseScore(text(record.score)));
    const questionText = record.questionid === undefined ? undefined : text(record.questionid);
    const question = questionText === undefined ? -1 : this.questions.id(questionText);
    const appText = text(record.app);
    const app = this.apps.id(appText);
    const comment = text(record.comment);
    if (comment && this.comments.mightTake(slot, comment.length)) {
      this.comments.offer({
        slot,
        text: comment,
        app: app === this.apps.other ? '(other)' : appText,
        date: text(record.date),
        ...(questionText === undefined ? {} : { question: question === this.questions.other ? '(other)' : questionText }),
      });
    }
    this.addRow(
      slot,
      question,
      app,
      this.browsers.id(text(record.browser)),
      this.operatingSystems.id(text(record.operating_system)),
      this.languages.id(text(record.language)),
    );
  }

  figures(): WindowFigures {
    const all = new Uint32Array(SLOTS * (1 + MAX_QUESTIONS));
    const perApp: Array<{ id: number; counts: Uint32Array; rows: number }> = [];
    this.appCounts.forEach((counts, id) => {
      if (!counts) return;
      for (let i = 0; i < counts.length; i++) all[i]! += counts[i]!;
      perApp.push({ id, counts, rows: rowsIn(counts, 0) });
    });
    perApp.sort((a, b) => b.rows - a.rows || a.id - b.id);
    const appName = (id: number) => (id === this.apps.other ? '(other)' : this.apps.names[id]!);
    const shown = perApp.filter((a) => a.id !== this.apps.other).slice(0, APPS_SHOWN);
    const rest = perApp.filter((a) => !shown.includes(a));
    const figures: WindowFigures = {
      type: this.type,
      scale: this.scale,
      rows: this.rows,
      invalidScores: all[INVALID_SLOT]!,
      scores: this.scoreFigures(all, 0),
      ...(this.scale === 'nps' || this.questions.names.length > 0 ? { questions: this.questionFigures(all) } : {}),
      apps: shown.map((a) => this.appFigures(appName(a.id), a.counts)),
      browsers: topList(this.browsers, this.browserCounts),
      operatingSystems: topList(this.operatingSystems, this.osCounts),
      languages: topList(this.languages, this.languageCounts),
      comments: this.comments.picked(),
    };
    if (rest.length > 0) {
      const summed = new Uint32Array(all.length);
      for (const a of rest) for (let i = 0; i < summed.length; i++) summed[i]! += a.counts[i]!;
      figures.otherApps = this.appFigures(`(${rest.length} other app${rest.length === 1 ? '' : 's'})`, summed);
    }
    return figures;
  }

  private appFigures(app: string, counts: Uint32Array): AppFigures {
    return {
      app,
      rows: rowsIn(counts, 0),
      ...this.scoreFigures(counts, 0),
      ...(this.scale === 'nps' ? { questions: this.questionFigures(counts) } : {}),
    };
  }

  private questionFigures(counts: Uint32Array): QuestionFigures[] {
    const ids = this.questions.names.map((name, id) => ({ name, id }));
    if (this.questions.overflowed) ids.push({ name: '(other)', id: this.questions.other });
    return ids
      .filter(({ id }) => rowsIn(counts, 1 + id) > 0)
      .sort((a, b) => compareQuestionIds(a.name, b.name))
      .map(({ name, id }) => ({ question: name, ...this.scoreFigures(counts, 1 + id) }));
  }

  private scoreFigures(counts: Uint32Array, block: number): ScoreFigures {
    const base = SLOTS * block;
    const distribution: number[] = [];
    let answers = 0;
    let sum = 0;
    for (let score = this.minScore; score <= this.maxScore; score++) {
      const n = counts[base + score]!;
      distribution.push(n);
      answers += n;
      sum += n * score;
    }
    const figures: ScoreFigures = { answers, mean: answers === 0 ? null : round(sum / answers, 2), distribution };
    if (this.scale === 'nps') Object.assign(figures, npsFigures(distribution));
    return figures;
  }
}

/** NPS from a 0..10 distribution: % promoters (9-10) − % detractors (0-6). */
export function npsFigures(distribution: readonly number[]): {
  nps: number | null;
  promoters: number;
  passives: number;
  detractors: number;
} {
  let promoters = 0;
  let passives = 0;
  let detractors = 0;
  distribution.forEach((n, score) => {
    if (score >= 9) promoters += n;
    else if (score >= 7) passives += n;
    else detractors += n;
  });
  const answers = promoters + passives + detractors;
  return { nps: answers === 0 ? null : round(((promoters - detractors) / answers) * 100, 1), promoters, passives, detractors };
}

function rowsIn(counts: Uint32Array, block: number): number {
  let rows = 0;
  for (let i = SLOTS * block; i < SLOTS * (block + 1); i++) rows += counts[i]!;
  return rows;
}

function topList(interner: Interner, counts: Float64Array): TopList {
  const values = interner.names.map((value, id) => ({ value, rows: counts[id]! })).filter((v) => v.rows > 0);
  if (interner.overflowed) values.push({ value: '(other)', rows: counts[interner.other]! });
  // Array#sort is stable: equal counts keep first-seen order.
  values.sort((a, b) => b.rows - a.rows);
  return { values: values.slice(0, TOP_VALUES_SHOWN), distinct: interner.names.length, capped: interner.overflowed };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

/** "0".."10" fast; anything that is not a plain non-negative integer is NaN (invalid). */
export function parseScore(text: string | undefined): number {
  if (text === undefined) return Number.NaN;
  if (text.length === 1) {
    const digit = text.charCodeAt(0) - 48;
    return digit >= 0 && digit <= 9 ? digit : Number.NaN;
  }
  return /^\d+$/.test(text) ? Number(text) : Number.NaN;
}

/** Numeric ids in numeric order, others after them by text. */
function compareQuestionIds(a: string, b: string): number {
  const na = /^\d+$/.test(a) ? Number(a) : Number.POSITIVE_INFINITY;
  const nb = /^\d+$/.test(b) ? Number(b) : Number.POSITIVE_INFINITY;
  return na - nb || (a < b ? -1 : a > b ? 1 : 0);
}

export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}
