/**
 * Small things an operator trips over, each through the CLI where it shows: NO_COLOR, a
 * year-month read in the schedule's zone whatever the process TZ, AWS_REGION, one cron-parser,
 * aligned @bull-board packages, engines, and the shipped JSON Schema of the config.
 */
import { startChild } from '../helpers/child.js';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { loadConfig } from '../../src/config/load-config.js';
import { CONFIG_SCHEMA_FILE, configJsonSchemaText } from '../../src/config/json-schema.js';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { REDIS_URL, ROOT, deleteKeys, plainRedis, testPrefix } from '../daemon/helpers.js';

let cli: { entry: string; dispose(): void };
beforeAll(async () => {
  cli = await bundleCli();
});
afterAll(() => cli?.dispose());

describe('a year-month is read in the schedule zone, whatever TZ the process has', () => {
  const prefix = testPrefix();
  const redis = plainRedis();
  const zonePrefix = (tz: string) => `${prefix}-${tz.replace('/', '-')}`;
  const zones = ['America/New_York', 'Asia/Tokyo', 'UTC'];
  afterAll(async () => {
    // Each zone's backfill queued under a prefix of its own.
    for (const tz of zones) await deleteKeys(redis, zonePrefix(tz));
    await redis.quit();
  });

  for (const tz of zones) {
    it(`backfill --from 2025-11 --to 2025-12 with TZ=${tz}`, async () => {
      const config = join(ROOT, 'config', 'schedules.example.yaml');
      const result = await runCli(cli.entry, ['--config', config, 'backfill', 'feedback-daily', '--from', '2025-11', '--to', '2025-12'], {
        TZ: tz,
        REDIS_URL,
        OXB_REDIS_PREFIX: zonePrefix(tz),
      });
      expect(result.stderr).not.toMatch(/error/i);
      expect(result.code).toBe(0);
      const jobs = (JSON.parse(result.stdout.toString()) as { jobs: Array<{ start: string; end: string }> }).jobs;
      // feedback-daily runs in Europe/Berlin: November there starts at 23:00 UTC the day before.
      expect(jobs).toHaveLength(30);
      expect(jobs[0]!.start).toBe('2025-10-31T23:00:00.000Z');
      expect(jobs.at(-1)!.end).toBe('2025-11-30T23:00:00.000Z');
    });
  }
});

describe('NO_COLOR', () => {
  const colorPrefixes: string[] = [];
  afterAll(async () => {
    const redis = plainRedis();
    for (const used of colorPrefixes) await deleteKeys(redis, used);
    await redis.quit();
  });

  /** Runs the CLI on a terminal (util-linux `script` gives it a pty), where logs are pretty. */
  function onTerminal(env: Record<string, string>): Promise<string> {
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(cli.entry)} run feedback.export --start 2025-01-01T00:00:00Z --end 2025-01-02T00:00:00Z`;
    const colorPrefix = `${testPrefix()}-color`;
    colorPrefixes.push(colorPrefix);
    const child = startChild('script', ['-qec', command, '/dev/null'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: '/tmp',
        TERM: 'xterm',
        REDIS_URL,
        OXB_REDIS_PREFIX: colorPrefix,
        OX_URL: 'http://127.0.0.1:9',
        LOG_LEVEL: 'info',
        ...env,
      },
      timeoutMs: 60_000,
    });
    return child.exited.then(() => child.output());
  }

  it('colours pretty logs at a terminal, and not when NO_COLOR is set', async () => {
    const coloured = await onTerminal({});
    expect(coloured).toMatch(/job failed/);
    expect(coloured).toMatch(/\u001b\[\d+m/);
    const plain = await onTerminal({ NO_COLOR: '1' });
    expect(plain).toMatch(/job failed/);
    expect(plain).not.toMatch(/\u001b\[\d+m/);
  }, 60_000);
});

describe('AWS_REGION', () => {
  it('is the archive region when archive.region and S3_REGION are not set', () => {
    expect(loadConfig({ env: {} }).archive.region).toBe('us-east-1');
    expect(loadConfig({ env: { AWS_REGION: 'eu-central-1' } }).archive.region).toBe('eu-central-1');
    expect(loadConfig({ env: { AWS_DEFAULT_REGION: 'eu-west-3' } }).archive.region).toBe('eu-west-3');
    expect(loadConfig({ env: { AWS_REGION: 'eu-central-1', S3_REGION: 'ap-south-1' } }).archive.region).toBe('ap-south-1');
    expect(loadConfig({ env: { AWS_REGION: 'eu-central-1' }, overrides: { archive: { region: 'us-west-2' } } }).archive.region).toBe(
      'us-west-2',
    );
  });
});

describe('dependencies', () => {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; engines?: { node?: string } }>;
  };
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    engines: { node: string };
    dependencies: Record<string, string>;
  };
  const copies = (name: string) =>
    Object.entries(lock.packages)
      .filter(([path]) => path.endsWith(`node_modules/${name}`))
      .map(([, p]) => p.version);

  it('has one cron-parser, the one BullMQ uses to fire the schedules', () => {
    const bullmq = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'bullmq', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(copies('cron-parser')).toEqual([bullmq.dependencies['cron-parser']]);
  });

  it('has one version of every @bull-board package', () => {
    const versions = new Set(['@bull-board/api', '@bull-board/express', '@bull-board/ui'].flatMap(copies));
    expect(versions.size).toBe(1);
  });

  it('engines.node is at least the highest minimum any production dependency declares', () => {
    const minimum = (range: string) =>
      /(\d+)(?:\.(\d+))?(?:\.(\d+))?/
        .exec(range.split('||').at(-1)!)!
        .slice(1)
        .map((n) => Number(n ?? 0));
    const compare = (a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]! || (a[2] ?? 0) - (b[2] ?? 0);
    const ours = minimum(pkg.engines.node);
    const theirs = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.engines?.node && !(p as { dev?: boolean }).dev);
    expect(theirs.length).toBeGreaterThan(10);
    for (const [path, p] of theirs) {
      const range = p.engines!.node!;
      if (!/\d/.test(range)) continue;
      expect(compare(ours, minimum(range)), `${path} needs node ${range}; engines says ${pkg.engines.node}`).toBeGreaterThanOrEqual(0);
    }
    expect(pkg.engines.node).toBe('>=20.18.1');
  });
});

describe('JSON Schema of the config', () => {
  const shipped = readFileSync(join(ROOT, CONFIG_SCHEMA_FILE), 'utf8');
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  const validate = ajv.compile(JSON.parse(shipped) as object);
  const configFiles = [
    ...readdirSync(join(ROOT, 'config'))
      .filter((f) => f.endsWith('.yaml') && !f.startsWith('catalog'))
      .map((f) => join('config', f)),
    'deploy/kubernetes/config.yaml',
  ];

  it('is what the zod schema generates today (npm run generate writes it)', () => {
    expect(shipped).toBe(configJsonSchemaText());
  });

  it('is named by every config file for editor completion, and every config file passes it', () => {
    expect(configFiles.length).toBeGreaterThanOrEqual(3);
    for (const file of configFiles) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const ref = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text)?.[1];
      expect(ref, file).toBeDefined();
      expect(join(ROOT, file, '..', ref!), file).toBe(join(ROOT, CONFIG_SCHEMA_FILE));
      expect(validate(parseYaml(text)), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it('flags the mistakes an editor should underline', () => {
    expect(validate({ worker: { concurrency: 'four' } })).toBe(false);
    expect(validate({ schedules: { nightly: { cron: '0 2 * * *' } } })).toBe(false); // no job
    expect(validate({ archive: { kind: 'ftp' } })).toBe(false);
    expect(validate({ schedules: { nightly: { job: 'feedback.export', cron: '0 2 * * *', window: '1d', lag: '10m' } } })).toBe(true);
  });
});
