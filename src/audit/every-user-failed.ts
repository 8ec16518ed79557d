/**
 * The error of an audit in which no watched user could be checked. When every failure has the
 * same HTTP status, the error keeps it (a 401 everywhere is a credential problem no retry fixes;
 * the worker reads `retryable: false`); mixed failures are not retried either: each user's own
 * answer was final.
 */
import { OxError } from '../ox/ox-error.js';
import type { UserFailure } from './audit-report.js';

export function everyUserFailed(failures: readonly UserFailure[]): OxError {
  const statuses = new Set(failures.map((f) => f.status));
  const status = statuses.size === 1 ? failures[0]!.status : undefined;
  const examples = failures.slice(0, 3).map((f) => `${f.contextId}/${f.userId}: ${f.status ? `HTTP ${f.status} ` : ''}${f.reason}`).join('; ');
  return new OxError({
    operation: 'passwd-changes',
    kind: 'http',
    retryable: false,
    ...(status === undefined ? {} : { status }),
    reason: `every watched user failed (${failures.length})`,
    hint: `${examples}${failures.length > 3 ? '; ...' : ''}`,
  });
}
