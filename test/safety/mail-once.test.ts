/**
 * One mail per recipient and window, whatever overlaps, through real daemons and the real CLI:
 * a forced `ox-batch run` beside a worker that is mailing the window, and a daemon SIGKILLed
 * while the SMTP server holds its message (outcome unknown): the window is finished by a second
 * daemon after the claim's lease, with the first send's Message-ID, and every recipient holds
 * one mail. The ledger and `ox-batch status` show the open claim meanwhile.
 */
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../daemon/helpers.js';
import { DAY, HOUR, startSafetyWorld, type SafetyWorld } from './helpers/world.js';

const today = Math.floor(Date.now() / DAY) * DAY;
const window = { start: today - DAY, end: today };
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const RECIPIENTS = ['pm@example.com', 'support@example.com'];

let world: SafetyWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function configLines(w: SafetyWorld, options: { via?: 'ox'; graceMs?: number; claimLease?: string } = {}): string[] {
  return [
    `worker: { concurrency: 2, lockDurationMs: 1500, stalledIntervalMs: 1000, backoffMs: 200, shutdownGraceMs: ${options.graceMs ?? 30_000} }`,
    `mail: { smtp: "${w.smtp!.url}", from: ox-batch@example.com, claimLeaseMs: ${options.claimLease ?? '4s'} }`,
    'schedules:',
    '  feedback-daily:',
    '    job: feedback.export',
    '    cron: "0 2 * * *"',
    '    window: 1d',
    '    lag: 0',
    `    startAt: ${isoDay(window.start)}`,
    // No digest: building its HTML and chart takes a second or two of the 4 s claim lease on a
    // loaded machine, and these tests time the lease (the default lease is 15 minutes).
    `    params: { deliver: [archive, mail], mailTo: [${RECIPIENTS.join(', ')}], digest: false${options.via ? `, via: ${options.via}` : ''} }`,
  ];
}

/** Messages per recipient, and the distinct Message-IDs each got. */
async function mailsByRecipient(w: SafetyWorld): Promise<Record<string, { count: number; ids: string[] }>> {
  const out: Record<string, { count: number; ids: string[] }> = {};
  for (const m of w.smtp!.messages) {
    const parsed = await simpleParser(m.raw);
    for (const to of m.envelopeTo) {
      const entry = (out[to] ??= { count: 0, ids: [] });
      entry.count += 1;
      if (!entry.ids.includes(parsed.messageId!)) entry.ids.push(parsed.messageId!);
    }
  }
  return out;
}

describe('one mail per recipient and window', () => {
  it('a forced run beside a worker that is mailing the window mails nobody twice', async () => {
    let release!: () => void;
    const accepted = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived = 0;
    world = await startSafetyWorld({
      smtp: {
        beforeAccept: async () => {
          arrived += 1;
          await accepted;
        },
      },
    });
    world.sim.addFeedback([{ date: window.start + HOUR, contextId: 1, userId: 1, score: 4, comment: 'hello' }]);
    const file = world.config('overlap', configLines(world, { claimLease: '30s' }));

    const daemon = await world.startDaemon(file);
    const queued = await world.cli(file, ['enqueue', 'feedback-daily', '--start', isoDay(window.start), '--end', isoDay(window.end)]);
    expect(queued.code, queued.stderr).toBe(0);
    await waitFor(() => arrived > 0, 'the worker to be mailing');

    // The operator, impatient, forces a run of the same window while the worker's mail is in flight.
    const forced = await world.cli(file, [
      'run',
      'feedback-daily',
      '--start',
      isoDay(window.start),
      '--end',
      isoDay(window.end),
      '--force',
    ]);
    expect(forced.code).toBe(1);
    expect(forced.stdout.toString() + forced.stderr).toMatch(/being mailed by another run of this window/);
    release();
    await waitFor(
      async () => (await world!.ledger.getWindow({ scheduleId: 'feedback-daily', ...window }))?.state === 'done',
      'the window to be done',
      20_000,
    );
    await daemon.stop();
    const mails = await mailsByRecipient(world);
    for (const to of RECIPIENTS) expect(mails[to], to).toMatchObject({ count: 1 });
  }, 90_000);

  it('a daemon killed while the SMTP server holds its mail: a second daemon mails it once, with the same Message-ID, after the claim lease', async () => {
    let stall = true;
    world = await startSafetyWorld({ smtp: { beforeAccept: () => (stall ? new Promise<void>(() => undefined) : Promise.resolve()) } });
    world.sim.addFeedback([{ date: window.start + HOUR, contextId: 1, userId: 1, score: 2, comment: 'late reply' }]);
    const file = world.config('killed', configLines(world));

    const first = await world.startDaemon(file);
    const queued = await world.cli(file, ['enqueue', 'feedback-daily', '--start', isoDay(window.start), '--end', isoDay(window.end)]);
    expect(queued.code, queued.stderr).toBe(0);
    const key = { scheduleId: 'feedback-daily', ...window };
    await waitFor(
      async () => Object.keys(await world!.ledger.listDeliveries(key)).filter((d) => d.startsWith('mail:')).length === 2,
      'the mail claims',
    );
    const claims = await world.ledger.listDeliveries(key);
    const messageId = claims[`mail:${RECIPIENTS[0]}`] as unknown as { messageId: string; state: string };
    expect(messageId.state).toBe('claimed');
    await first.kill();

    const status = await world.cli(file, ['status', '--json']);
    expect(status.json<{ mailClaims: unknown[] }>().mailClaims).toEqual(
      RECIPIENTS.map((address) => expect.objectContaining({ schedule: 'feedback-daily', address, via: 'smtp' })),
    );

    stall = false;
    const second = await world.startDaemon(file);
    await waitFor(async () => (await world!.ledger.getWindow(key))?.state === 'done', 'the second daemon to finish the window', 40_000);
    await second.stop();
    const mails = await mailsByRecipient(world);
    for (const to of RECIPIENTS) expect(mails[to], to).toEqual({ count: 1, ids: [messageId.messageId] });
    expect((await world.cli(file, ['status', '--json'])).json<{ mailClaims: unknown[] }>().mailClaims).toEqual([]);
    const archived = (await world.ledger.getWindow(key))!.result as { archive: { key: string }; mail: Array<{ accepted: string[] }> };
    expect(archived.mail[0]!.accepted.sort()).toEqual(RECIPIENTS);
  }, 120_000);

  it('an OX send in flight is not cut by the shutdown grace; one cut by kill -9 is recorded unknown and sent again only with --force', async () => {
    world = await startSafetyWorld({ smtp: true });
    world.sim.addFeedback([{ date: window.start + HOUR, contextId: 1, userId: 1, score: 5, comment: 'via ox' }]);
    const file = world.config('ox-send', configLines(world, { via: 'ox', graceMs: 300, claimLease: '2s' }));
    const key = { scheduleId: 'feedback-daily', ...window };
    // OX takes 2.5 s to send its export.
    world.sim.setFaults({ latencyMs: 2500, pathPrefix: '/userfeedback/v1/send' });

    const daemon = await world.startDaemon(file);
    const queued = await world.cli(file, ['enqueue', 'feedback-daily', '--start', isoDay(window.start), '--end', isoDay(window.end)]);
    expect(queued.code, queued.stderr).toBe(0);
    await waitFor(() => world!.sim.requests.some((r) => r.path.startsWith('/userfeedback/v1/send')), 'the send to reach OX');
    expect((await daemon.stop()).code).toBe(0);
    expect((await world.ledger.getWindow(key))?.state).toBe('done');
    expect(
      world
        .smtp!.messages.map((m) => m.envelopeTo)
        .flat()
        .sort(),
    ).toEqual(RECIPIENTS);

    // The next window's send is cut by kill -9: nobody knows whether OX mailed it.
    const next = { start: window.end - 2 * DAY, end: window.end - DAY };
    const nextKey = { scheduleId: 'feedback-daily', ...next };
    world.sim.addFeedback([{ date: next.start + HOUR, contextId: 1, userId: 2, score: 1, comment: 'cut' }]);
    world.sim.setFaults({ latencyMs: 60_000, pathPrefix: '/userfeedback/v1/send' });
    const killed = await world.startDaemon(file);
    await world.cli(file, ['enqueue', 'feedback-daily', '--start', isoDay(next.start), '--end', isoDay(next.end)]);
    await waitFor(
      async () => Object.keys(await world!.ledger.listDeliveries(nextKey)).some((d) => d.startsWith('mail:')),
      'the claims of the cut send',
    );
    await killed.kill();
    world.sim.setFaults(undefined);
    const sendsBefore = world.sim.requests.filter((r) => r.path.startsWith('/userfeedback/v1/send')).length;

    const second = await world.startDaemon(file);
    await waitFor(async () => (await world!.ledger.getWindow(nextKey))?.state === 'done', 'the second daemon to finish the window', 40_000);
    await second.stop();
    expect(world.sim.requests.filter((r) => r.path.startsWith('/userfeedback/v1/send')).length).toBe(sendsBefore);
    const result = (await world.ledger.getWindow(nextKey))!.result as { mail: Array<{ unknown?: string[] }> };
    expect(result.mail[0]!.unknown?.sort()).toEqual(RECIPIENTS);
    const claims = (await world.cli(file, ['status', '--json'])).json<{ mailClaims: Array<{ address: string; state: string }> }>()
      .mailClaims;
    expect(claims.map((c) => [c.address, c.state]).sort()).toEqual(RECIPIENTS.map((a) => [a, 'unknown']));

    // An operator who checked with the recipients sends it again on purpose.
    const forced = await world.cli(file, ['run', 'feedback-daily', '--start', isoDay(next.start), '--end', isoDay(next.end), '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(world.sim.requests.filter((r) => r.path.startsWith('/userfeedback/v1/send')).length).toBe(sendsBefore + 1);
    expect((await world.cli(file, ['status', '--json'])).json<{ mailClaims: unknown[] }>().mailClaims).toEqual([]);
  }, 150_000);
});
