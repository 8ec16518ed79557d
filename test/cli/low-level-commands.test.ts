import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { startSmtp, REST_PASSWORD, REST_USER, SIM_CREDENTIALS, TEST_PGP_KEY } from '../ox/ox-test-kit.js';
import { bundleCli, runCli } from './cli-kit.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const day = Date.UTC(2025, 9, 1);

// Each spawn starts a whole CLI process (about a second of CPU): generous timeouts for busy machines.
const SPAWNING = 120_000;

describe.concurrent('ox-batch low-level commands (feedback, ads, passwd-changes) against the simulator', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let sim: OxSimulator;
  let dir: string;
  let configFile: string;
  let env: Record<string, string>;
  let bundle: Awaited<ReturnType<typeof bundleCli>>;
  const cli = (...args: string[]) => runCli(bundle.entry, ['--config', configFile, ...args], env);

  beforeAll(async () => {
    bundle = await bundleCli();
    smtp = await startSmtp();
    sim = await OxSimulator.start({
      credentials: { ...SIM_CREDENTIALS, contextAdmins: { '5': { user: 'ctx5admin', password: 'ctx5-Pa55' } } },
      smtpUrl: smtp.url,
    });
    dir = mkdtempSync(join(tmpdir(), 'oxb-cli-'));
    configFile = join(dir, 'ox-batch.yaml');
    writeFileSync(
      configFile,
      [
        `ox:`,
        `  url: ${sim.url}`,
        `  admin: { contexts: { "5": { user: ctx5admin, password: ctx5-Pa55 } } }`,
        `  retry: { attempts: 2, baseDelayMs: 1ms, maxDelayMs: 5ms }`,
        `timezone: Europe/Berlin`,
      ].join('\n'),
    );
    env = { OX_USER: REST_USER, OX_PASSWORD: REST_PASSWORD };
    sim.addFeedback([
      { date: day, contextId: 1, userId: 1, score: 5, comment: 'export me' },
      { date: day + 1000, contextId: 1, userId: 2, score: 4, comment: 'me too' },
    ]);
    sim.addUser({ contextId: 5, userId: 3, login: 'alice' });
    sim.addPasswordChange({ contextId: 5, userId: 3, date: day, client_id: 'open-xchange-appsuite', client_address: '192.0.2.7' });
  }, 60_000);
  afterAll(async () => {
    await sim.close();
    await smtp.close();
    rmSync(dir, { recursive: true, force: true });
    bundle.dispose();
  });

  it(
    'feedback export writes OX CSV bytes to stdout and exits 0',
    async () => {
      const r = await cli('feedback', 'export', '--start', String(day), '--end', String(day + 86_400_000));
      expect(r.code).toBe(0);
      expect(r.stdout.subarray(0, 3)).toEqual(BOM);
      expect(r.stdout.toString('utf8')).toContain('"export me"');
      expect(r.stderr).toContain('exported');
    },
    SPAWNING,
  );

  it(
    'feedback export --output refuses to overwrite without --force, writes complete files only',
    async () => {
      const file = join(dir, 'feedback.csv');
      const first = await cli('feedback', 'export', '--end', '2025-10-02', '--output', file);
      expect(first.code).toBe(0);
      expect(readFileSync(file).subarray(0, 3)).toEqual(BOM);
      writeFileSync(file, 'keep me');
      const again = await cli('feedback', 'export', '--end', '2025-10-02', '--output', file);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain('file exists');
      expect(readFileSync(file, 'utf8')).toBe('keep me');
      const forced = await cli('feedback', 'export', '--end', '2025-10-02', '--output', file, '--force');
      expect(forced.code).toBe(0);
      expect(readFileSync(file, 'utf8')).toContain('me too');
      expect(readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
    },
    SPAWNING,
  );

  it(
    'feedback raw prints a JSON array; dates are read in the configured zone',
    async () => {
      // 2025-10-01 in Europe/Berlin starts at 2025-09-30T22:00Z, so both rows are inside
      const r = await cli('feedback', 'raw', '--start', '2025-10-01', '--end', '2025-10-02T00:00:00Z');
      expect(r.code).toBe(0);
      const rows = JSON.parse(r.stdout.toString('utf8'));
      expect(rows.map((row: { comment: string }) => row.comment)).toEqual(['export me', 'me too']);
      expect(sim.requests.find((q) => q.path.endsWith('/raw'))!.query.start).toBe(String(Date.UTC(2025, 8, 30, 22) - 1));
    },
    SPAWNING,
  );

  it(
    'feedback delete needs --end, and --yes when not on a terminal; then deletes',
    async () => {
      sim.addFeedback([{ contextGroup: 'purge', date: day, contextId: 1, userId: 1, score: 1 }]);
      const noEnd = await cli('feedback', 'delete', '--context-group', 'purge', '--yes');
      expect(noEnd.code).toBe(2);
      expect(noEnd.stderr).toContain('--end');
      const noYes = await cli('feedback', 'delete', '--context-group', 'purge', '--end', String(day + 1));
      expect(noYes.code).toBe(2);
      expect(noYes.stderr).toContain('without --yes');
      expect(sim.feedbackCount({ contextGroup: 'purge' })).toBe(1);
      const dry = await cli('feedback', 'delete', '--context-group', 'purge', '--end', String(day + 1), '--dry-run');
      expect(dry.code).toBe(0);
      expect(JSON.parse(dry.stdout.toString('utf8'))).toMatchObject({ dryRun: true, rows: 1 });
      expect(sim.feedbackCount({ contextGroup: 'purge' })).toBe(1);
      const yes = await cli('feedback', 'delete', '--context-group', 'purge', '--end', String(day + 1), '--yes');
      expect(yes.code).toBe(0);
      expect(JSON.parse(yes.stdout.toString('utf8'))).toMatchObject({ successful: true, contextGroup: 'purge', end: day + 1 });
      expect(sim.feedbackCount({ contextGroup: 'purge' })).toBe(0);
    },
    SPAWNING,
  );

  it(
    'an OX error exits 1 and prints code, error_desc and error_id',
    async () => {
      const r = await cli('feedback', 'export', '--type', 'unknown-v7');
      expect(r.code).toBe(1);
      expect(r.stdout.length).toBe(0);
      expect(r.stderr).toMatch(/FEEDBACK-0003 - .+ \(error_id [^)]+\)/);
    },
    SPAWNING,
  );

  it(
    'bad input exits 2 and asks nothing of OX',
    async () => {
      const [badTime, seconds, badRecipient, strayKey] = await Promise.all([
        cli('feedback', 'export', '--context-group', 'bad-input', '--start', 'yesterday-ish'),
        cli('feedback', 'delete', '--context-group', 'bad-input', '--end', '1700000000', '--yes'),
        cli('feedback', 'send', '--context-group', 'bad-input', '--recipient', 'Name <no-at-sign>'),
        cli('feedback', 'send', '--context-group', 'bad-input', '--recipient', 'a@example.com', '--pgp-key', `b@example.com=${configFile}`),
      ]);
      expect(strayKey.code).toBe(2);
      expect(strayKey.stderr).toContain('not one of the --recipient addresses');
      expect(badTime.code).toBe(2);
      expect(badTime.stderr).toContain('--start');
      expect(seconds.code).toBe(2);
      expect(seconds.stderr).toContain('looks like seconds');
      expect(badRecipient.code).toBe(2);
      expect(badRecipient.stderr).toContain('--recipient');
      expect(sim.requests.filter((q) => q.path.includes('bad-input'))).toEqual([]);
    },
    SPAWNING,
  );

  it(
    'wrong credentials exit 1 without the password in any output',
    async () => {
      const r = await runCli(bundle.entry, ['--config', configFile, 'ads', 'delete-user', '--context-id', '1', '--user-id', '1'], {
        OX_USER: REST_USER,
        OX_PASSWORD: 'wrong-Pa55',
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('HTTP 401');
      expect(r.stderr + r.stdout.toString()).not.toContain('wrong-Pa55');
    },
    SPAWNING,
  );

  it(
    'feedback send reports recipients OX could not mail and exits 1',
    async () => {
      const keyFile = join(dir, 'sec.asc');
      writeFileSync(keyFile, TEST_PGP_KEY);
      const r = await cli(
        'feedback',
        'send',
        '--start',
        String(day),
        '--end',
        String(day + 86_400_000),
        '--recipient',
        'Ops Team <ops@example.com>',
        '--recipient',
        'bro,ken@example.com',
        '--recipient',
        'sec@example.com',
        '--pgp-key',
        `sec@example.com=${keyFile}`,
        '--subject',
        'Report',
      );
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout.toString('utf8'))).toMatchObject({
        normal: ['ops@example.com'],
        encrypt: ['sec@example.com'],
        fail: ['bro,ken@example.com'],
      });
      expect(r.stderr).toContain('NOT mailed to bro,ken@example.com: invalid address');
      expect(smtp.messages.some((m) => m.subject === 'Report')).toBe(true);
    },
    SPAWNING,
  );

  it(
    'ads set-user takes --config as JSON; the YAML --config goes before "ads"',
    async () => {
      const r = await cli('ads', 'set-user', '--context-id', '7', '--user-id', '8', '--config', '{"banner":"spring"}');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout.toString('utf8'))).toEqual({ operation: 'set-user', contextId: 7, userId: 8, outcome: 'created' });
      expect(sim.adConfigs().users['7/8']).toEqual({ banner: 'spring' });
      const file = join(dir, 'ad.json');
      writeFileSync(file, '{"banner":"summer"}');
      const fromFile = await cli('ads', 'set-name', '--context-id', '5', '--name', 'alice', '--config', file);
      expect(fromFile.code).toBe(0);
      expect(sim.adConfigs().users['5/3']).toEqual({ banner: 'summer' });
      const missing = await cli('ads', 'set-package', '--reseller', 'r', '--package', 'p');
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('--config is required');
    },
    SPAWNING,
  );

  it(
    'ads set-reseller prints per-package statuses and exits 1 when one is ERROR',
    async () => {
      const r = await cli(
        'ads',
        'set-reseller',
        '--reseller',
        'acme',
        '--config',
        JSON.stringify([
          { package: 'gold', config: { a: 1 } },
          { package: 'bad', config: { __simulate: 'error' } },
        ]),
      );
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout.toString('utf8'))).toMatchObject([
        { package: 'gold', status: 'CREATED' },
        { package: 'bad', status: 'ERROR' },
      ]);
      expect(r.stderr).toContain('package bad: ERROR');
    },
    SPAWNING,
  );

  it(
    'passwd-changes prints a JSON array, or a table',
    async () => {
      const json = await cli('passwd-changes', '--context-id', '5', '--user-id', '3');
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout.toString('utf8'))).toEqual([
        { date: day, client_id: 'open-xchange-appsuite', client_name: 'App Suite UI', client_address: '192.0.2.7' },
      ]);
      const table = await cli('passwd-changes', '--context-id', '5', '--user-id', '3', '--format', 'table');
      expect(table.code).toBe(0);
      expect(table.stdout.toString('utf8')).toMatch(/2025-10-01 02:00:00 \+02:00\s+App Suite UI\s+open-xchange-appsuite\s+192\.0\.2\.7/);
    },
    SPAWNING,
  );
});
