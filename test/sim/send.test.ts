import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { call, EXPORT, FEEDBACK, q } from './sim-http.js';

const SEND = `${FEEDBACK}/send/default/star-rating-v1`;
const KEY = [
  '-----BEGIN PGP PUBLIC KEY BLOCK-----',
  '',
  'mQENBGVhbHQBCADKp0Qe8ZxJ0rO2d8dJm9q3aH5FqkzV1x0Q2mH7oR9h2Zy1d5Yl',
  'Zm9vYmFyYmF6cXV4',
  '=abcd',
  '-----END PGP PUBLIC KEY BLOCK-----',
].join('\n');

interface Received {
  envelopeTo: string[];
  mail: ParsedMail;
}

describe('POST /userfeedback/v1/send', () => {
  let smtp: SMTPServer;
  let smtpUrl: string;
  let received: Received[] = [];
  let sim: OxSimulator;
  const start = Date.UTC(2026, 10, 1);
  const end = Date.UTC(2026, 10, 2);

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        simpleParser(stream).then((mail) => {
          received.push({ envelopeTo: session.envelope.rcptTo.map((r) => r.address), mail });
          callback();
        }, callback);
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
    sim = await OxSimulator.start({ smtpUrl });
    sim.addFeedback([
      { date: start + 1000, contextId: 1, userId: 3, score: 5, comment: 'great; "really"' },
      { date: start + 2000, contextId: 1, userId: 4, score: 1, comment: '=SUM(A1)' },
      { date: end + 1000, contextId: 1, userId: 5, score: 3, comment: 'outside the window' },
    ]);
  });
  afterAll(async () => {
    await sim.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });
  beforeEach(() => {
    received = [];
  });

  it('mails the CSV export as attachment and answers text/plain JSON of sent addresses', async () => {
    const res = await call(sim, `${SEND}${q({ start, end })}`, {
      method: 'POST',
      body: {
        body: 'Weekly report',
        recipients: [
          { address: 'ops@example.com', displayName: 'Ops Team' },
          { address: 'OPS@example.com' }, // duplicate collapses
          { address: 'qa@example.com' },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(JSON.parse(res.text)).toEqual({ normal: ['ops@example.com', 'qa@example.com'] });
    expect(received).toHaveLength(1);
    const { mail, envelopeTo } = received[0]!;
    expect(envelopeTo.sort()).toEqual(['ops@example.com', 'qa@example.com']);
    expect(mail.subject).toBe('User Feedback Report from 2026-11-01 00:00:00 to 2026-11-02 00:00:00');
    expect(mail.text?.trim()).toBe('Weekly report');
    expect(mail.attachments).toHaveLength(1);
    const attachment = mail.attachments[0]!;
    expect(attachment.filename).toMatch(/^OX_App_Suite_Feedback_Report-\d{4}-\d{2}-\d{2}\.csv$/);
    const exported = await call(sim, `${EXPORT}${q({ start, end, delimiter: ';' })}`);
    expect(attachment.content.equals(exported.body)).toBe(true);
    expect(attachment.content.toString('utf8')).not.toContain('outside the window');
  });

  it('gzips the attachment when compress is set and uses the given subject', async () => {
    const res = await call(sim, SEND, {
      method: 'POST',
      body: { subject: 'All feedback', compress: true, recipients: [{ address: 'a@example.com' }] },
    });
    expect(res.status).toBe(200);
    const { mail } = received[0]!;
    expect(mail.subject).toBe('All feedback');
    const attachment = mail.attachments[0]!;
    expect(attachment.filename).toMatch(/\.csv\.gz$/);
    expect(gunzipSync(attachment.content).equals((await call(sim, EXPORT)).body)).toBe(true);
  });

  it('reports invalid addresses in `fail` and unparsable keys in `pgpFail` inside a 200', async () => {
    const res = await call(sim, SEND, {
      method: 'POST',
      body: {
        recipients: [
          { address: 'good@example.com' },
          { address: 'not an address' },
          { address: 'broken-key@example.com', pgp_key: 'hello' },
          { address: 'crypto@example.com', pgp_key: KEY },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({
      normal: ['good@example.com'],
      encrypt: ['crypto@example.com'],
      fail: ['not an address'],
      pgpFail: ['broken-key@example.com'],
    });
    expect(received.flatMap((r) => r.envelopeTo).sort()).toEqual(['crypto@example.com', 'good@example.com']);
  });

  it('answers 400 FEEDBACK-0008 when every address is invalid, and an empty 200 for no recipients', async () => {
    const bad = await call(sim, SEND, { method: 'POST', body: { recipients: [{ address: 'nope' }, { address: 'also nope' }] } });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ code: 'FEEDBACK-0008', error_desc: 'Provided addresses are invalid.' });
    const none = await call(sim, SEND, { method: 'POST', body: { recipients: [] } });
    expect(none.status).toBe(200);
    expect(none.body.length).toBe(0);
    expect(received).toHaveLength(0);
  });

  it('answers malformed JSON and missing recipients with a bare string labelled application/json', async () => {
    for (const [body, message] of [
      ['{not json', "A JSONObject text must begin with '{' at 1 [character 2 line 1]"],
      ['{"subject":"x"}', 'JSONObject["recipients"] not found.'],
    ] as const) {
      const res = await call(sim, SEND, { method: 'POST', body });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.text).toBe(message);
    }
    expect(received).toHaveLength(0);
  });

  it('answers 500 FEEDBACK-0007 without (or with an unreachable) SMTP server', async () => {
    for (const options of [{}, { smtpUrl: 'smtp://127.0.0.1:1' }]) {
      const other = await OxSimulator.start(options);
      try {
        const res = await call(other, SEND, { method: 'POST', body: { recipients: [{ address: 'a@example.com' }] } });
        expect(res.status).toBe(500);
        expect(JSON.parse(res.text)).toMatchObject({ code: 'FEEDBACK-0007' });
      } finally {
        await other.close();
      }
    }
  });

  it('signs with a server PGP key (sign / pgp), fails FEEDBACK-0010 when that key is invalid', async () => {
    const signing = await OxSimulator.start({ smtpUrl, pgpSigning: true });
    const invalid = await OxSimulator.start({ smtpUrl, pgpSigning: 'invalid' });
    try {
      const res = await call(signing, SEND, {
        method: 'POST',
        body: { recipients: [{ address: 's@example.com' }, { address: 'p@example.com', pgp_key: KEY }] },
      });
      expect(JSON.parse(res.text)).toEqual({ sign: ['s@example.com'], pgp: ['p@example.com'] });
      expect(received.map((r) => r.mail.headers.get('x-ox-sim-mode')).sort()).toEqual(['pgp', 'sign']);
      const bad = await call(invalid, SEND, { method: 'POST', body: { recipients: [{ address: 's@example.com' }] } });
      expect(bad.status).toBe(500);
      expect(JSON.parse(bad.text)).toMatchObject({ code: 'FEEDBACK-0010' });
    } finally {
      await signing.close();
      await invalid.close();
    }
  });

  it('answers prose in the legacy variant', async () => {
    const legacy = await OxSimulator.start({ smtpUrl, legacy: { sendProse: true } });
    try {
      const res = await call(legacy, SEND, { method: 'POST', body: { recipients: [{ address: 'a@example.com' }] } });
      expect(res.status).toBe(200);
      expect(res.text).toBe('An email with userfeedback was send to a@example.com.');
      expect(received).toHaveLength(1);
    } finally {
      await legacy.close();
    }
  });
});
