import { startChild } from '../helpers/child.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { OxSimulator, type SimFixture } from '../../src/sim/ox-simulator.js';
import { call, csvRows, EXPORT, q } from './sim-http.js';

const fixture: SimFixture = {
  feedback: [
    {
      contextGroup: 'default',
      type: 'star-rating-v1',
      date: 1_767_225_600_000,
      contextId: 1,
      userId: 3,
      score: 4,
      comment: 'from the fixture',
      app: 'x'.repeat(60),
    },
    { date: 1_767_225_601_000, contextId: 1, userId: 4, score: '2', comment: 'second' },
  ],
  users: [{ contextId: 1, userId: 3, login: 'anna' }],
  passwordChanges: [{ contextId: 1, userId: 3, date: 1_700_000_000_000, client_id: 'provisioning-api', client_address: '198.51.100.4' }],
  credentials: { rest: { user: 'fx', password: 'fxpw' }, contextAdmins: { 1: { user: 'admin1', password: 'pw1' } } },
  adConfigs: { users: { '1/3': { banner: 'old' } }, packages: { 'acme/gold': { tier: 1 } } },
};

describe('fixtures', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'oxb-sim-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads feedback (normalised and truncated), users, password changes and credentials from a file', async () => {
    const file = join(dir, 'case.json');
    writeFileSync(file, JSON.stringify(fixture));
    const sim = await OxSimulator.start({ fixture: file });
    try {
      const rest = { user: 'fx', password: 'fxpw' };
      expect((await call(sim, EXPORT)).status).toBe(401);
      const raw = JSON.parse((await call(sim, `${EXPORT}/raw`, { auth: rest })).text) as Array<Record<string, string>>;
      expect(raw.map((r) => [r.date, r.score, r.comment])).toEqual([
        ['2026-01-01 00:00:00', '4', 'from the fixture'],
        ['2026-01-01 00:00:01', '2', 'second'],
      ]);
      expect(raw[0]!.app).toBe(`${'x'.repeat(46)} ...`);
      const changes = await call(sim, '/admin/v1/contexts/1/users/3/passwd-changes', { auth: { user: 'admin1', password: 'pw1' } });
      expect(JSON.parse(changes.text)).toEqual([
        { date: 1_700_000_000_000, client_id: 'provisioning-api', client_name: 'Provisioning API', client_address: '198.51.100.4' },
      ]);
      expect(sim.adConfigs()).toEqual({ users: { '1/3': { banner: 'old' } }, packages: { 'acme/gold': { tier: 1 } } });
      // anna is user 3, whose config the fixture already holds: an update, not a create
      expect(
        (await call(sim, `/advertisement/v1/config/name${q({ contextId: 1, name: 'anna' })}`, { method: 'PUT', body: {}, auth: rest }))
          .status,
      ).toBe(200);
      expect(
        (await call(sim, `/advertisement/v1/config/package${q({ reseller: 'acme', package: 'gold' })}`, { method: 'DELETE', auth: rest }))
          .status,
      ).toBe(204);
    } finally {
      await sim.close();
    }
  });

  it('rejects a bad fixture with an InputError naming file and field', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ feedback: [{ date: 'yesterday', contextId: 1, userId: 1, score: 1 }] }));
    await expect(OxSimulator.start({ fixture: file })).rejects.toThrow(InputError);
    await expect(OxSimulator.start({ fixture: file })).rejects.toThrow(/bad\.json: feedback\.0\.date/);
    await expect(OxSimulator.start({ fixture: join(dir, 'missing.json') })).rejects.toThrow(/missing\.json: cannot read/);
    // OX scores are integers >= 1: a score "0" must be named as the fixture's field, not fail later as a TypeError.
    const zero = join(dir, 'zero.json');
    writeFileSync(zero, JSON.stringify({ feedback: [{ date: 1, contextId: 1, userId: 1, score: '0' }] }));
    await expect(OxSimulator.start({ fixture: zero })).rejects.toThrow(InputError);
    await expect(OxSimulator.start({ fixture: zero })).rejects.toThrow(/zero\.json: feedback\.0\.score/);
    const sim = await OxSimulator.start();
    try {
      expect(() => sim.loadFixture({ users: [{ contextId: 1, userId: 1, login: '' }] })).toThrow(/users\.0\.login/);
      expect(() => sim.loadFixture({ adConfigs: { users: { anna: {} } } })).toThrow(/adConfigs\.users\.anna/);
    } finally {
      await sim.close();
    }
  });
});

describe('ox-batch sim', () => {
  const cli = (args: string[]) =>
    startChild(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sim', ...args], { timeoutMs: 60_000 }).process;

  it('serves generated and fixture data on the printed URL and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oxb-sim-cli-'));
    const file = join(dir, 'f.json');
    writeFileSync(file, JSON.stringify({ feedback: fixture.feedback }));
    const child = cli([
      '--port',
      '0',
      '--feedback-rows',
      '500',
      '--from',
      '2026-03-01',
      '--to',
      '2026-03-02',
      '--seed',
      '4',
      '--fixture',
      file,
      '--rest-user',
      'u1',
      '--rest-password',
      'p1',
      '--type',
      'star-rating-v1,nps-v1',
    ]);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`sim exited ${code}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const sim = { url } as OxSimulator;
      const rows = csvRows((await call(sim, EXPORT, { auth: { user: 'u1', password: 'p1' } })).body);
      expect(rows).toHaveLength(502);
      // Both types generated: nps-v1 with its own columns.
      const nps = (await call(sim, '/userfeedback/v1/export/default/nps-v1', { auth: { user: 'u1', password: 'p1' } })).text;
      expect(nps.startsWith('\uFEFF"Date";"Score";"Question";"Comment";')).toBe(true);
      expect(nps.split(/\r(?!\n)/).length - 2).toBe(500);
      const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 2 with one line naming the bad option', async () => {
    const child = cli(['--feedback-rows', 'many']);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('ox-batch: --feedback-rows "many": expected an integer >= 0');
    const badType = cli(['--feedback-rows', '5', '--type', 'star-rating-v1,thumbs-v9']);
    let typeError = '';
    badType.stderr!.on('data', (d: Buffer) => (typeError += d.toString()));
    expect(await new Promise<number | null>((resolve) => badType.once('exit', resolve))).toBe(2);
    expect(typeError.trim()).toBe('ox-batch: --type "star-rating-v1,thumbs-v9": expected star-rating-v1, nps-v1 or a comma list of them');
  });
});
