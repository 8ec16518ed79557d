/**
 * Nothing half-written survives a crash: an `ox-batch run` SIGKILLed in the middle of an export
 * (the simulator sends the body slowly) leaves its spool file — a window of personal data — and
 * the next `ox-batch run` removes it at start, while the spool file of another export that is
 * still running is kept; `ox-batch start` sweeps the same way; `ox-batch status` shows the sweeps.
 */
import { startSleeper } from '../helpers/child.js';
import { existsSync } from 'node:fs';
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastSweeps, type SweepHistory } from '../../src/delivery/spool-sweep.js';
import { tempNameFor } from '../../src/delivery/archive-temp.js';
import { identityOfLocalPid, identityToken } from '../../src/delivery/process-identity.js';
import { D0, DAY, iso, startCliWorld, stopProcess as kill, type CliWorld } from '../cli/cli-world.js';
import { waitFor } from '../daemon/helpers.js';

let world: CliWorld;
let spoolDir: string;

/** The spool file of process `pid`, once it has bytes in it. */
async function spoolFileOf(pid: number): Promise<string> {
  return waitFor(
    async () => {
      const name = (await readdir(spoolDir).catch(() => [] as string[])).find((n) => n.startsWith('.oxb-spool-') && n.includes(`.${pid}.`));
      return name && (await stat(join(spoolDir, name)).catch(() => undefined))?.size ? name : undefined;
    },
    `the spool file of pid ${pid} with bytes in it`,
    30_000,
  );
}

beforeAll(async () => {
  // ~15,000 rows a day, sent at 32 KB/s: an export of one day takes minutes.
  world = await startCliWorld({ name: 'spool-sweep', sim: { faults: { slowBodyBytesPerSecond: 32 * 1024 } } });
  world.sim.generateFeedback({ rows: 30_000, from: D0, to: D0 + 2 * DAY, seed: 12 });
  spoolDir = world.spoolDir;
}, 60_000);
afterAll(async () => {
  await world?.close();
});

describe('spool files of crashed processes', () => {
  it(
    "a run SIGKILLed mid-export leaves its spool file; the next run removes it and keeps a live export's; start sweeps too; status shows both",
    { timeout: 120_000 },
    async () => {
      // Two exports run; one of them is killed in the middle.
      const killed = world.start(['run', 'feedback.export', '--start', iso(D0), '--end', iso(D0 + DAY)]);
      const killedFile = await spoolFileOf(killed.pid!);
      const live = world.start(['run', 'feedback.export', '--start', iso(D0 + DAY), '--end', iso(D0 + 2 * DAY)]);
      const liveFile = await spoolFileOf(live.pid!);
      await kill(killed, 'SIGKILL');
      expect(existsSync(join(spoolDir, killedFile))).toBe(true); // what the crash left behind

      // A third run (of an empty window: quick) sweeps at its start.
      const sweeper = await world.cli(['run', 'feedback.export', '--start', iso(D0 + 5 * DAY), '--end', iso(D0 + 6 * DAY)]);
      expect(sweeper.code, sweeper.stderr).toBe(0);
      expect(existsSync(join(spoolDir, killedFile))).toBe(false);
      expect(existsSync(join(spoolDir, liveFile))).toBe(true);
      expect(live.exitCode).toBeNull(); // still exporting: its file had to stay

      const status = await world.cli(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      const sweeps = (JSON.parse(status.stdout.toString()) as { spoolSweeps: SweepHistory[] }).spoolSweeps;
      expect(sweeps).toHaveLength(1);
      expect(sweeps[0]!.last).toMatchObject({
        by: 'run',
        dir: spoolDir,
        removed: 1,
        keptOther: 0,
        errors: [],
        removedFiles: [{ name: killedFile, owner: expect.stringContaining(`pid ${killed.pid}`), why: 'dead process' }],
      });
      expect(sweeps[0]!.last.removedBytes).toBeGreaterThan(0);
      // The live export's file, and maybe the sweeping run's own (it sweeps beside its job).
      expect(sweeps[0]!.last.keptLive).toBeGreaterThanOrEqual(1);
      expect(sweeps[0]!.lastRemoval).toEqual(sweeps[0]!.last);
      const table = await world.cli(['status']);
      expect(table.stdout.toString()).toMatch(
        /spool sweeps \(files crashed processes left\)\nhost +dir +lastSweep +removed +keptLive +keptOther +lastRemoval/,
      );
      expect(table.stdout.toString()).toMatch(/ run: 1 file\(s\), \d+ bytes/);

      // The daemon sweeps at start as well: the second export dies, a worker starts.
      await kill(live, 'SIGKILL');
      expect(existsSync(join(spoolDir, liveFile))).toBe(true);
      const daemon = world.start(['start', '--role', 'worker', '--port', '0']);
      const byDaemon = await waitFor(
        async () => (await lastSweeps(world.redis, world.prefix)).find((s) => s.last.by === 'daemon'),
        "the daemon's sweep",
        30_000,
      );
      await kill(daemon, 'SIGTERM');
      expect(byDaemon.last).toMatchObject({ removed: 1, removedFiles: [{ name: liveFile, why: 'dead process' }] });
      expect(byDaemon.lastRemoval).toEqual(byDaemon.last);
      expect(await readdir(spoolDir)).toEqual([]);
    },
  );

  it('temps a killed writer left beside an archive object are removed when the key is written again', { timeout: 120_000 }, async () => {
    const window = ['--start', iso(D0 + 9 * DAY), '--end', iso(D0 + 10 * DAY)];
    const first = await world.cli(['run', 'feedback.export', ...window]);
    expect(first.code, first.stderr).toBe(0);
    const { key } = (JSON.parse(first.stdout.toString()) as { result: { archive: { key: string } } }).result.archive;
    const object = join(world.archiveDir, key);
    const folder = dirname(object);
    // What a writer SIGKILLed between its temp and the rename leaves: temps, and no object.
    const writer = await startSleeper();
    const token = identityToken(identityOfLocalPid(writer.pid));
    await writer.stop('SIGKILL');
    await rm(object);
    await rm(`${object}.manifest.json`);
    for (const name of [basename(object), `${basename(object)}.manifest.json`])
      await writeFile(join(folder, tempNameFor(name, token, 1)), 'half');

    const again = await world.cli(['run', 'feedback.export', ...window, '--force']);
    expect(again.code, again.stderr).toBe(0);
    expect((await readdir(folder)).sort()).toEqual([basename(object), `${basename(object)}.manifest.json`]);
  });
});
