/**
 * The feedback digest as JSON: what a window's mail shows, and what the manifest and the ledger
 * result carry under `digest` for Grafana and scripts. Counts are exact; means have 2 decimals,
 * NPS 1. A category list says `capped` when a window held more distinct values than the digest
 * tracks (the rest are counted together, never dropped from `rows`).
 */

/** stars: star-rating-v1, scores 1..5. nps: nps-v1, 0..10 per question. scores: another type, 0..10. */
export type DigestScale = 'stars' | 'nps' | 'scores';

export interface ScoreFigures {
  /** Rows with a valid score (the figures below count these). */
  answers: number;
  mean: number | null;
  /** Answers by score: stars index 0 = 1 star … 4 = 5 stars; nps and scores index = score 0..10. */
  distribution: number[];
  /** nps: % promoters (9-10) − % detractors (0-6), null without answers. */
  nps?: number | null;
  promoters?: number;
  passives?: number;
  detractors?: number;
}

export interface QuestionFigures extends ScoreFigures {
  /** OX's question id (`questionid` / `Question`), as a string. */
  question: string;
}

export interface AppFigures extends ScoreFigures {
  /** OX's `app` value; "" when the row had none. */
  app: string;
  rows: number;
  /** nps: the same per question. */
  questions?: QuestionFigures[];
}

export interface TopList {
  /** Most frequent first (ties: first seen first). */
  values: Array<{ value: string; rows: number }>;
  /** Distinct values seen (up to the tracked limit). */
  distinct: number;
  /** More distinct values than tracked: the rest were counted as one "other" value. */
  capped: boolean;
}

export interface DigestComment {
  /** null when the row's score was not valid. */
  score: number | null;
  question?: string;
  app: string;
  /** OX's `date` (UTC, `yyyy-MM-dd HH:mm:ss`). */
  date: string;
  /** Characters of the whole comment (line breaks counted as one). */
  length: number;
  /** The comment, line breaks as `\n`, cut to a readable length. Plain text: escape it to show it. */
  text: string;
  truncated: boolean;
}

/** The figures of one window, computed in the export's single pass. */
export interface WindowFigures {
  type: string;
  scale: DigestScale;
  rows: number;
  /** Rows whose score is not a valid score of the type (counted in `rows`, not in the figures). */
  invalidScores: number;
  scores: ScoreFigures;
  /** nps: by question, ordered by question id. */
  questions?: QuestionFigures[];
  /** The apps with the most rows (at most 10), most rows first. */
  apps: AppFigures[];
  /** All other apps together, when there were more. */
  otherApps?: AppFigures;
  browsers: TopList;
  operatingSystems: TopList;
  languages: TopList;
  /** Comments worth reading: lowest score first, then the longest. */
  comments: DigestComment[];
}

/** One window reduced to what a comparison or a trend needs. */
export interface DigestPoint {
  /** ISO UTC. */
  start: string;
  end: string;
  rows: number;
  mean: number | null;
  nps?: number | null;
  /** nps: NPS by question id. */
  questions?: Record<string, number | null>;
  distribution: number[];
}

/** This window minus the other (previous window, or the mean of the last four). */
export interface DigestChange {
  rows: number;
  /** null when the other had no rows. */
  rowsPercent: number | null;
  mean: number | null;
  nps?: number | null;
  questions?: Record<string, number | null>;
}

export interface DigestHistory {
  /** The window ending where this one starts, when the ledger has its digest. */
  previous: DigestPoint | null;
  /** Mean of the last (up to) four windows of the schedule before this one that have a digest. */
  lastFour: (Omit<DigestPoint, 'start' | 'end'> & { windows: number; from: string; to: string }) | null;
  change: { previous: DigestChange | null; lastFour: DigestChange | null };
  /** The last windows with a digest and this one, oldest first. */
  trend: DigestPoint[];
}

export interface FeedbackDigest extends WindowFigures {
  window?: { start: string; end: string };
  /** From the ledger (scheduled windows); absent for `ox-batch feedback digest`. */
  history?: DigestHistory;
}
