/**
 * The safety promise, checked over random, seeded sequences of what operators and faults do to a
 * deployment, all through real processes: `ox-batch run` (closed, open and future windows, with
 * and without --force, with --param overrides, --open previews), `ox-batch backfill`, purges,
 * rows arriving late in windows already exported (replication lag, node clocks), OX faults (5xx,
 * 429, bodies cut mid-way, slow answers) and daemons SIGKILLed at random moments, against the OX
 * simulator. After every sequence (and a settle: faults off, one daemon working off what is owed)
 * the invariants of docs/architecture.md must hold:
 *
 *  I1 every row OX no longer holds is in an archived data file of the guard schedule;
 *  I2 each (recipient, window) got at most one mail;
 *  I3 every archived data object is complete: its manifest names its bytes and SHA-256;
 *  I4 every closed window of the schedule is done, or failed where the ledger shows it;
 *  plus the refusals on the way: an open or future window, or a --param that changes what the
 *  guard archives, exits 2 and changes nothing.
 *
 * CI runs a few sequences; `npm run soak -- --seeds N` runs N. A failure prints its seed and path:
 * replay with OXB_MODEL_SEED=<seed> (and OXB_MODEL_PATH=<path> for the shrunk case).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../daemon/helpers.js';
import { HOUR, startSafetyWorld, type DaemonProcess, type SafetyWorld } from './helpers/world.js';

const RECIPIENTS = ['pm@example.com', 'support@example.com'];
/** Windows relative to the current hour: -6 .. -1 closed, 0 open, 1 and 2 in the future. */
const FIRST = -6;
const LAST = 2;

type Action =
  | { kind: 'run'; i: number; force: boolean; param?: 'columns' | 'format' | 'subject'; open?: boolean }
  | { kind: 'backfill'; from: number; to: number; force: boolean }
  | { kind: 'purge' }
  | { kind: 'late'; i: number; rows: number }
  | { kind: 'fault'; script: Array<503 | 429 | 'drop-mid-body' | 'ok'> }
  | { kind: 'slow' }
  | { kind: 'daemon' }
  | { kind: 'kill'; afterMs: number };

const windowIndex = fc.integer({ min: FIRST, max: LAST });
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('run' as const),
      i: windowIndex,
      force: fc.boolean(),
      param: fc.option(fc.constantFrom('columns' as const, 'format' as const, 'subject' as const), { nil: undefined }),
      open: fc.option(fc.boolean(), { nil: undefined }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(windowIndex, windowIndex, fc.boolean())
      .map(([a, b, force]) => ({ kind: 'backfill' as const, from: Math.min(a, b), to: Math.max(a, b) + 1, force })),
  },
  { weight: 3, arbitrary: fc.constant({ kind: 'purge' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('late' as const),
      i: fc.integer({ min: FIRST, max: -1 }),
      rows: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      script: fc.array(fc.constantFrom(503 as const, 429 as const, 'drop-mid-body' as const, 'ok' as const), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'slow' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'daemon' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('kill' as const), afterMs: fc.integer({ min: 0, max: 1500 }) }) },
);

const iso = (ms: number) => new Date(ms).toISOString();

interface Sequence {
  world: SafetyWorld;
  file: string;
  hour0: number;
  comments: string[];
  daemon?: DaemonProcess;
}

function win(seq: Sequence, i: number): { start: number; end: number } {
  return { start: seq.hour0 + i * HOUR, end: seq.hour0 + (i + 1) * HOUR };
}

function addRows(seq: Sequence, i: number, n: number, tag: string): void {
  const { start } = win(seq, i);
  const rows = Array.from({ length: n }, (_, k) => {
    const comment = `${tag} w${i} #${seq.comments.length + k}`;
    return {
      date: start + 1 + Math.floor(((k + 1) * (HOUR - 2)) / (n + 1)),
      contextId: 1,
      userId: seq.comments.length + k + 1,
      score: 1 + (k % 5),
      comment,
    };
  });
  seq.world.sim.addFeedback(rows);
  seq.comments.push(...rows.map((r) => r.comment));
}

async function play(seq: Sequence, a: Action): Promise<void> {
  const { world, file } = seq;
  switch (a.kind) {
    case 'run': {
      const w = win(seq, a.i);
      const args = ['run', 'feedback-hourly', '--start', iso(w.start), '--end', iso(w.end)];
      if (a.force) args.push('--force');
      if (a.open) args.push('--open');
      if (a.param === 'columns') args.push('--param', 'columns=Date,Score');
      if (a.param === 'format') args.push('--param', 'format=jsonl');
      if (a.param === 'subject') args.push('--param', 'subject=ad hoc');
      const startedAt = Date.now();
      const out = await world.cli(file, args);
      // Where the window stood when the command ran (the hour may turn during a sequence).
      const closed = Date.now() >= w.end;
      const future = startedAt < w.start;
      // The refusals: exit 2, one line, before anything ran.
      if (future || (!closed && !a.open) || (closed && a.open && startedAt >= w.end) || a.param === 'columns' || a.param === 'format') {
        expect(out.code, `${args.join(' ')}: ${out.stderr}`).toBe(2);
        expect(out.stderr.trim().split('\n'), out.stderr).toHaveLength(1);
      }
      return;
    }
    case 'backfill': {
      const last = win(seq, a.to - 1);
      const out = await world.cli(file, [
        'backfill',
        'feedback-hourly',
        '--from',
        iso(win(seq, a.from).start),
        '--to',
        iso(last.end),
        ...(a.force ? ['--force'] : []),
      ]);
      if (Date.now() < last.end) expect(out.code, out.stderr).toBe(2);
      return;
    }
    case 'purge':
      await world.cli(file, ['run', 'feedback-purge']);
      return;
    case 'late':
      addRows(seq, a.i, a.rows, 'late');
      return;
    case 'fault':
      world.sim.setFaults({ script: a.script, retryAfterSeconds: 0, pathPrefix: '/userfeedback' });
      return;
    case 'slow':
      world.sim.setFaults({ latencyMs: 300, slowBodyBytesPerSecond: 20_000, pathPrefix: '/userfeedback' });
      return;
    case 'daemon':
      if (!seq.daemon) seq.daemon = await world.startDaemon(file);
      return;
    case 'kill':
      if (seq.daemon) {
        await new Promise((r) => setTimeout(r, a.afterMs));
        await seq.daemon.kill();
        seq.daemon = undefined;
      }
      return;
  }
}

/** Faults off, one daemon, what is owed worked off (backfill + re-exports), one last purge. */
async function settle(seq: Sequence): Promise<void> {
  const { world, file } = seq;
  world.sim.setFaults(undefined);
  if (seq.daemon) await seq.daemon.kill();
  seq.daemon = await world.startDaemon(file);
  const backfill = await world.cli(file, [
    'backfill',
    'feedback-hourly',
    '--from',
    iso(win(seq, FIRST).start),
    '--to',
    iso(win(seq, -1).end),
  ]);
  expect(backfill.code, backfill.stderr).toBe(0);
  const closedStarts = Array.from({ length: -FIRST }, (_, k) => win(seq, FIRST + k).start);
  const settled = async () => {
    const records = await world.ledger.listWindows('feedback-hourly');
    const flags = await world.ledger.reexportFlags('feedback-hourly');
    return (
      flags.length === 0 &&
      closedStarts.every((s) => records.some((r) => r.start === s && (r.state === 'done' || (r.state === 'failed' && r.permanent))))
    );
  };
  await waitFor(settled, 'the daemon to work off what is owed', 90_000, 250);
  await world.cli(file, ['run', 'feedback-purge']);
  await seq.daemon.stop();
  seq.daemon = undefined;
}

async function checkInvariants(seq: Sequence): Promise<void> {
  const { world } = seq;
  // I1: gone from OX ⇒ archived.
  const held = new Set((await world.heldRows()).map((r) => r.comment));
  const archived = new Set<string>();
  const manifests = new Map<string, { bytes: number; sha256: string }>();
  const dataFiles: string[] = [];
  for (const e of await readdir(world.archiveDir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    if (e.name.endsWith('.manifest.json'))
      manifests.set(path.slice(0, -'.manifest.json'.length), JSON.parse(await readFile(path, 'utf8')) as { bytes: number; sha256: string });
    else if (!e.name.includes('.tmp')) dataFiles.push(path);
  }
  for (const path of dataFiles) {
    if (path.includes(`${join(world.archiveDir, 'preview')}`)) continue;
    for (const row of (await readFile(path, 'utf8')).split('\r').slice(1)) if (row) archived.add(row.split(';')[2]!.replace(/^"|"$/g, ''));
  }
  const lost = seq.comments.filter((c) => !held.has(c) && !archived.has(c));
  expect(lost, 'I1: rows deleted from OX that no archive holds').toEqual([]);

  // I2: at most one mail per (recipient, window): the window from the attachment's name.
  const seen = new Map<string, number>();
  for (const m of world.smtp!.messages) {
    const attachment = (await simpleParser(m.raw)).attachments.find((a) => !a.related)?.filename ?? 'none'; // the file, not the digest's inline chart
    const window = attachment.replace(/\.r\d+(?=\.)/, '');
    for (const to of m.envelopeTo) seen.set(`${to} ${window}`, (seen.get(`${to} ${window}`) ?? 0) + 1);
  }
  expect(
    [...seen].filter(([, n]) => n > 1),
    'I2: a recipient mailed twice for one window',
  ).toEqual([]);

  // I3: every data object is complete and described by its manifest.
  const { createHash } = await import('node:crypto');
  for (const path of dataFiles) {
    const manifest = manifests.get(path);
    expect(manifest, `I3: ${path} has no manifest`).toBeDefined();
    const bytes = await readFile(path);
    expect({ bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }, `I3: ${path}`).toEqual({
      bytes: manifest!.bytes,
      sha256: manifest!.sha256,
    });
  }

  // I4: every closed window is done, or visibly failed.
  const records = await world.ledger.listWindows('feedback-hourly');
  for (let i = FIRST; i < 0; i += 1) {
    const record = records.find((r) => r.start === win(seq, i).start);
    expect(record?.state === 'done' || record?.state === 'failed', `I4: window ${i} is ${record?.state ?? 'missing'}`).toBe(true);
  }
}

const RUNS = Number(process.env.OXB_MODEL_RUNS ?? 2);

describe('the safety invariants over random operator actions and faults (fast-check, real processes)', () => {
  it(
    `hold after every sequence (${RUNS} sequences; seed printed on failure)`,
    async () => {
      const seed = Number(process.env.OXB_MODEL_SEED ?? Date.now() % 2 ** 31);
      console.log(`safety model: fast-check seed ${seed} (replay: OXB_MODEL_SEED=${seed})`);
      await fc.assert(
        fc.asyncProperty(fc.array(action, { minLength: 3, maxLength: 7 }), async (actions) => {
          const world = await startSafetyWorld({ smtp: true });
          const hour0 = Math.floor(Date.now() / HOUR) * HOUR;
          const seq: Sequence = { world, hour0, comments: [], file: '' };
          try {
            seq.file = world.config('model', [
              'worker: { concurrency: 2, lockDurationMs: 1500, stalledIntervalMs: 1000, backoffMs: 100, shutdownGraceMs: 500 }',
              `mail: { smtp: "${world.smtp!.url}", from: ox-batch@example.com, claimLeaseMs: 2s }`,
              'schedules:',
              '  feedback-hourly:',
              '    job: feedback.export',
              '    cron: "5 * * * *"',
              '    window: 1h',
              '    lag: 0',
              '    attempts: 3',
              '    retryFailedAfter: 1s',
              `    startAt: ${iso(win(seq, FIRST).start)}`,
              `    params: { deliver: [archive, mail], mailTo: [${RECIPIENTS.join(', ')}] }`,
              '  feedback-purge:',
              '    job: feedback.purge',
              '    cron: "0 4 * * *"',
              '    params: { retention: 2h }',
            ]);
            for (let i = FIRST; i <= 0; i += 1) addRows(seq, i, 2, 'row');
            for (const a of actions) await play(seq, a);
            await settle(seq);
            await checkInvariants(seq);
          } finally {
            await world.close();
          }
        }),
        {
          seed,
          numRuns: RUNS,
          ...(process.env.OXB_MODEL_PATH ? { path: process.env.OXB_MODEL_PATH } : {}),
          // Each sequence starts real processes: shrinking a failure replays it many times.
          endOnFailure: process.env.OXB_MODEL_SHRINK !== '1',
        },
      );
    },
    Math.max(600_000, RUNS * 120_000),
  );
});
