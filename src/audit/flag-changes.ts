/**
 * Turns one user's password-change history (as OX returns it) into the audit rows of a window
 * and says why a row is suspicious: a change through a client nobody expects
 * (`unknown-client`), or more changes in the window than `maxChanges` (`burst`) — the two
 * patterns of an account take-over that incident responders look for.
 */
import type { PasswordChange } from '../ox/types.js';
import type { JobWindow } from '../job-kind.js';
import type { WatchedUser } from './user-list.js';

/** The clients OX names itself (it reports `client_name` only for these). */
export const OX_CLIENT_IDS: readonly string[] = [
  'open-xchange-appsuite',
  'provisioning-api',
  'com.openexchange.ox.gui.dhtml',
  'OpenXchange.HTTPClient.OXAddIn',
];

export type ChangeFlag = 'unknown-client' | 'burst';

/** One report row; column order is the CSV's. */
export interface AuditRow {
  context_id: number;
  user_id: number;
  /** ISO 8601 UTC. */
  date: string;
  client_id: string;
  client_name: string;
  client_address: string;
  /** Flags joined by `;`, empty when nothing is suspicious. */
  flag: string;
}

export const AUDIT_COLUMNS: ReadonlyArray<keyof AuditRow> = [
  'context_id',
  'user_id',
  'date',
  'client_id',
  'client_name',
  'client_address',
  'flag',
];

export interface FlagRules {
  /** Client ids considered normal. */
  knownClients: ReadonlySet<string>;
  /** More changes than this in one window flag all of them as `burst`. */
  maxChanges: number;
  /** How many changes OX keeps per user: a full history may have lost older ones. */
  historySize: number;
}

export interface UserAudit {
  user: WatchedUser;
  rows: AuditRow[];
  flaggedRows: number;
  /** History is full and its oldest entry is not before the window: changes may be missing. */
  mayBeMissing: boolean;
}

export function auditUserHistory(user: WatchedUser, history: readonly PasswordChange[], window: JobWindow, rules: FlagRules): UserAudit {
  const inWindow = history.filter((change) => change.date >= window.start && change.date < window.end).sort((a, b) => a.date - b.date);
  const burst = inWindow.length > rules.maxChanges;
  const rows = inWindow.map((change): AuditRow => {
    const flags: ChangeFlag[] = [];
    if (!rules.knownClients.has(change.client_id)) flags.push('unknown-client');
    if (burst) flags.push('burst');
    return {
      context_id: user.contextId,
      user_id: user.userId,
      date: new Date(change.date).toISOString(),
      client_id: change.client_id ?? '',
      client_name: change.client_name ?? '',
      client_address: change.client_address ?? '',
      flag: flags.join(';'),
    };
  });
  return {
    user,
    rows,
    flaggedRows: rows.filter((row) => row.flag !== '').length,
    mayBeMissing: historyMayBeTruncated(history, window, rules.historySize),
  };
}

/**
 * OX drops the oldest change once a user has `historySize` of them. If the oldest kept one is
 * at or after the window start, older changes inside the window may have been dropped.
 */
export function historyMayBeTruncated(history: readonly PasswordChange[], window: JobWindow, historySize: number): boolean {
  if (history.length < historySize) return false;
  const oldest = Math.min(...history.map((change) => change.date));
  return oldest >= window.start;
}
