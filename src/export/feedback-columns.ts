/**
 * The columns of a feedback export: raw-export keys and the header names OX's CSV uses for them,
 * in OX's column order. Both known types (star-rating-v1, nps-v1) export these columns; a
 * record carrying further keys (a newer OX) gets them appended, header derived from the key.
 */
import { InputError } from '../errors.js';

export interface FeedbackColumn {
  key: string;
  header: string;
}

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

/**
 * The columns to write: all of OX's by default, or the chosen ones in the chosen order. A choice
 * may name a column by its raw key (`entry_point`) or its header (`Entry Point`), in any case.
 */
export function selectColumns(chosen: readonly string[] | undefined): FeedbackColumn[] {
  if (!chosen || chosen.length === 0) return [...OX_FEEDBACK_COLUMNS];
  return chosen.map((name) => {
    const wanted = normalise(name);
    const column = OX_FEEDBACK_COLUMNS.find((c) => normalise(c.key) === wanted || normalise(c.header) === wanted);
    if (!column) {
      throw new InputError(`params.columns: unknown column "${name}" (known: ${OX_FEEDBACK_COLUMNS.map((c) => c.header).join(', ')})`);
    }
    return column;
  });
}

function normalise(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_-]+/g, '');
}
