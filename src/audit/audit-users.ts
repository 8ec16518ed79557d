/**
 * Asks OX for the password-change history of every watched user (each context with its own
 * admin credentials, resolved by the OX client), a bounded number at a time, and audits each
 * history against the window. A user OX cannot answer for (404: gone, history disabled, guest;
 * 401/403: that context's credentials are wrong) is listed as a failure and the run goes on;
 * OX being down (network, timeouts, gateway errors after the client's retries) ends the run so
 * the job is retried as a whole.
 */
import { getMaxListeners, setMaxListeners } from 'node:events';
import type { JobWindow } from '../job-kind.js';
import type { OxApi } from '../ox/types.js';
import { OxError } from '../ox/ox-error.js';
import type { UserFailure } from './audit-report.js';
import { auditUserHistory, type FlagRules, type UserAudit } from './flag-changes.js';
import { mapLimit } from './map-limit.js';
import type { WatchedUser } from './user-list.js';

const OX_DOWN_STATUSES = new Set([429, 502, 503, 504]);

export interface AuditUsersOptions {
  concurrency: number;
  signal?: AbortSignal;
  /** Called with the number of users done so far: about a hundred times per run, whatever the list's length. */
  onProgress?: (done: number) => void;
}

export interface AuditOutcome {
  audits: UserAudit[];
  failures: UserFailure[];
}

export async function auditUsers(
  ox: OxApi,
  users: readonly WatchedUser[],
  window: JobWindow,
  rules: FlagRules,
  options: AuditUsersOptions,
): Promise<AuditOutcome> {
  // Every request in flight listens on the run's one AbortSignal; more than Node's default of 10
  // is expected here, not a leak.
  if (options.signal && getMaxListeners(options.signal) < options.concurrency + 10)
    setMaxListeners(options.concurrency + 10, options.signal);
  let done = 0;
  const progressStep = Math.max(1, Math.floor(users.length / 100));
  const outcomes = await mapLimit(users, options.concurrency, async (user): Promise<{ audit: UserAudit } | { failure: UserFailure }> => {
    try {
      const history = await ox.passwordChanges({ contextId: user.contextId, userId: user.userId, sort: '-date', signal: options.signal });
      return { audit: auditUserHistory(user, history, window, rules) };
    } catch (err) {
      if (isOxDown(err, options.signal)) throw err;
      return { failure: failureOf(user, err) };
    } finally {
      done += 1;
      if (done === users.length || done % progressStep === 0) options.onProgress?.(done);
    }
  });
  return {
    audits: outcomes.flatMap((o) => ('audit' in o ? [o.audit] : [])),
    failures: outcomes.flatMap((o) => ('failure' in o ? [o.failure] : [])),
  };
}

/** Errors that say nothing about one user but about OX (or our own shutdown). */
function isOxDown(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  if (!(err instanceof OxError)) return true;
  if (err.kind === 'network' || err.kind === 'timeout' || err.kind === 'aborted') return true;
  return err.status !== undefined && OX_DOWN_STATUSES.has(err.status);
}

function failureOf(user: WatchedUser, err: unknown): UserFailure {
  const e = err as OxError;
  const reason = e.message.replace(/^OX passwd-changes failed:\s*(HTTP \d+\s*)?/, '');
  return {
    contextId: user.contextId,
    userId: user.userId,
    ...(e.status === undefined ? {} : { status: e.status }),
    reason: reason || 'failed',
  };
}
