import { describe, expect, it } from 'vitest';
import { parseCatalog, CatalogError, formatOfLocation } from '../../src/ads/parse-catalog.js';
import { configHash, canonicalJson } from '../../src/ads/canonical-json.js';
import { entryKey, targetOfKey } from '../../src/ads/catalog.js';
import { isInputError } from '../../src/errors.js';

const yaml = (text: string) => parseCatalog(text, { source: 'c.yaml', format: 'yaml' });
const json = (text: string) => parseCatalog(text, { source: 'c.json', format: 'json' });
const csv = (text: string) => parseCatalog(text, { source: 'c.csv', format: 'csv' });

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogError);
    expect(isInputError(err)).toBe(true);
    return (err as CatalogError).problems;
  }
  throw new Error('expected a CatalogError');
}

const GOOD_YAML = `
resellers:
  acme:
    packages:
      gold:   { config: { banner: "https://ads.example/gold.json", frequency: 3 } }
      silver: { config: { banner: "https://ads.example/silver.json" } }
  "":
    packages:
      "": { config: "plain" }
users:
  - { contextId: 42, userId: 7,      config: { banner: "none" } }
  - { contextId: 42, login: "alice", config: { banner: "https://ads.example/vip.json" } }
`;

describe('catalog parsing', () => {
  it('reads YAML into keyed, hashed entries; empty names mean default', () => {
    const catalog = yaml(GOOD_YAML);
    expect(catalog.entries.map((e) => e.key)).toEqual([
      'package:acme/gold',
      'package:acme/silver',
      'package:default/default',
      'user:42/7',
      'name:42/alice',
    ]);
    const gold = catalog.entries[0]!;
    expect(gold).toMatchObject({
      scope: 'package',
      reseller: 'acme',
      package: 'gold',
      config: { banner: 'https://ads.example/gold.json', frequency: 3 },
    });
    expect(gold.hash).toBe(configHash({ frequency: 3, banner: 'https://ads.example/gold.json' }));
    expect(catalog.entries[2]).toMatchObject({ reseller: 'default', package: 'default' });
  });

  it('gives the same entries for the same catalog in JSON and CSV', () => {
    const fromJson = json(
      JSON.stringify(
        {
          resellers: { acme: { packages: { gold: { config: { frequency: 3, banner: 'https://ads.example/gold.json' } } } } },
          users: [
            { contextId: 42, userId: 7, config: { banner: 'none' } },
            { contextId: 42, login: 'alice', config: 'x' },
          ],
        },
        null,
        2,
      ),
    );
    const fromCsv = csv(
      [
        'scope,reseller,package,context_id,user_id,login,config',
        'package,acme,gold,,,,"{""banner"":""https://ads.example/gold.json"",""frequency"":3}"',
        'user,,,42,7,,"{""banner"":""none""}"',
        '# a comment line',
        'name,,,42,,alice,"""x"""',
        '',
      ].join('\n'),
    );
    const strip = (c: typeof fromJson) => c.entries.map(({ key, hash }) => ({ key, hash }));
    expect(strip(fromCsv)).toEqual(strip(fromJson));
    expect(fromCsv.entries[1]!.origin).toBe('line 3');
  });

  it('accepts semicolon CSV as spreadsheets in Europe save it, blanks around names, a BOM', () => {
    const catalog = csv(
      '\uFEFFscope;reseller;package;context_id;user_id;login;config\r\nPackage; acme ;gold ; ;;;"{""a"":1}"\r\nname;;;42;; bob ;2\r\n',
    );
    expect(catalog.entries.map((e) => [e.key, e.config])).toEqual([
      ['package:acme/gold', { a: 1 }],
      ['name:42/bob', 2],
    ]);
  });

  it('rejects duplicate YAML keys instead of keeping the last', () => {
    const problems = problemsOf(() => yaml('resellers:\n  acme:\n    packages:\n      gold: { config: 1 }\n      gold: { config: 2 }\n'));
    expect(problems).toEqual(['c.yaml:5: duplicate key "gold"']);
  });

  it('rejects duplicate JSON keys, at any depth, with lines', () => {
    const problems = problemsOf(() =>
      json('{\n "resellers": {"acme": {"packages": {"gold": {"config": {"a": 1,\n "a": 2}}}}},\n "users": [], "users": []\n}'),
    );
    expect(problems).toEqual([
      'c.json:3: resellers.acme.packages.gold.config.a: duplicate key (first at line 2)',
      'c.json:4: users: duplicate key (first at line 4)',
    ]);
  });

  it('lists every type problem of the whole file with line and path', () => {
    const problems = problemsOf(() =>
      yaml(
        [
          'resellers:',
          '  acme:',
          '    pakages:',
          '      gold: { config: 1 }',
          '  beta:',
          '    packages:',
          '      a: { config: null }',
          '      b: {}',
          'users:',
          '  - { contextId: 42, userId: 7, config: 1 }',
          '  - { contextId: "42", login: alice, config: 2 }',
          '  - { contextId: 42, userId: 7, login: bob, config: 3 }',
          '  - { contextId: 42, userId: -1, config: 4 }',
          'groups: []',
        ].join('\n'),
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'c.yaml:3: resellers.acme: Unrecognized key: "pakages"',
        'c.yaml:7: resellers.beta.packages.a.config: null is not a config; remove the entry to delete its config',
        'c.yaml:8: resellers.beta.packages.b.config: required',
        'c.yaml:11: users[1].contextId: expected a context id (positive integer)',
        'c.yaml:12: users[2].userId: set exactly one of userId or login',
        expect.stringMatching(/^c\.yaml:13: users\[3\]\.userId: /),
        expect.stringMatching(/^c\.yaml:1: Unrecognized key: "groups"/),
      ]),
    );
  });

  it('reports duplicate keys, type errors, bad rows and duplicate entries of one file together', () => {
    expect(
      problemsOf(() => yaml('users:\n  - { contextId: 1, userId: 2, config: 1, config: 2 }\n  - { contextId: x, userId: 2, config: 1 }\n')),
    ).toEqual(['c.yaml:2: duplicate key "config"', 'c.yaml:3: users[1].contextId: expected a context id (positive integer)']);
    expect(
      problemsOf(() =>
        json('{"users": [{"contextId": 1, "userId": 2, "config": 1, "config": 2},\n {"contextId": 1, "userId": 2, "config": 3}]}'),
      ),
    ).toEqual([
      'c.json:1: users[0].config: duplicate key (first at line 1)',
      'c.json:2: duplicate entry user:1/2 (first declared at c.json:1)',
    ]);
    expect(
      problemsOf(() => csv('scope,reseller,package,context_id,user_id,login,config\nuser,,,1,2,,1\nuser,,,1,x,,1\nuser,,,1,2,,3\n')),
    ).toEqual(['c.csv:3: user_id: expected a user id (positive integer)', 'c.csv:4: duplicate entry user:1/2 (first declared at c.csv:2)']);
  });

  it('names the line of broken YAML and JSON syntax', () => {
    expect(problemsOf(() => yaml('resellers:\n  acme: [unclosed\n'))[0]).toMatch(/^c\.yaml:\d+: not valid YAML/);
    expect(problemsOf(() => json('{\n "resellers": {\n }, oops\n}'))[0]).toMatch(/^c\.json:3: not valid JSON/);
  });

  it('lists every bad CSV row: wrong field count, bad id, bad JSON config, unknown scope, stray columns', () => {
    const problems = problemsOf(() =>
      csv(
        [
          'scope,reseller,package,context_id,user_id,login,config',
          'package,acme,gold,,,,1',
          'user,,,42,seven,,1',
          'name,,,42,,alice,{not json',
          'group,,,42,7,,1',
          'user,,,42,7,,1,extra',
          'package,acme,silver,42,,,1',
          'user,,,42,8,,',
        ].join('\n'),
      ),
    );
    expect(problems).toEqual([
      'c.csv:3: user_id: expected a user id (positive integer)',
      expect.stringMatching(/^c\.csv:4: config: not JSON/),
      'c.csv:5: scope: scope must be package, user or name',
      'c.csv:6: row has 8 fields, the header has 7',
      'c.csv:7: context_id: must be empty for scope package',
      'c.csv:8: config: expected a JSON config, found an empty cell',
    ]);
  });

  it('rejects a CSV header without the agreed columns, and unclosed quotes', () => {
    expect(problemsOf(() => csv('scope,reseller,package,config,colour\n'))).toEqual([
      'c.csv:1: header: missing column(s) context_id, user_id, login (expected scope,reseller,package,context_id,user_id,login,config)',
      'c.csv:1: header: unknown column(s) colour',
    ]);
    expect(problemsOf(() => csv('scope,reseller,package,context_id,user_id,login,config\npackage,acme,"gold,,,,1\n'))[0]).toMatch(
      /^c\.csv:2: not valid CSV/,
    );
  });

  it('rejects two entries for the same target, also across "" and default', () => {
    expect(
      problemsOf(() =>
        yaml(
          'resellers:\n  "":\n    packages:\n      gold: { config: 1 }\n  default:\n    packages:\n      gold: { config: 2 }\nusers:\n  - { contextId: 1, login: a, config: 1 }\n  - { contextId: 1, login: a, config: 2 }\n',
        ),
      ),
    ).toEqual([
      'c.yaml:7: duplicate entry package:default/gold (first declared at c.yaml:4)',
      'c.yaml:10: duplicate entry name:1/a (first declared at c.yaml:9)',
    ]);
    expect(problemsOf(() => csv('scope,reseller,package,context_id,user_id,login,config\nuser,,,1,2,,1\nuser,,,1,2,,1\n'))).toEqual([
      'c.csv:3: duplicate entry user:1/2 (first declared at c.csv:2)',
    ]);
  });

  it('takes the format from the name, also of URLs with a query', () => {
    expect(formatOfLocation('s3://bucket/ads/catalog.YML')).toBe('yaml');
    expect(formatOfLocation('https://u:p@cms.example/export/catalog.csv?token=x')).toBe('csv');
    expect(formatOfLocation('/srv/catalog.json')).toBe('json');
    expect(() => formatOfLocation('catalog.txt')).toThrow(/unknown format; the name must end in \.yaml, \.yml, \.json or \.csv/);
  });

  it('an empty file is an empty catalog (the sync guard decides what that means)', () => {
    expect(yaml('').entries).toEqual([]);
    expect(json('{}').entries).toEqual([]);
  });
});

describe('canonical JSON and entry keys', () => {
  it('hashes configs independent of key order, but not of values', () => {
    expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: 'x' })).toBe('{"a":"x","b":[1,{"c":2,"d":1}]}');
    expect(configHash({ a: 1, b: 2 })).toBe(configHash({ b: 2, a: 1 }));
    expect(configHash({ a: 1 })).not.toBe(configHash({ a: '1' }));
  });

  it('round-trips keys with awkward names', () => {
    for (const target of [
      { scope: 'package', reseller: 'a/b c%2F', package: 'x:y/z' },
      { scope: 'user', contextId: 42, userId: 7 },
      { scope: 'name', contextId: 42, login: 'alice@example.com/x' },
    ] as const) {
      expect(targetOfKey(entryKey(target))).toEqual(target);
    }
    expect(entryKey({ scope: 'name', contextId: 42, login: 'ceo@acme.example' })).toBe('name:42/ceo@acme.example');
  });
});

describe('shipped examples', () => {
  it('config/catalog.example.yaml and .csv are valid and describe the same entries', async () => {
    const { loadCatalog } = await import('../../src/ads/catalog-source.js');
    const yamlCatalog = await loadCatalog('config/catalog.example.yaml');
    const csvCatalog = await loadCatalog('config/catalog.example.csv');
    expect(yamlCatalog.entries).toHaveLength(10);
    expect(new Set(yamlCatalog.entries.map((e) => e.scope))).toEqual(new Set(['package', 'user', 'name']));
    const strip = (c: typeof yamlCatalog) => c.entries.map(({ key, hash }) => ({ key, hash }));
    expect(strip(csvCatalog)).toEqual(strip(yamlCatalog));
  });
});
