/**
 * The star-rating-v1 record as OX stores and exports it: column order, CSV headers, and the
 * truncation OX applies when it stores a value.
 */
import { createHash } from 'node:crypto';
import type { FeedbackInput } from './sim-types.js';

export const KNOWN_FEEDBACK_TYPES = ['star-rating-v1', 'nps-v1'] as const;
export const DEFAULT_CONTEXT_GROUP = 'default';
export const DEFAULT_FEEDBACK_TYPE = 'star-rating-v1';

/** Stored text fields, in export column order (Date and Score come first, User after language). */
export const TEXT_FIELDS = [
  'comment', 'app', 'entry_point', 'operating_system', 'browser', 'browser_version',
  'user_agent', 'screen_resolution', 'language',
] as const;
export const VERSION_FIELDS = ['server_version', 'client_version'] as const;

/** Raw-export keys in the order we write them (OX leaves the order undefined). */
export const RAW_KEYS = [
  'date', 'score', ...TEXT_FIELDS, 'user', ...VERSION_FIELDS,
] as const;

/** CSV header row, same order as RAW_KEYS. nps-v1 is exported with the same columns here. */
export const CSV_HEADERS = [
  'Date', 'Score', 'Comment', 'App', 'Entry Point', 'Operating System', 'Browser', 'Browser Version',
  'User Agent', 'Screen Resolution', 'Language', 'User', 'Server Version', 'Client Version',
] as const;

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
 * One feedback row after OX's store-time normalisation. `values` holds the 13 string columns
 * after Date in RAW_KEYS order (score, text fields, user, versions).
 */
export interface StoredFeedback {
  date: number;
  values: string[];
}

export function normaliseFeedback(input: FeedbackInput): StoredFeedback {
  if (!Number.isFinite(input.date)) throw new TypeError(`feedback date must be epoch ms, got ${String(input.date)}`);
  const score = Number(input.score);
  if (!Number.isInteger(score) || score < 1) throw new TypeError(`feedback score must be an integer >= 1, got ${String(input.score)}`);
  if (!Number.isInteger(input.contextId) || !Number.isInteger(input.userId)) {
    throw new TypeError('feedback contextId and userId must be integers');
  }
  const record = input as unknown as Record<string, unknown>;
  const values = [
    String(score),
    ...TEXT_FIELDS.map((f) => storedValue(f, record[f])),
    pseudonymousUser(input.contextId, input.userId),
    ...VERSION_FIELDS.map((f) => storedValue(f, record[f])),
  ];
  return { date: Math.trunc(input.date), values };
}
