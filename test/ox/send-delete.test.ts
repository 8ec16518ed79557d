import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { OxClient } from '../../src/ox/ox-client.js';
import { sendFailures, sentRecipients } from '../../src/ox/ox-answers.js';
import { failure, oxConfig, SIM_CREDENTIALS, startSmtp, TEST_PGP_KEY as KEY } from './ox-test-kit.js';

describe('OxClient send and delete against the simulator', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let sim: OxSimulator;
  let legacy: OxSimulator;
  let ox: OxClient;
  let oxLegacy: OxClient;
  const day = Date.UTC(2025, 3, 1);

  // Fresh simulators, feedback and mailbox per test: the delete tests remove the feedback a send test mails.
  beforeEach(async () => {
    smtp = await startSmtp();
    sim = await OxSimulator.start({ credentials: SIM_CREDENTIALS, smtpUrl: smtp.url });
    legacy = await OxSimulator.start({ credentials: SIM_CREDENTIALS, smtpUrl: smtp.url, legacy: { deleteProse: true, sendProse: true } });
    ox = new OxClient(oxConfig(sim.url));
    oxLegacy = new OxClient(oxConfig(legacy.url));
    for (const s of [sim, legacy]) {
      s.addFeedback([
        { date: day - 1, contextId: 1, userId: 1, score: 1, comment: 'day before' },
        { date: day, contextId: 1, userId: 2, score: 5, comment: 'first of day' },
        { date: day + 3_600_000, contextId: 1, userId: 3, score: 4, comment: 'later' },
        { date: day + 86_400_000, contextId: 1, userId: 4, score: 3, comment: 'next day' },
      ]);
    }
  });
  afterEach(async () => {
    await ox.close();
    await oxLegacy.close();
    await sim.close();
    await legacy.close();
    await smtp.close();
  });

  it('sends: OX mails the CSV and the answer lists who got it', async () => {
    const before = smtp.messages.length;
    const result = await ox.sendFeedback({
      start: day,
      end: day + 86_400_000,
      subject: 'April report',
      recipients: [{ address: 'ops@example.com', displayName: 'Ops' }, { address: 'OPS@example.com' }, { address: 'audit@example.com' }],
    });
    expect(result.fail).toEqual([]);
    expect(sendFailures(result)).toEqual([]);
    expect(
      sentRecipients(result)
        .map((a) => a.toLowerCase())
        .sort(),
    ).toEqual(['audit@example.com', 'ops@example.com']);
    expect(smtp.messages.length).toBeGreaterThan(before);
    const mail = smtp.messages.at(-1)!;
    expect(mail.subject).toBe('April report');
    const attachment = mail.attachments.find((a) => /^OX_App_Suite_Feedback_Report-.*\.csv$/.test(a.filename ?? ''));
    expect(attachment).toBeDefined();
    const csv = attachment!.content.toString('utf8');
    expect(csv).toContain('first of day');
    expect(csv).toContain('later');
    expect(csv).not.toContain('day before');
    expect(csv).not.toContain('next day');
    expect(sim.requests.at(-1)!.query).toEqual({ start: String(day - 1), end: String(day + 86_400_000) });
  });

  it('reports a 200 with failed recipients instead of hiding it', async () => {
    const result = await ox.sendFeedback({
      start: day,
      end: day + 1,
      recipients: [{ address: 'good@example.com' }, { address: 'not an address' }, { address: 'keyed@example.com', pgp_key: 'not a key' }],
    });
    expect(result.normal).toEqual(['good@example.com']);
    expect(result.fail).toEqual(['not an address']);
    expect(result.pgpFail).toEqual(['keyed@example.com']);
    expect(sendFailures(result)).toEqual([
      { address: 'not an address', reason: 'invalid address' },
      { address: 'keyed@example.com', reason: 'unusable PGP key' },
    ]);
  });

  it('passes a PGP key through so OX encrypts for that recipient', async () => {
    const result = await ox.sendFeedback({ start: day, end: day + 1, recipients: [{ address: 'secure@example.com', pgp_key: KEY }] });
    expect(result.encrypt).toEqual(['secure@example.com']);
    expect(sendFailures(result)).toEqual([]);
  });

  it('understands the older prose answer of send', async () => {
    const result = await oxLegacy.sendFeedback({ start: day, end: day + 1, recipients: [{ address: 'ops@example.com' }] });
    expect(result.message).toMatch(/send to/i);
    expect(result.fail).toEqual([]);
  });

  it('refuses an empty recipient list before asking OX', async () => {
    const requests = sim.requests.length;
    const err = await failure(ox.sendFeedback({ start: day, end: day + 1, recipients: [] }));
    expect(err.name).toBe('InputError');
    expect(sim.requests.length).toBe(requests);
  });

  it('deletes the half-open window only, and reads the JSON answer with successful as a string', async () => {
    const result = await ox.deleteFeedback({ start: day, end: day + 86_400_000 });
    expect(result).toMatchObject({
      successful: true,
      type: 'star-rating-v1',
      contextGroup: 'default',
      start: day - 1,
      end: day + 86_400_000,
    });
    expect(sim.feedbackCount({ start: day, end: day + 86_400_000 })).toBe(0);
    expect(sim.feedbackCount({ start: day - 1, end: day })).toBe(1); // the row just before survives
    expect(sim.feedbackCount({ start: day + 86_400_000, end: day + 86_400_001 })).toBe(1); // the row at end survives
  });

  it('deletes everything before end when start is absent', async () => {
    const result = await ox.deleteFeedback({ end: day });
    expect(result.successful).toBe(true);
    expect(result.start).toBeUndefined();
    expect(sim.requests.at(-1)!.query).toEqual({ end: String(day) });
    expect(sim.feedbackCount({ end: day })).toBe(0);
  });

  it('understands the early prose answer of delete', async () => {
    const result = await oxLegacy.deleteFeedback({ start: day, end: day + 86_400_000 });
    expect(result.successful).toBe(true);
    expect(result.message).toMatch(/\S/);
    expect(legacy.feedbackCount({ start: day, end: day + 86_400_000 })).toBe(0);
  });
});
