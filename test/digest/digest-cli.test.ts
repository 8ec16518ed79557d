/**
 * `ox-batch feedback digest` through the CLI process against the simulator: the hand-computed
 * figures of the star-rating fixture as a terminal table and as JSON, and bad input refused with
 * one line and exit 2.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { bundleCli, runCli } from '../cli/cli-kit.js';

const SPAWNING = 120_000;
const FIXTURES = join(import.meta.dirname, 'fixtures');

describe.concurrent('ox-batch feedback digest', () => {
  let sim: OxSimulator;
  let dir: string;
  let configFile: string;
  let bundle: Awaited<ReturnType<typeof bundleCli>>;
  const cli = (...args: string[]) => runCli(bundle.entry, ['--config', configFile, ...args], { OX_USER: 'oxadmin', OX_PASSWORD: 'secret' });

  beforeAll(async () => {
    bundle = await bundleCli();
    sim = await OxSimulator.start();
    dir = mkdtempSync(join(tmpdir(), 'oxbt-digest-cli-'));
    configFile = join(dir, 'ox-batch.yaml');
    writeFileSync(
      configFile,
      `ox:\n  url: ${sim.url}\n  retry: { attempts: 2, baseDelayMs: 1ms, maxDelayMs: 5ms }\ntimezone: Europe/Berlin\n`,
    );
    const rows = JSON.parse(readFileSync(join(FIXTURES, 'star-rating-7-rows.json'), 'utf8')) as Array<Record<string, string>>;
    sim.addFeedback(
      rows.map((r, i) => ({
        ...r,
        date: Date.parse(`${r.date!.replace(' ', 'T')}Z`),
        contextId: 1,
        userId: i + 1,
        score: Number(r.score),
      })),
    );
  }, 60_000);
  afterAll(async () => {
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
    bundle?.dispose();
  });

  it(
    'prints the figures of a range as terminal tables',
    async () => {
      const r = await cli('feedback', 'digest', '--start', '2026-11-01T00:00:00Z', '--end', '2026-11-02T00:00:00Z');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = r.stdout.toString('utf8');
      expect(out).toContain(
        'star-rating-v1 feedback of context group default from 2026-11-01T00:00:00.000Z to 2026-11-02T00:00:00.000Z (exclusive), 2026-11-01 00:00 – 2026-11-02 00:00 UTC',
      );
      expect(out).toContain('rows 7; Star rating (1-5): mean 3.00 over 7 answers');
      expect(out).toMatch(/^score +answers +share$/m);
      expect(out).toMatch(/^1★ +2 +28\.6%$/m);
      expect(out).toMatch(/^5★ +2 +28\.6%$/m);
      expect(out).toMatch(/^mail +3 +42\.9% +3\.67$/m);
      expect(out).toMatch(/^\(none\) +1 +14\.3% +3\.00$/m);
      expect(out).toMatch(/^Chrome +3 +Windows +4 +en_US +4$/m);
      expect(out).toContain("[score 1, mail, 2026-11-01 09:00:00] =cmd|' /C calc'!A0");
      expect(out).toContain('[score 2, drive, 2026-11-01 09:30:00] Line one / line two, and longer text here');
    },
    SPAWNING,
  );

  it(
    '--json prints the digest as the job result carries it; --comments chooses how many comments',
    async () => {
      const r = await cli(
        'feedback',
        'digest',
        '--start',
        '2026-11-01T00:00:00Z',
        '--end',
        '2026-11-02T00:00:00Z',
        '--json',
        '--comments',
        '1',
      );
      expect(r.code).toBe(0);
      const digest = JSON.parse(r.stdout.toString('utf8')) as Record<string, unknown>;
      expect(digest).toMatchObject({
        window: { start: '2026-11-01T00:00:00.000Z', end: '2026-11-02T00:00:00.000Z' },
        contextGroup: 'default',
        type: 'star-rating-v1',
        scale: 'stars',
        rows: 7,
        scores: { answers: 7, mean: 3, distribution: [2, 1, 1, 1, 2] },
        comments: [{ score: 1, app: 'mail', text: "=cmd|' /C calc'!A0" }],
      });
      expect(digest.comments).toHaveLength(1);
      const empty = await cli('feedback', 'digest', '--start', '2026-12-01T00:00:00Z', '--end', '2026-12-02T00:00:00Z');
      expect(empty.code).toBe(0);
      expect(empty.stdout.toString('utf8')).toContain('no feedback in this range');
    },
    SPAWNING,
  );

  it(
    'refuses bad input with one line and exit 2',
    async () => {
      const cases: Array<[string[], RegExp]> = [
        [['--comments', 'many'], /^--comments "many": expected a whole number from 0 to 50$/],
        [['--comments', '51'], /^--comments "51": expected a whole number from 0 to 50$/],
        [['--start', '2026-11-02', '--end', '2026-11-01'], /--end 2026-11-01 is before --start 2026-11-02/],
        [['--start', '1762000000'], /looks like seconds since the epoch/],
        [['--end', 'tomorrow'], /--end: "tomorrow" is not a time/],
      ];
      const runs = cases.map(([args]) => cli('feedback', 'digest', ...args));
      for (const [args, message] of cases) {
        const r = await runs.shift()!;
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stdout.length).toBe(0);
        const lines = r.stderr.trim().split('\n');
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]!.replace(/^ox-batch: /, '')).toMatch(message);
      }
    },
    SPAWNING,
  );
});
