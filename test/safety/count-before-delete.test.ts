/**
 * OX can hold rows the export never saw (its export reads a replica, rows are dated by the clock
 * of the node that stored them). Through the real CLI and a real daemon: rows that turn up in an
 * archived window after its export stop the purge there, are reported (result, status, metric),
 * are re-exported by the daemon as a revision beside the first archive object, and only then
 * deleted; rows that turn up in a window purged before stay in OX (reported). At the end every
 * row OX no longer holds is in an archived file.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../daemon/helpers.js';
import { testToday } from '../helpers/clock.js';
import { DAY, HOUR, startSafetyWorld, type SafetyWorld } from './helpers/world.js';

// The CLI runs on the pinned test clock: day 0 stays today, also around midnight.
const today = testToday();
const day = (i: number) => today + i * DAY;
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const iso = (ms: number) => new Date(ms).toISOString();

let world: SafetyWorld;
let configFile: string;
const inserted: string[] = [];

function add(comment: string, date: number): void {
  world.sim.addFeedback([{ date, contextId: 1, userId: inserted.length + 1, score: 3, comment }]);
  inserted.push(comment);
}

/** Comments of every row in every archived data file (first objects and revisions). */
async function archivedComments(): Promise<Set<string>> {
  const files = (await readdir(world.archiveDir, { recursive: true, withFileTypes: true })).filter(
    (e) => e.isFile() && e.name.endsWith('.csv'),
  );
  const comments = new Set<string>();
  for (const f of files) {
    const rows = (await readFile(join(f.parentPath, f.name), 'utf8')).split('\r').slice(1);
    for (const row of rows) if (row) comments.add(row.split(';')[2]!.replace(/^"|"$/g, ''));
  }
  return comments;
}

/** Comments OX still holds. */
async function heldComments(): Promise<Set<string>> {
  return new Set((await world.heldRows()).map((r) => r.comment!));
}

beforeAll(async () => {
  world = await startSafetyWorld({ testClock: true });
  for (let i = -5; i <= -1; i += 1) {
    add(`day ${i} a`, day(i) + 2 * HOUR);
    add(`day ${i} b`, day(i) + 5 * HOUR);
  }
  configFile = world.config('count', [
    'schedules:',
    '  feedback-daily:',
    '    job: feedback.export',
    '    cron: "0 2 * * *"',
    '    window: 1d',
    '    lag: 0',
    `    startAt: ${isoDay(day(-5))}`,
    '  feedback-purge:',
    '    job: feedback.purge',
    '    cron: "0 4 * * *"',
    '    params: { retention: 1d }',
  ]);
});

afterAll(async () => {
  await world?.close();
});

describe('count before you delete', () => {
  it('stops at rows the archive lacks, re-exports them as a revision, and deletes only archived rows', async () => {
    const exported = await world.cli(configFile, ['run', 'feedback-daily', '--start', isoDay(day(-5)), '--end', isoDay(day(0))]);
    expect(exported.code, exported.stderr).toBe(0);

    // A row of day -3 reaches the replica only now (replication lag / a node clock behind).
    add('late in day -3', day(-3) + 20 * HOUR);
    const first = await world.cli(configFile, ['run', 'feedback-purge']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json<{ result: unknown }>().result).toMatchObject({
      cutoff: iso(day(-3)),
      deleteRange: { start: iso(day(-5)), end: iso(day(-3)) },
      recount: { counted: 4, unarchived: [{ start: iso(day(-3)), end: iso(day(-2)), oxRows: 3, archivedRows: 2 }], lateRowsKept: 0 },
      warnings: [expect.stringContaining(`cutoff stopped at ${iso(day(-3))}: OX holds 3 rows`)],
    });
    expect((await heldComments()).has('late in day -3')).toBe(true);
    expect((await heldComments()).has('day -5 a')).toBe(false);

    // A row dated in day -5, which is purged already: the next DELETE starts after it.
    add('late in day -5', day(-5) + 23 * HOUR);
    const second = await world.cli(configFile, ['run', 'feedback-purge']);
    expect(second.code, second.stderr).toBe(0);
    const secondResult = second.json<{ result: { warnings: string[] } }>().result;
    expect(secondResult).toMatchObject({
      nothingToDelete: true,
      recount: { unarchived: [{ start: iso(day(-3)), oxRows: 3 }], lateRowsKept: 1 },
    });
    expect(secondResult.warnings).toContainEqual(expect.stringContaining(`OX holds 1 rows dated before ${iso(day(-3))}`));
    const status = await world.cli(configFile, ['status', '--json']);
    const schedule = status
      .json<{ schedules: Array<{ id: string; reexport?: unknown[] }> }>()
      .schedules.find((s) => s.id === 'feedback-daily');
    expect(schedule?.reexport).toEqual([
      expect.objectContaining({ window: `${iso(day(-3))}..${iso(day(-2))}`, oxRows: 3, archivedRows: 2, by: 'feedback-purge' }),
    ]);
    expect((await world.cli(configFile, ['status'])).stdout.toString()).toMatch(/windows to re-export/);

    // The tick the purge asked for queues the window; it is archived as a revision beside the first object.
    const daemon = await world.startDaemon(configFile);
    await waitFor(async () => (await world.ledger.reexportFlags('feedback-daily')).length === 0, 'the re-exports', 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}; daemon said:\n${daemon.output()}`);
      },
    );
    await daemon.stop();
    const windows = await world.ledger.listWindows('feedback-daily');
    const keyOf = (start: number) => (windows.find((w) => w.start === start)!.result as { archive: { key: string } }).archive.key;
    expect(keyOf(day(-3))).toMatch(/\.r2\.csv$/);
    expect(keyOf(day(-4))).toMatch(/Z\.csv$/);
    expect(windows.every((w) => w.state === 'done')).toBe(true);

    const third = await world.cli(configFile, ['run', 'feedback-purge']);
    expect(third.code, third.stderr).toBe(0);
    expect(third.json<{ result: unknown }>().result).toMatchObject({
      deleteRange: { start: iso(day(-3)), end: iso(day(-1)) },
      recount: { unarchived: [], lateRowsKept: 1 },
    });

    // The invariant: whatever OX no longer holds is in the archive.
    const held = await heldComments();
    const archived = await archivedComments();
    const gone = inserted.filter((c) => !held.has(c));
    expect(gone.sort()).toEqual([
      'day -2 a',
      'day -2 b',
      'day -3 a',
      'day -3 b',
      'day -4 a',
      'day -4 b',
      'day -5 a',
      'day -5 b',
      'late in day -3',
    ]);
    expect(gone.filter((c) => !archived.has(c))).toEqual([]);
    expect(held.has('late in day -5')).toBe(true);
  }, 120_000);
});
