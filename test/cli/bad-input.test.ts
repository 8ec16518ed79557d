import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCli, runCli } from './cli-kit.js';

// Each spawn starts a whole CLI process; the Redis cases wait for the CLI's 10 s Redis deadline.
const SPAWNING = 120_000;

/** A port nothing listens on: bound, then closed again. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Bad input and unreachable servers, command group by command group: one line on stderr naming
 * what is wrong, exit 2 for input (decided before connecting anywhere), 1 for an unreachable
 * server, no stack trace, no secret.
 */
describe.concurrent('ox-batch bad input and unreachable servers', () => {
  let bundle: Awaited<ReturnType<typeof bundleCli>>;
  let dir: string;
  let configFile: string;
  let catalog: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(bundle.entry, ['--config', configFile, ...args], env);

  beforeAll(async () => {
    bundle = await bundleCli();
    dir = mkdtempSync(join(tmpdir(), 'oxb-cli-bad-'));
    configFile = join(dir, 'ox-batch.yaml');
    catalog = join(dir, 'catalog.yaml');
    const [oxPort, redisPort] = [await closedPort(), await closedPort()];
    writeFileSync(
      configFile,
      [
        `ox: { url: "http://127.0.0.1:${oxPort}", retry: { attempts: 1 } }`,
        `redis: { url: "redis://:redis-Secr3t@127.0.0.1:${redisPort}" }`,
        'logging: { level: warn }',
        'schedules:',
        '  feedback-daily: { job: feedback.export, cron: "30 2 * * *", tz: Europe/Berlin, window: 1d }',
        '',
      ].join('\n'),
    );
    writeFileSync(catalog, 'resellers:\n  acme:\n    packages:\n      gold: { config: { banner: x } }\n');
    env = { OX_USER: 'oxadmin', OX_PASSWORD: 'ox-Secr3t' };
  }, 60_000);
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    bundle.dispose();
  });

  const oneLine = (stderr: string) => {
    const lines = stderr.trimEnd().split('\n');
    expect(lines, stderr).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at |Secr3t/);
    return lines[0]!;
  };

  it(
    'an unknown option or a missing required option is one line, exit 2 (no help page dumped)',
    async () => {
      const unknown = await cli('feedback', 'export', '--bogus');
      expect(unknown.code).toBe(2);
      expect(oneLine(unknown.stderr)).toMatch(/unknown option '--bogus'/);
      const missing = await cli('backfill', 'feedback-daily', '--from', '2026-01-01');
      expect(missing.code).toBe(2);
      expect(oneLine(missing.stderr)).toMatch(/--to/);
    },
    SPAWNING,
  );

  it(
    'a missing recipient or an empty login name is named by its flag, exit 2, nothing sent',
    async () => {
      const cases: Array<[string[], RegExp]> = [
        [['feedback', 'send'], /--recipient/],
        [['ads', 'set-name', '--context-id', '1', '--name', '', '--config', '{}'], /--name/],
        [['ads', 'delete-name', '--context-id', '1', '--name', ' '], /--name/],
      ];
      const results = await Promise.all(cases.map(([args]) => cli(...args)));
      results.forEach((r, i) => {
        expect(r.code, `${cases[i]![0].join(' ')}: ${r.stderr}`).toBe(2);
        expect(oneLine(r.stderr)).toMatch(cases[i]![1]);
      });
    },
    SPAWNING,
  );

  it(
    'sim on a port that is taken names host and port, exit 2',
    async () => {
      const taken: Server = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      try {
        const port = (taken.address() as { port: number }).port;
        const r = await cli('sim', '--port', String(port));
        expect(r.code, r.stderr).toBe(2);
        expect(oneLine(r.stderr)).toMatch(new RegExp(`--port ${port}: cannot listen \\(EADDRINUSE\\)`));
      } finally {
        await new Promise((resolve) => taken.close(resolve));
      }
    },
    SPAWNING,
  );

  it(
    'enqueue, backfill, pause and resume reject bad input with exit 2 before connecting to Redis',
    async () => {
      const cases: Array<[string[], RegExp]> = [
        [['enqueue', 'nosuch'], /"nosuch" is neither a schedule/],
        [['enqueue', 'feedback-daily', '--start', '2026-01-02', '--end', '2026-01-01'], /--end 2026-01-01 is not after --start/],
        [['backfill', 'nosuch', '--from', '2026-01-01', '--to', '2026-01-02'], /unknown schedule "nosuch"/],
        [['backfill', 'feedback-daily', '--from', 'yesterday', '--to', '2026-01-02'], /--from: "yesterday" is not a time/],
        [['pause', 'nosuch'], /unknown schedule "nosuch"/],
        [['resume', 'nosuch'], /unknown schedule "nosuch"/],
      ];
      const results = await Promise.all(cases.map(([args]) => cli(...args)));
      results.forEach((r, i) => {
        expect(r.code, `${cases[i]![0].join(' ')}: ${r.stderr}`).toBe(2);
        expect(oneLine(r.stderr)).toMatch(cases[i]![1]);
      });
    },
    SPAWNING,
  );

  it(
    'ads plan, ads apply and run name the unreachable Redis in one line and exit 1',
    async () => {
      const results = await Promise.all([
        cli('ads', 'plan', '--catalog', catalog),
        cli('ads', 'apply', '--catalog', catalog),
        cli('run', 'feedback.export', '--start', '2026-01-01', '--end', '2026-01-02'),
      ]);
      for (const r of results) {
        expect(r.code, r.stderr).toBe(1);
        expect(oneLine(r.stderr)).toMatch(/^ox-batch: Redis at redis:\/\/.*127\.0\.0\.1:\d+ is not reachable/);
      }
    },
    SPAWNING,
  );

  it(
    'a broken catalog is still an input error (exit 2) when Redis is unreachable',
    async () => {
      const broken = join(dir, 'broken.json');
      writeFileSync(broken, '{"resellers":');
      const r = await cli('ads', 'plan', '--catalog', broken);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/broken\.json: not valid JSON/);
    },
    SPAWNING,
  );
});
