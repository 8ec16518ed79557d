import { runChild } from '../helpers/child.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdsHarness } from './ads-fixture.js';

/** Runs the real CLI (TypeScript through tsx) in a child process. */
function cli(h: AdsHarness, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // -1: killed at the timeout.
  return runChild(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: h.cliEnv(), timeoutMs: 100_000 }).then(
    ({ code, stdout, stderr }) => ({ code: code ?? -1, stdout, stderr }),
  );
}

const GOOD = `
resellers:
  acme:
    packages:
      gold: { config: { banner: "https://ads.example/gold.json" } }
      broken: { config: { __simulate: error } }
users:
  - { contextId: 42, userId: 7, config: { banner: none } }
`;

let h: AdsHarness;
beforeAll(async () => {
  h = await AdsHarness.start();
});
afterAll(async () => {
  await h.close();
});

describe('ox-batch ads plan|apply', () => {
  // Child processes under tsx: generous timeouts for a loaded CI machine.
  it('rejects invalid catalogs of every kind with exit 2, every problem listed, and zero OX requests', { timeout: 120_000 }, async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['bad.yaml', 'resellers:\n  acme: { packages: [\n', /bad\.yaml:\d+: not valid YAML/],
      [
        'dup.yaml',
        'resellers:\n  acme:\n    packages:\n      gold: { config: 1 }\n      gold: { config: 2 }\n',
        /dup\.yaml:5: duplicate key "gold"/,
      ],
      [
        'types.json',
        '{"users": [{"contextId": "42", "userId": 7, "config": 1}, {"contextId": 42, "userId": 1.5, "config": 1}]}',
        /types\.json:1: users\[0\]\.contextId: expected a context id[\s\S]*users\[1\]\.userId/,
      ],
      [
        'row.csv',
        'scope,reseller,package,context_id,user_id,login,config\nuser,,,42,7,,1\nuser,,,42,8\n',
        /row\.csv:3: row has 5 fields, the header has 7/,
      ],
      [
        'config.csv',
        'scope,reseller,package,context_id,user_id,login,config\npackage,acme,gold,,,,"{""banner"":"\nuser,,,42,7,,{oops}\n',
        /config\.csv:2: config: not JSON[\s\S]*config\.csv:3: config: not JSON/,
      ],
    ];
    const runs = await Promise.all(
      cases.map(async ([name, text]) => cli(h, ['ads', 'apply', '--catalog', await h.writeCatalog(name, text)])),
    );
    runs.forEach((run, i) => {
      expect(run.code, `${cases[i]![0]}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(cases[i]![2]);
    });
    expect(h.adRequests()).toEqual([]);
    expect(await h.appliedKeys()).toEqual([]);
  });

  it('plan prints counts and entries and changes nothing; apply exits 1 naming the entry OX failed', { timeout: 120_000 }, async () => {
    const file = await h.writeCatalog('catalog.yaml', GOOD);
    const plan = await cli(h, ['ads', 'plan', '--catalog', file]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/create\s+3/);
    expect(plan.stdout).toMatch(/create\s+package:acme\/gold\s+resellers\.acme\.packages\.gold/);
    const json = await cli(h, ['ads', 'plan', '--catalog', file, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      counts: { create: 3, toSend: 3 },
      create: [{ key: 'package:acme/gold' }, { key: 'package:acme/broken' }, { key: 'user:42/7' }],
    });
    expect(h.adRequests()).toEqual([]);
    expect(await h.appliedKeys()).toEqual([]);

    const apply = await cli(h, ['ads', 'apply', '--catalog', file]);
    expect(apply.code).toBe(1);
    expect(apply.stdout).toMatch(/created\s+2/);
    expect(apply.stdout).toMatch(/failed\s+1/);
    expect(apply.stderr).toMatch(/create package:acme\/broken .*OX reported ERROR/);
    expect(await h.appliedKeys()).toEqual(['package:acme/gold', 'user:42/7']);

    // The failed entry is pending: the next plan shows it, the next apply sends only it.
    const again = await cli(h, ['ads', 'plan', '--catalog', file, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ counts: { create: 1, unchanged: 2 } });
  });

  it('plan flags (exit 2) a catalog that apply would refuse', { timeout: 60_000 }, async () => {
    const file = await h.writeCatalog('empty.json', '{}');
    const plan = await cli(h, ['ads', 'plan', '--catalog', file]);
    expect(plan.code).toBe(2);
    expect(plan.stderr).toMatch(/apply would refuse this plan: .*has no entries/);
    const apply = await cli(h, ['ads', 'apply', '--catalog', file]);
    expect(apply.code).toBe(2);
  });
});
