/**
 * POST /userfeedback/v1/send/{group}/{type}: exports the window as CSV and really mails it
 * (nodemailer, to the simulator's `smtpUrl`). Answers like OX: 200 text/plain JSON of address
 * lists (only non-empty keys; empty result → empty body), a 200 can hold `fail`/`pgpFail`;
 * malformed JSON or missing recipients → 400 with a bare parser message labelled JSON.
 */
import { createGzip } from 'node:zlib';
import nodemailer from 'nodemailer';
import type { Readable } from 'node:stream';
import { renderRowsStream } from './export-rows.js';
import { checkTarget, readWindow, selectWindow, type FeedbackRouteContext, type FeedbackWindowParams } from './feedback-routes.js';
import type { Exchange } from './http-exchange.js';
import { csvRowFormat, formatUtcDate } from './ox-csv-writer.js';

export interface SendSettings {
  smtpUrl: string | undefined;
  mailFrom: string;
  pgpSigning: boolean | 'invalid';
  legacyProse: boolean;
}

interface Recipient {
  address: string;
  displayName?: string;
  pgpKey?: string;
}

type Mode = 'normal' | 'sign' | 'encrypt' | 'pgp';
const RESULT_KEYS = ['normal', 'sign', 'encrypt', 'pgp', 'fail', 'pgpFail'] as const;

/** Roughly what javax.mail's strict InternetAddress parsing accepts. */
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/;
const ARMOURED_KEY =
  /^\s*-----BEGIN PGP PUBLIC KEY BLOCK-----\r?\n(?:[^\r\n]*:[^\r\n]*\r?\n)*\r?\n?([A-Za-z0-9+/=\r\n]+?)(?:\r?\n=[A-Za-z0-9+/]{4})?\r?\n-----END PGP PUBLIC KEY BLOCK-----\s*$/;

class BadRequestBody extends Error {}

export async function sendFeedback(
  ex: Exchange,
  ctx: FeedbackRouteContext,
  group: string,
  type: string,
  settings: SendSettings,
): Promise<void> {
  const w = readWindow(ex);
  if (!w) return;
  let request: { subject: string; body: string; compress: boolean; recipients: Recipient[] };
  try {
    request = parseRequest(await ex.readBody());
  } catch (err) {
    if (err instanceof BadRequestBody) return ex.text(400, err.message, 'application/json');
    throw err;
  }
  if (!checkTarget(ex, ctx, group, type)) return;
  if (!settings.smtpUrl) {
    return ex.oxError(500, {
      code: 'FEEDBACK-0007',
      desc: 'Provided SMTP configuration is invalid, unable to connect to server.',
      category: 'CONFIGURATION',
    });
  }
  if (settings.pgpSigning === 'invalid') {
    return ex.oxError(500, { code: 'FEEDBACK-0010', desc: 'Provided PGP configuration is invalid, unable to sign mail.' });
  }

  const result: Record<(typeof RESULT_KEYS)[number], string[]> = { normal: [], sign: [], encrypt: [], pgp: [], fail: [], pgpFail: [] };
  const byMode: Array<{ mode: Mode; recipients: Recipient[] }> = [];
  const normal: Recipient[] = [];
  for (const r of uniqueByAddress(request.recipients)) {
    if (!ADDRESS.test(r.address)) {
      result.fail.push(r.address);
      continue;
    }
    const signing = settings.pgpSigning === true;
    if (r.pgpKey) {
      if (!ARMOURED_KEY.test(r.pgpKey)) {
        result.pgpFail.push(r.address);
        continue;
      }
      const mode: Mode = signing ? 'pgp' : 'encrypt';
      byMode.push({ mode, recipients: [r] });
      result[mode].push(r.address);
    } else if (signing) {
      byMode.push({ mode: 'sign', recipients: [r] });
      result.sign.push(r.address);
    } else {
      normal.push(r);
      result.normal.push(r.address);
    }
  }
  if (normal.length > 0) byMode.unshift({ mode: 'normal', recipients: normal });
  if (request.recipients.length > 0 && result.fail.length === request.recipients.length) {
    return ex.oxError(400, { code: 'FEEDBACK-0008', desc: 'Provided addresses are invalid.', category: 'USER_INPUT' });
  }

  if (byMode.length > 0) {
    try {
      await mailReports(settings, byMode, request, () => selectWindow(ctx, group, type, w), w);
    } catch (err) {
      return ex.oxError(500, {
        code: 'FEEDBACK-0007',
        desc: 'Provided SMTP configuration is invalid, unable to connect to server.',
        params: [err instanceof Error ? err.message : String(err)],
        category: 'CONFIGURATION',
      });
    }
  }

  const sent = [...result.normal, ...result.sign, ...result.encrypt, ...result.pgp];
  if (settings.legacyProse) {
    return sent.length === 0 ? ex.empty(200) : ex.text(200, `An email with userfeedback was send to ${sent.join(', ')}.`, 'text/plain');
  }
  const answer = Object.fromEntries(RESULT_KEYS.filter((k) => result[k].length > 0).map((k) => [k, result[k]]));
  if (Object.keys(answer).length === 0) return ex.empty(200);
  ex.text(200, JSON.stringify(answer), 'text/plain');
}

/** org.json-style messages, as OX's parser produces them. */
function parseRequest(text: string): { subject: string; body: string; compress: boolean; recipients: Recipient[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequestBody(`A JSONObject text must begin with '{' at 1 [character 2 line 1]`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadRequestBody(`A JSONObject text must begin with '{' at 1 [character 2 line 1]`);
  }
  const obj = value as Record<string, unknown>;
  if (!('recipients' in obj) || obj.recipients === null) throw new BadRequestBody('JSONObject["recipients"] not found.');
  if (!Array.isArray(obj.recipients)) throw new BadRequestBody('JSONObject["recipients"] is not a JSONArray.');
  const recipients = obj.recipients.map((item, i): Recipient => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new BadRequestBody(`JSONArray[${i}] is not a JSONObject.`);
    const r = item as Record<string, unknown>;
    if (typeof r.address !== 'string') throw new BadRequestBody('JSONObject["address"] not found.');
    const recipient: Recipient = { address: r.address.trim() };
    if (typeof r.displayName === 'string' && r.displayName !== '') recipient.displayName = r.displayName;
    if (typeof r.pgp_key === 'string' && r.pgp_key.trim() !== '') recipient.pgpKey = r.pgp_key;
    return recipient;
  });
  return {
    subject: typeof obj.subject === 'string' ? obj.subject : '',
    body: typeof obj.body === 'string' ? obj.body : '',
    compress: obj.compress === true || obj.compress === 'true',
    recipients,
  };
}

function uniqueByAddress(recipients: Recipient[]): Recipient[] {
  const seen = new Set<string>();
  return recipients.filter((r) => {
    const k = r.address.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function defaultSubject(w: FeedbackWindowParams): string {
  let subject = 'User Feedback Report';
  if (w.start > 0) subject += ` from ${formatUtcDate(w.start)}`;
  if (w.end > 0) subject += ` to ${formatUtcDate(w.end)}`;
  return subject;
}

export function attachmentName(now: Date, compress: boolean): string {
  return `OX_App_Suite_Feedback_Report-${now.toISOString().slice(0, 10)}.csv${compress ? '.gz' : ''}`;
}

async function mailReports(
  settings: SendSettings,
  groups: Array<{ mode: Mode; recipients: Recipient[] }>,
  request: { subject: string; body: string; compress: boolean },
  select: () => ReturnType<typeof selectWindow>,
  w: FeedbackWindowParams,
): Promise<void> {
  const transport = nodemailer.createTransport(settings.smtpUrl!);
  try {
    const filename = attachmentName(new Date(), request.compress);
    for (const { mode, recipients } of groups) {
      // One fresh CSV stream per message: each attachment is the same export of the window.
      const selection = select();
      const csv: Readable = renderRowsStream(selection, csvRowFormat(';', selection.layout));
      const content = request.compress ? csv.pipe(createGzip()) : csv;
      await transport.sendMail({
        from: settings.mailFrom,
        to: recipients.map((r) => (r.displayName ? { name: r.displayName, address: r.address } : r.address)),
        subject: request.subject !== '' ? request.subject : defaultSubject(w),
        text: request.body,
        headers: { 'X-OX-Sim-Mode': mode },
        attachments: [{ filename, content, contentType: request.compress ? 'application/gzip' : 'text/csv' }],
      });
    }
  } finally {
    transport.close();
  }
}
