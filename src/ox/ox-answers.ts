/**
 * Parsers for the answer bodies OX sends on success, every variant of the behaviour notes:
 * send's text/plain JSON (or empty, or older prose), delete's JSON with `"successful":"true"` as a
 * string (or early prose) and nothing else, reseller per-entry statuses.
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

/** What a DELETE asked for: the answer must be about this feed (and these bounds, when it names them). */
export interface DeleteRequestEcho {
  contextGroup: string;
  type: string;
  /** OX's exclusive bounds as sent (query parameters), when sent. */
  start?: number;
  end?: number;
}

/** A DELETE answer that is not OX's: why, in a few words (no body content beyond a title). */
export interface UnexpectedDeleteAnswer {
  unexpected: string;
}

/**
 * The only two answers that mean "deleted": OX's JSON (`application/json`,
 * `{"successful":"true","type":…,"contextGroup":…,"start":…,"end":…}`, `successful` as the string
 * or a boolean, each echoed field equal to the request) and the early servers' `text/plain` prose
 * (it says "deleted"). Anything else a 200 can carry — an HTML login page of a proxy in front of
 * OX, an empty body, JSON with `successful` false, an answer about another feed — is not success:
 * the purge must not count those rows as gone.
 */
export function parseDeleteAnswer(
  text: string,
  contentType: string | undefined,
  request: DeleteRequestEcho,
): DeleteResult | UnexpectedDeleteAnswer {
  const body = text.trim();
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const json = media === 'application/json' || media.endsWith('+json');
  if (!json && media !== 'text/plain') {
    return {
      unexpected: `${media ? `Content-Type ${media}` : 'no Content-Type'}${describeBody(body)}, not OX's JSON or text/plain answer`,
    };
  }
  if (body === '') return { unexpected: 'an empty body' };
  const parsed = tryJson(body);
  if (parsed !== undefined && typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    return checkDeleteJson(parsed as Record<string, unknown>, request);
  }
  if (json) return { unexpected: `Content-Type ${media} but not a JSON object${describeBody(body)}` };
  // An early OX answered 200 text/plain prose ("... deleted ..."): that, and only that, is its success.
  if (body.startsWith('<') || !/delet/i.test(body))
    return { unexpected: `text/plain${describeBody(body)} that does not say anything was deleted` };
  return { successful: true, message: oneLineShort(body, 300) };
}

function checkDeleteJson(o: Record<string, unknown>, request: DeleteRequestEcho): DeleteResult | UnexpectedDeleteAnswer {
  if (!(o.successful === true || o.successful === 'true')) {
    return { unexpected: `OX answered successful=${JSON.stringify(o.successful ?? null)}` };
  }
  const result: DeleteResult = { successful: true };
  for (const field of ['contextGroup', 'type'] as const) {
    const value = o[field];
    if (value === undefined) continue;
    if (value !== request[field])
      return { unexpected: `the answer is about ${field} ${JSON.stringify(value)}, the request was for ${JSON.stringify(request[field])}` };
    result[field] = value;
  }
  for (const field of ['start', 'end'] as const) {
    if (o[field] === undefined) continue;
    const value = toNumber(o[field]);
    if (value === undefined || value !== request[field]) {
      return { unexpected: `the answer names ${field} ${JSON.stringify(o[field])}, the request sent ${request[field] ?? 'none'}` };
    }
    result[field] = value;
  }
  return result;
}

/** `, "<title>"` of an HTML page, or the first words of other text: enough to recognise a login page. */
function describeBody(body: string): string {
  if (body === '') return ', empty body';
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(body)?.[1];
  if (title !== undefined) return ` (an HTML page titled ${JSON.stringify(oneLineShort(title, 80))})`;
  return ` starting ${JSON.stringify(oneLineShort(body, 60))}`;
}

function oneLineShort(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
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
