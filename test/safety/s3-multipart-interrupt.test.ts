/**
 * A window's archive going up to S3 as a multipart upload (two 5 MiB parts), interrupted the two
 * ways an operator interrupts it, through the real processes:
 * - SIGTERM to `ox-batch run` while part 2 hangs: the process aborts the multipart upload at S3
 *   (no object, no parts billed), exits 1 saying it was interrupted, leaves no spool file, and the
 *   window is not done; the next `run` archives it whole and mails it once.
 * - SIGTERM to a daemon while part 2 hangs: after its grace period it aborts the job, which
 *   aborts the upload at S3, and exits 0; the job goes back to the queue for the next daemon.
 * - kill -9 of a daemon while part 2 hangs: nothing can abort that upload (the bucket's
 *   AbortIncompleteMultipartUpload rule is for this, README "S3"); a second daemon archives the
 *   window in a new upload: one object, one manifest, one mail per recipient.
 * Either way the object is byte-for-byte what OX held, and its manifest says so.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../cli/cli-kit.js';
import { waitFor } from '../daemon/helpers.js';
import { startFaultyProxy, startS3, type FaultyProxy, type TestS3 } from '../delivery/helpers/s3-server.js';
import { bundledCli } from '../helpers/bundle.js';
import { DAY, HOUR, startSafetyWorld, type DaemonProcess, type SafetyWorld } from './helpers/world.js';

const today = Math.floor(Date.now() / DAY) * DAY;
const window = { start: today - DAY, end: today };
const key = { scheduleId: 'feedback-daily', ...window };
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const RECIPIENTS = ['pm@example.com', 'support@example.com'];
const BUCKET = 'oxbt-multipart';
/** Rows with ~500-byte comments: about 7.5 MB of OX CSV, two parts of 5 MiB. */
const ROWS = 15_000;

let world: SafetyWorld | undefined;
let s3: TestS3 | undefined;
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await world?.close();
  await proxy?.close();
  await s3?.close();
  world = undefined;
  proxy = undefined;
  s3 = undefined;
});

async function setUp(): Promise<string> {
  s3 = await startS3(BUCKET);
  proxy = await startFaultyProxy(s3.endpoint);
  world = await startSafetyWorld({ smtp: true });
  world.sim.addFeedback(
    Array.from({ length: ROWS }, (_, i) => ({
      date: window.start + HOUR + i * 1000,
      contextId: 1,
      userId: i + 1,
      score: 1 + (i % 5),
      comment: `row ${i} `.padEnd(500, String.fromCharCode(97 + (i % 26))),
    })),
  );
  return world.config('multipart', [
    `archive: { kind: s3, bucket: ${BUCKET}, endpoint: "${proxy.endpoint}", forcePathStyle: true, accessKeyId: S3RVER, secretAccessKey: S3RVER }`,
    'worker: { concurrency: 1, lockDurationMs: 1500, stalledIntervalMs: 1000, backoffMs: 200, shutdownGraceMs: 1s }',
    `mail: { smtp: "${world.smtp!.url}", from: ox-batch@example.com, claimLeaseMs: 3s }`,
    'schedules:',
    '  feedback-daily:',
    '    job: feedback.export',
    '    cron: "0 2 * * *"',
    '    window: 1d',
    '    lag: 0',
    `    startAt: ${isoDay(window.start)}`,
    `    params: { deliver: [archive, mail], mailTo: [${RECIPIENTS.join(', ')}] }`,
  ]);
}

const holdPartTwo = (method: string, url: string) => method === 'PUT' && /[?&]partNumber=2(&|$)/.test(url);
const uploadIdsCreated = () =>
  new Set(
    proxy!.requests.flatMap((r) => {
      const id = /[?&]uploadId=([^&]+)/.exec(r.url)?.[1];
      return id ? [id] : [];
    }),
  );

/** Waits until part 2 hangs at the proxy and part 1 was answered; answers the upload's id. */
async function untilPartTwoHangs(): Promise<string> {
  await waitFor(() => proxy!.held() > 0, 'part 2 to be in flight', 30_000);
  // Part 1 answered: the upload's id is in the proxy's log (part 2, held, is not logged).
  const ids = await waitFor(() => uploadIdsCreated().size > 0 && [...uploadIdsCreated()], 'part 1 to be answered');
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

/** A daemon started and given the window; answers once part 2 of its upload hangs. */
async function daemonHungOnPartTwo(file: string): Promise<{ daemon: DaemonProcess; uploadId: string }> {
  proxy!.holdMatching(holdPartTwo);
  const daemon = await world!.startDaemon(file);
  await world!.cli(file, ['enqueue', 'feedback-daily', '--start', isoDay(window.start), '--end', isoDay(window.end)]);
  return { daemon, uploadId: await untilPartTwoHangs() };
}

/** Part 2 (and whatever else was held) is let go: a store answering again. */
function releasePartTwo(): void {
  proxy!.holdMatching(undefined);
  proxy!.releaseHeld();
}

/** One object and its manifest, the object what OX holds for the window, one mail per recipient. */
async function assertArchivedOnce(w: SafetyWorld): Promise<void> {
  const listed = await s3!.objects();
  expect(listed).toHaveLength(2);
  const [data, manifestKey] = listed as [string, string];
  expect(manifestKey).toBe(`${data}.manifest.json`);
  const content = (await s3!.read(data))!;
  expect(content.length).toBeGreaterThan(5 * 1024 * 1024); // it did go up in parts
  const manifest = JSON.parse((await s3!.read(manifestKey))!.toString()) as { rows: number; bytes: number; sha256: string };
  expect(manifest).toMatchObject({ rows: ROWS, bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') });
  const perRecipient = RECIPIENTS.map((to) => w.smtp!.messages.filter((m) => m.envelopeTo.includes(to)).length);
  expect(perRecipient).toEqual(RECIPIENTS.map(() => 1));
  expect(await readdir(w.spoolDir).catch(() => [])).toEqual([]);
  expect((await w.ledger.getWindow(key))?.state).toBe('done');
}

/** The upload was aborted at S3 (an AbortMultipartUpload went out) and never completed. */
function expectAbortedAtS3(uploadId: string): void {
  const mine = proxy!.requests.filter((r) => r.url.includes(`uploadId=${uploadId}`));
  expect(mine.filter((r) => r.method === 'DELETE')).toHaveLength(1);
  expect(mine.filter((r) => r.method === 'POST')).toEqual([]);
}

/** A second daemon takes the window up and finishes it. */
async function secondDaemonFinishes(file: string): Promise<void> {
  const second = await world!.startDaemon(file);
  await waitFor(async () => (await world!.ledger.getWindow(key))?.state === 'done', 'the second daemon to finish the window', 60_000);
  await second.stop();
}

describe('a multipart S3 upload interrupted', () => {
  it('SIGTERM to `ox-batch run`: the upload is aborted at S3, exit 1, window not done; the next run archives it whole', async () => {
    const file = await setUp();
    proxy!.holdMatching(holdPartTwo);
    const args = ['--config', file, 'run', 'feedback-daily', '--start', isoDay(window.start), '--end', isoDay(window.end)];
    const run = spawnCli(await bundledCli(), args, { LOG_LEVEL: 'warn' });
    const exited = new Promise<number | null>((resolve) => run.child.once('exit', (code) => resolve(code)));
    const uploadId = await untilPartTwoHangs();
    run.child.kill('SIGTERM');
    expect(await exited, run.output()).toBe(1);
    expect(run.output()).toMatch(/interrupted/);
    releasePartTwo();

    expectAbortedAtS3(uploadId);
    expect(await s3!.objects()).toEqual([]);
    expect(world!.smtp!.messages).toEqual([]);
    expect(await readdir(world!.spoolDir).catch(() => [])).toEqual([]);
    expect((await world!.ledger.getWindow(key))?.state).not.toBe('done');

    const again = await world!.cli(file, args.slice(2));
    expect(again.code, again.stderr).toBe(0);
    await assertArchivedOnce(world!);
  }, 120_000);

  it('SIGTERM to the daemon: after the grace period the upload is aborted at S3 and the job handed back; a new daemon archives it once', async () => {
    const file = await setUp();
    const { daemon, uploadId } = await daemonHungOnPartTwo(file);
    expect((await daemon.stop()).code, daemon.output()).toBe(0);
    releasePartTwo();
    expectAbortedAtS3(uploadId);
    expect(await s3!.objects()).toEqual([]);
    expect(world!.smtp!.messages).toEqual([]);

    await secondDaemonFinishes(file);
    await assertArchivedOnce(world!);
  }, 120_000);

  it('kill -9 of the daemon: a second daemon archives the window in a new upload, once', async () => {
    const file = await setUp();
    const { daemon, uploadId } = await daemonHungOnPartTwo(file);
    await daemon.kill();
    releasePartTwo();

    await secondDaemonFinishes(file);
    await assertArchivedOnce(world!);
    // The killed upload stays open at S3 (the bucket's lifecycle rule removes it); the new one completed.
    expect(await s3!.openUploads()).toEqual([uploadId]);
    expect(proxy!.requests.filter((r) => r.method === 'POST' && r.url.includes('uploadId=') && r.status === 200)).toHaveLength(1);
  }, 120_000);
});
