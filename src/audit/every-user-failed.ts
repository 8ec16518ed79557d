/**
 * The error of an audit in which no watched user could be checked. When every failure has the
 * same HTTP status, the error keeps it. Only server errors (5xx) make a later try worthwhile:
 * a 401 or 404 for every user is a credential or list problem no retry fixes.
 */
import { OxError } from '../ox/ox-error.js';
import type { UserFailure } from './audit-report.js';

export function everyUserFailed(failures: readonly UserFailure[]): OxError {
  const statuses = new Set(failures.map((f) => f.status));
  const status = statuses.size === 1 ? failures[0]!.status : undefined;
  const examples = failures
    .slice(0, 3)
    .map((f) => `${f.contextId}/${f.userId}: ${f.status ? `HTTP ${f.status} ` : ''}${f.reason}`)
    .join('; ');
  return new OxError({
    operation: 'passwd-changes',
    kind: 'http',
    retryable: failures.some((f) => f.status === undefined || f.status >= 500),
    ...(status === undefined ? {} : { status }),
    reason: `every watched user failed (${failures.length})`,
    hint: `${examples}${failures.length > 3 ? '; ...' : ''}`,
  });
}
