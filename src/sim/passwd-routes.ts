/**
 * GET /admin/v1/contexts/{cid}/users/{uid}/passwd-changes. Unknown context or user is a 404
 * checked BEFORE authentication (as OX does); then context-admin (or master) auth; then
 * disabled feature / guest → 404 empty; `sort` and `limit` as in OX.
 */
import type { Exchange } from './http-exchange.js';
import { parseSort, type PasswordHistory } from './password-history.js';

const PASSWD_PATH = /^\/admin\/v1\/contexts\/([^/]+)\/users\/([^/]+)\/passwd-changes$/;
const INT = /^[+-]?\d{1,10}$/;

export interface PasswdRouteContext {
  history: PasswordHistory;
  disabled: boolean;
  /** Answers 401 itself and returns false on bad credentials. */
  authorised(contextId: number): boolean;
}

export function handlePasswdChanges(ex: Exchange, path: string, ctx: PasswdRouteContext): void {
  const m = PASSWD_PATH.exec(path);
  if (!m) return ex.empty(404);
  if (ex.method !== 'GET') return ex.empty(405, { Allow: 'GET' });
  const [cidText, uidText] = [m[1]!, m[2]!];
  const limitText = ex.query.get('limit');
  if (!INT.test(cidText) || !INT.test(uidText) || (limitText !== null && limitText !== '' && !INT.test(limitText))) {
    return ex.empty(404); // not an int32: the framework finds no resource
  }
  const contextId = Number(cidText);
  const userId = Number(uidText);
  const user = ctx.history.user(contextId, userId);
  if (!ctx.history.hasContext(contextId) || !user) return ex.empty(404);
  if (!ctx.authorised(contextId)) return;
  if (ctx.disabled || user.guest) return ex.empty(404);
  const sort = parseSort(ex.query.get('sort'));
  if (!sort) return ex.empty(400);
  const limit = limitText ? Number(limitText) : 0;
  ex.json(200, ctx.history.list(contextId, userId, sort, limit));
}
