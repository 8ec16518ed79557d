/**
 * The columns of a feedback export: raw-export keys and the header names OX's CSV uses for them,
 * in OX's column order, per feedback type. nps-v1 (OX 7.10.4+) has `Question` (raw key
 * `questionid`) right after `Score`. A record carrying keys no known type has (a newer OX) keeps
 * them: they become further columns after the known ones, headed by the raw key itself.
 */
import { InputError } from '../errors.js';

export interface FeedbackColumn {
  key: string;
  header: string;
}

/** star-rating-v1, and the columns every type shares. */
export const OX_FEEDBACK_COLUMNS: readonly FeedbackColumn[] = [
  { key: 'date', header: 'Date' },
  { key: 'score', header: 'Score' },
  { key: 'comment', header: 'Comment' },
  { key: 'app', header: 'App' },
  { key: 'entry_point', header: 'Entry Point' },
  { key: 'operating_system', header: 'Operating System' },
  { key: 'browser', header: 'Browser' },
  { key: 'browser_version', header: 'Browser Version' },
  { key: 'user_agent', header: 'User Agent' },
  { key: 'screen_resolution', header: 'Screen Resolution' },
  { key: 'language', header: 'Language' },
  { key: 'user', header: 'User' },
  { key: 'server_version', header: 'Server Version' },
  { key: 'client_version', header: 'Client Version' },
];

const QUESTION: FeedbackColumn = { key: 'questionid', header: 'Question' };

export const NPS_FEEDBACK_COLUMNS: readonly FeedbackColumn[] = [
  ...OX_FEEDBACK_COLUMNS.slice(0, 2),
  QUESTION,
  ...OX_FEEDBACK_COLUMNS.slice(2),
];

const COLUMNS_BY_TYPE: Readonly<Record<string, readonly FeedbackColumn[]>> = {
  'star-rating-v1': OX_FEEDBACK_COLUMNS,
  'nps-v1': NPS_FEEDBACK_COLUMNS,
};

/** Every column some known type has: what `columns:` may name. */
const ALL_KNOWN_COLUMNS: readonly FeedbackColumn[] = NPS_FEEDBACK_COLUMNS;

/** The type's columns in OX's order; a type we do not know gets the shared ones. */
export function knownColumns(type: string): readonly FeedbackColumn[] {
  return COLUMNS_BY_TYPE[type] ?? OX_FEEDBACK_COLUMNS;
}

/** The column of a raw key: the known header, else the key itself (a newer OX's key). */
export function columnOfKey(key: string): FeedbackColumn {
  return ALL_KNOWN_COLUMNS.find((c) => c.key === key) ?? { key, header: key };
}

/**
 * The chosen columns in the chosen order, or undefined when none are chosen (then the export
 * writes every column OX sends). A choice may name a column by its raw key (`entry_point`) or
 * its header (`Entry Point`), in any case; with a known `type`, only that type's columns.
 */
export function selectColumns(chosen: readonly string[] | undefined, type?: string): FeedbackColumn[] | undefined {
  if (!chosen || chosen.length === 0) return undefined;
  const allowed = type === undefined || COLUMNS_BY_TYPE[type] === undefined ? ALL_KNOWN_COLUMNS : COLUMNS_BY_TYPE[type]!;
  return chosen.map((name) => {
    const wanted = normalise(name);
    const matches = (c: FeedbackColumn) => normalise(c.key) === wanted || normalise(c.header) === wanted;
    const column = allowed.find(matches);
    if (!column) {
      const ofOtherType = ALL_KNOWN_COLUMNS.some(matches) ? ` (a column of nps-v1 only; type is ${type})` : '';
      throw new InputError(`params.columns: unknown column "${name}"${ofOtherType} (known: ${allowed.map((c) => c.header).join(', ')})`);
    }
    return column;
  });
}

function normalise(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, '');
}
