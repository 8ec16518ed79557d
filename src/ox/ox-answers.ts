/**
 * Parsers for the answer bodies OX sends on success, every variant of the behaviour notes:
 * send's text/plain JSON (or empty, or older prose), delete's JSON with `"successful":"true"` as a
 * string (or early prose), reseller per-entry statuses.
 */
import type { AdWriteOutcome, DeleteResult, ResellerEntryResult, SendResult } from './types.js';

const SEND_MODES = ['normal', 'sign', 'encrypt', 'pgp', 'fail', 'pgpFail'] as const;

export function parseSendAnswer(text: string): SendResult {
  const result: SendResult = { normal: [], sign: [], encrypt: [], pgp: [], fail: [], pgpFail: [] };
  const body = text.trim();
  if (body === '') return result;
  const parsed = tryJson(body);
  if (parsed === undefined || typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    result.message = body; // "An email with userfeedback was send to ..." from older servers
    return result;
  }
  const lists = parsed as Record<string, unknown>;
  for (const mode of SEND_MODES) {
    const value = lists[mode];
    if (Array.isArray(value)) result[mode] = value.map((v) => String(v));
    else if (typeof value === 'string' && value !== '') result[mode] = [value];
  }
  return result;
}

/** Recipients OX did not mail: invalid addresses and unusable PGP keys. Empty when all went out. */
export function sendFailures(result: SendResult): Array<{ address: string; reason: 'invalid address' | 'unusable PGP key' }> {
  return [
    ...result.fail.map((address) => ({ address, reason: 'invalid address' as const })),
    ...result.pgpFail.map((address) => ({ address, reason: 'unusable PGP key' as const })),
  ];
}

/** Every address OX reports as sent, whatever the mode. */
export function sentRecipients(result: SendResult): string[] {
  return [...result.normal, ...result.sign, ...result.encrypt, ...result.pgp];
}

export function parseDeleteAnswer(text: string): DeleteResult {
  const body = text.trim();
  const parsed = tryJson(body);
  if (parsed !== undefined && typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const o = parsed as Record<string, unknown>;
    const result: DeleteResult = { successful: o.successful === true || o.successful === 'true' };
    if (typeof o.contextGroup === 'string') result.contextGroup = o.contextGroup;
    if (typeof o.type === 'string') result.type = o.type;
    const start = toNumber(o.start);
    const end = toNumber(o.end);
    if (start !== undefined) result.start = start;
    if (end !== undefined) result.end = end;
    return result;
  }
  // An early OX answered 200 text/plain prose; the status already says it worked.
  return { successful: true, message: body };
}

/** PUT: 201 created, 200 updated (or unchanged). DELETE: 204 deleted, 200 nothing to delete. */
export function adOutcome(method: 'PUT' | 'DELETE', status: number): AdWriteOutcome {
  if (method === 'PUT') return status === 201 ? 'created' : 'updated';
  return status === 204 ? 'deleted' : 'nothing-to-delete';
}

const RESELLER_STATUSES = new Set(['CREATED', 'UPDATED', 'DELETED', 'IGNORED', 'ERROR']);

/** Returns undefined when the body is not the documented array of `{status, error?}`. */
export function parseResellerAnswer(text: string): ResellerEntryResult[] | undefined {
  const parsed = tryJson(text.trim());
  if (!Array.isArray(parsed)) return undefined;
  const entries: ResellerEntryResult[] = [];
  for (const item of parsed) {
    if (typeof item !== 'object' || item === null) return undefined;
    const o = item as Record<string, unknown>;
    const status = String(o.status ?? '').toUpperCase();
    if (!RESELLER_STATUSES.has(status)) return undefined;
    const entry: ResellerEntryResult = { status: status as ResellerEntryResult['status'] };
    if (o.error !== undefined && o.error !== null && o.error !== '') entry.error = String(o.error);
    entries.push(entry);
  }
  return entries;
}

function tryJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}
