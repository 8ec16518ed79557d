/**
 * Raw HTTP against the simulator with undici.request, which (unlike fetch) does not try to
 * decode OX's bogus `Content-Encoding: UTF-8`: tests see the exact bytes on the wire.
 */
import { request } from 'undici';
import type { OxSimulator } from '../../src/sim/ox-simulator.js';

export const REST = { user: 'oxadmin', password: 'secret' };
export const FEEDBACK = '/userfeedback/v1';
export const EXPORT = `${FEEDBACK}/export/default/star-rating-v1`;
export const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
export const CSV_HEADER =
  '"Date";"Score";"Comment";"App";"Entry Point";"Operating System";"Browser";"Browser Version";' +
  '"User Agent";"Screen Resolution";"Language";"User";"Server Version";"Client Version"\r';

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

export function basic(c: { user: string; password: string }): string {
  return `Basic ${Buffer.from(`${c.user}:${c.password}`).toString('base64')}`;
}

export async function call(
  sim: OxSimulator,
  path: string,
  o: {
    method?: 'GET' | 'PUT' | 'POST' | 'DELETE';
    auth?: { user: string; password: string } | null;
    body?: string | unknown;
    signal?: AbortSignal;
  } = {},
): Promise<RawAnswer> {
  const headers: Record<string, string> = {};
  const auth = o.auth === undefined ? REST : o.auth;
  if (auth) headers.authorization = basic(auth);
  let body: string | undefined;
  if (o.body !== undefined) {
    body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    headers['content-type'] = 'application/json';
  }
  const res = await request(`${sim.url}${path}`, { method: o.method ?? 'GET', headers, body, signal: o.signal });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body: bytes, text: bytes.toString('utf8') };
}

/** The CSV rows after BOM and header, split on the lone-CR row terminator. */
export function csvRows(body: Buffer): string[] {
  const text = body.toString('utf8');
  if (!text.startsWith(`\uFEFF${CSV_HEADER}`)) throw new Error(`not an OX CSV: ${JSON.stringify(text.slice(0, 80))}`);
  const rest = text.slice(1 + CSV_HEADER.length);
  if (rest === '') return [];
  if (!rest.endsWith('\r')) throw new Error('last row does not end with CR');
  // Cells may contain \r\n, so split on CR not followed by LF.
  return rest.slice(0, -1).split(/\r(?!\n)/);
}

export function q(params: Record<string, string | number>): string {
  return `?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
}
