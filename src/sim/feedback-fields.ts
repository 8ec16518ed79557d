/**
 * The feedback records as OX stores and exports them: per type the column order, CSV headers and
 * raw keys, and the truncation OX applies when it stores a value.
 */
import { createHash } from 'node:crypto';
import type { FeedbackInput } from './sim-types.js';

export const KNOWN_FEEDBACK_TYPES = ['star-rating-v1', 'nps-v1'] as const;
export const DEFAULT_CONTEXT_GROUP = 'default';
export const DEFAULT_FEEDBACK_TYPE = 'star-rating-v1';

/** Stored text fields, in export column order (Date and Score come first, User after language). */
export const TEXT_FIELDS = [
  'comment',
  'app',
  'entry_point',
  'operating_system',
  'browser',
  'browser_version',
  'user_agent',
  'screen_resolution',
  'language',
] as const;
export const VERSION_FIELDS = ['server_version', 'client_version'] as const;

/**
 * One feedback type's export columns: the raw keys after `date` and the CSV header of every
 * column (Date included), both in OX's column order. nps-v1 (OX 7.10.4+) has `Question`
 * (raw key `questionid`) right after `Score`.
 */
export interface FeedbackLayout {
  readonly type: string;
  /** Raw-export keys after `date`, in column order: what a stored row's `values` hold. */
  readonly keys: readonly string[];
  readonly headers: readonly string[];
}

const STAR_RATING_HEADERS = [
  'Date',
  'Score',
  'Comment',
  'App',
  'Entry Point',
  'Operating System',
  'Browser',
  'Browser Version',
  'User Agent',
  'Screen Resolution',
  'Language',
  'User',
  'Server Version',
  'Client Version',
] as const;

export const STAR_RATING_LAYOUT: FeedbackLayout = {
  type: 'star-rating-v1',
  keys: ['score', ...TEXT_FIELDS, 'user', ...VERSION_FIELDS],
  headers: STAR_RATING_HEADERS,
};

export const NPS_LAYOUT: FeedbackLayout = {
  type: 'nps-v1',
  keys: ['score', 'questionid', ...TEXT_FIELDS, 'user', ...VERSION_FIELDS],
  headers: ['Date', 'Score', 'Question', ...STAR_RATING_HEADERS.slice(2)],
};

export function layoutOf(type: string): FeedbackLayout {
  return type === NPS_LAYOUT.type ? NPS_LAYOUT : STAR_RATING_LAYOUT;
}

/** Scores OX accepts per type: star-rating-v1 1..5 stars (any integer >= 1 kept), nps-v1 0..10. */
export function scoreProblem(type: string, score: number): string | undefined {
  if (!Number.isInteger(score)) return 'an integer';
  if (type === NPS_LAYOUT.type) return score >= 0 && score <= 10 ? undefined : 'an integer 0..10 (nps-v1)';
  return score >= 1 ? undefined : 'an integer >= 1';
}

/** nps-v1 question ids: 0..3. */
export function questionProblem(questionid: number): string | undefined {
  return Number.isInteger(questionid) && questionid >= 0 && questionid <= 3 ? undefined : 'an integer 0..3 (nps-v1 question id)';
}

/** OX's storage limits (characters, i.e. UTF-16 code units as in Java). */
export const FIELD_LIMITS: Readonly<Record<string, number>> = {
  comment: 20000,
  user_agent: 200,
  app: 50,
  entry_point: 50,
  operating_system: 50,
  browser: 50,
  screen_resolution: 20,
  language: 20,
  client_version: 20,
};

/** Over the limit: `limit - 4` characters followed by " ...". */
export function truncateToLimit(value: string, limit: number | undefined): string {
  if (limit === undefined || value.length <= limit) return value;
  return `${value.slice(0, limit - 4)} ...`;
}

export function storedValue(field: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  return truncateToLimit(String(value), FIELD_LIMITS[field]);
}

const userHashes = new Map<string, string>();

/** Pseudonymous user column: lowercase hex MD5 of "<contextId>:<userId>". */
export function pseudonymousUser(contextId: number, userId: number): string {
  const key = `${contextId}:${userId}`;
  let hash = userHashes.get(key);
  if (hash === undefined) {
    hash = createHash('md5').update(key).digest('hex');
    // Users give feedback again and again; the cache only has to stay bounded.
    if (userHashes.size >= 200_000) userHashes.clear();
    userHashes.set(key, hash);
  }
  return hash;
}

/**
 * One feedback row after OX's store-time normalisation. `values` holds the string columns after
 * Date in its type's layout order (score, [questionid,] text fields, user, versions); `extra` the
 * keys a newer OX would add to the raw export.
 */
export interface StoredFeedback {
  date: number;
  values: string[];
  extra?: ReadonlyArray<readonly [key: string, value: string]>;
}

export function normaliseFeedback(input: FeedbackInput, type: string = input.type ?? DEFAULT_FEEDBACK_TYPE): StoredFeedback {
  if (!Number.isFinite(input.date)) throw new TypeError(`feedback date must be epoch ms, got ${String(input.date)}`);
  const score = Number(input.score);
  const badScore = input.score === '' ? 'an integer' : scoreProblem(type, score);
  if (badScore) throw new TypeError(`feedback score must be ${badScore}, got ${String(input.score)}`);
  if (!Number.isInteger(input.contextId) || !Number.isInteger(input.userId)) {
    throw new TypeError('feedback contextId and userId must be integers');
  }
  const layout = layoutOf(type);
  const record = input as unknown as Record<string, unknown>;
  const values = layout.keys.map((key) => {
    if (key === 'score') return String(score);
    if (key === 'user') return pseudonymousUser(input.contextId, input.userId);
    if (key === 'questionid') return questionValue(input.questionid);
    return storedValue(key, record[key]);
  });
  const extra = input.extraKeys ? Object.entries(input.extraKeys).map(([k, v]) => [k, String(v)] as const) : undefined;
  return { date: Math.trunc(input.date), values, ...(extra?.length ? { extra } : {}) };
}

/** A missing question id is exported as "" (OX's rule for every missing field). */
function questionValue(value: number | string | undefined): string {
  if (value === undefined || value === '') return '';
  const problem = questionProblem(Number(value));
  if (problem) throw new TypeError(`feedback questionid must be ${problem}, got ${String(value)}`);
  return String(Number(value));
}
