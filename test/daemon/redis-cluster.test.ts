/**
 * `redis.url` may name a Redis Cluster (`redis+cluster://node,node`): every connection is an
 * ioredis Cluster, every key of a deployment sits in the slot of its prefix's hash tag. Tested
 * against a real cluster (three masters, one replica each, on free ports): the URL and prefix
 * rules through the CLI, SCAN-based clean-up across masters, and two `ox-batch start` processes
 * backfilling feedback.export windows while the master holding the deployment's slot is failed
 * over to its replica.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { startChild } from '../helpers/child.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { safeUrl, scrubText } from '../../src/log/secrets.js';
import { closeRedis, createRedis, isCluster, type RedisClient } from '../../src/redis/connection.js';
import { deleteKeysWithPrefix, keysWithPrefix } from '../../src/redis/keys.js';
import { hashTagOf, redisTarget } from '../../src/redis/target.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { windowsBetween } from '../../src/time/windows.js';
import { startSmtpCapture, type SmtpCapture } from '../delivery/helpers/smtp-capture.js';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { freePort, testPrefix, waitFor } from './helpers.js';
import { startCluster, type TestCluster } from './redis-cluster-kit.js';

const OX = { ox: { url: 'http://127.0.0.1:1', user: 'u', password: 'p' } };

describe('redis+cluster:// URLs', () => {
  it('are read into startup nodes, credentials, options and TLS', () => {
    const plain = redisTarget('redis+cluster://n1,n2:7001,[::1]:7002');
    expect(plain).toEqual({
      cluster: {
        nodes: [
          { host: 'n1', port: 6379 },
          { host: 'n2', port: 7001 },
          { host: '::1', port: 7002 },
        ],
        options: { redisOptions: {} },
      },
    });
    const tls = redisTarget('rediss+cluster://ox%40batch:p%3Aw@n1:6380/?slotsRefreshTimeout=2500');
    expect(tls).toMatchObject({
      cluster: {
        nodes: [{ host: 'n1', port: 6380 }],
        options: { slotsRefreshTimeout: 2500, redisOptions: { username: 'ox@batch', password: 'p:w', tls: {} } },
      },
    });
    // TLS nodes are connected to by the names they announce (their certificates carry them).
    const lookup = (tls as { cluster: { options: { dnsLookup: (a: string, cb: (e: null, addr: string) => void) => void } } }).cluster
      .options.dnsLookup;
    let resolved = '';
    lookup('node-1.cache.example', (_e, address) => {
      resolved = address;
    });
    expect(resolved).toBe('node-1.cache.example');
  });

  it('bad ones are config errors naming redis.url, without the secrets', () => {
    const load =
      (url: string, prefix = '{oxb}') =>
      () =>
        loadConfig({ env: { REDIS_URL: url, OXB_REDIS_PREFIX: prefix }, overrides: OX });
    expect(load('redis+cluster://:topsecret@n1:0')).toThrow(
      /^config: redis\.url \(from REDIS_URL\) = redis\+cluster:\/\/\*\*\*@n1:0: cluster node "n1:0": port 0 is out of range$/,
    );
    expect(load('redis+cluster://n1/3')).toThrow(/a cluster has no \/db/);
    expect(load('redis+cluster://:topsecret@n1?password=topsecret')).toThrow(/unknown option "password" \(known: slotsRefreshTimeout\)/);
    expect(load('redis+cluster://:topsecret@n1?password=topsecret')).not.toThrow(/topsecret/);
    expect(load('redis+cluster://n1?slotsRefreshTimeout=soon')).toThrow(/slotsRefreshTimeout "soon" is not a number of milliseconds/);
    expect(load('redis+cluster://n1:7000,n2:7001')().redis.url).toBe('redis+cluster://n1:7000,n2:7001');
  });

  it('need a hash tag in the prefix: all keys of a deployment in one slot', () => {
    const load =
      (prefix: string, url = 'redis+cluster://n1:7000') =>
      () =>
        loadConfig({ env: { REDIS_URL: url, OXB_REDIS_PREFIX: prefix }, overrides: OX });
    expect(load('oxb')).toThrow(
      /^config: redis\.prefix \(from OXB_REDIS_PREFIX\) = oxb: on Redis Cluster the prefix needs a hash tag, e\.g\. \{oxb\}/,
    );
    expect(load('ox{}b')).toThrow(/redis\.prefix .* needs a hash tag/);
    expect(load('}oxb{')).toThrow(/redis\.prefix .* needs a hash tag/);
    expect(load('{oxb}')().redis.prefix).toBe('{oxb}');
    expect(load('prod-{oxb}')().redis.prefix).toBe('prod-{oxb}');
    // A single server or a sentinel primary is one slot space: any prefix goes.
    expect(load('oxb', 'redis://127.0.0.1:6379')().redis.prefix).toBe('oxb');
    expect(hashTagOf('{a}{b}')).toBe('a');
    expect(hashTagOf('a{}b{c}')).toBeUndefined();
  });

  it('are scrubbed of their credentials wherever they are shown', () => {
    expect(safeUrl('redis+cluster://ox:topsecret@n1:7000,n2:7001?slotsRefreshTimeout=100')).toBe(
      'redis+cluster://***@n1:7000,n2:7001?slotsRefreshTimeout=100',
    );
    expect(safeUrl('rediss+cluster://:topsecret@n1')).toBe('rediss+cluster://***@n1');
    expect(scrubText('Redis at rediss+cluster://:topsecret@n1:7000,n2 is not reachable')).toBe(
      'Redis at rediss+cluster://***@n1:7000,n2 is not reachable',
    );
  });
});

describe('on a real Redis Cluster', () => {
  let cluster: TestCluster;
  let client: RedisClient;
  let bundle: Awaited<ReturnType<typeof bundleCli>>;
  let dir: string;
  beforeAll(async () => {
    [cluster, bundle] = await Promise.all([startCluster(), bundleCli()]);
    client = createRedis(cluster.url, 'command', undefined, 'oxbt-cluster');
    dir = mkdtempSync(join(tmpdir(), 'oxbt-cluster-test-'));
  }, 60_000);
  afterAll(async () => {
    if (client) await closeRedis(client);
    await cluster?.stop();
    bundle?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a prefix without a hash tag is refused by the CLI: one line naming the key, exit 2, nothing written', async () => {
    const prefix = testPrefix('redis://').replace(/[{}]/g, '');
    const result = await runCli(bundle.entry, ['backfill', 'hourly', '--from', '2026-01-01', '--to', '2026-01-02'], {
      REDIS_URL: `redis+cluster://:clusterSecr3t@127.0.0.1:${cluster.ports[0]}`,
      OXB_REDIS_PREFIX: prefix,
      OX_URL: 'http://127.0.0.1:1',
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^ox-batch: config: redis\.prefix \(from OXB_REDIS_PREFIX\) = oxbt-\w+: on Redis Cluster the prefix needs a hash tag/,
      ),
    ]);
    expect(result.stderr).not.toContain('clusterSecr3t');
    expect(await keysWithPrefix(client, prefix)).toEqual([]);
  });

  it('clean-up by SCAN visits every master', async () => {
    // Without a hash tag the keys spread over the masters: a SCAN of one node would miss most.
    const loose = testPrefix('redis://');
    for (let i = 0; i < 60; i += 1) await client.set(`${loose}:k${i}`, String(i));
    const holding = await Promise.all((client as import('ioredis').Cluster).nodes('master').map((n) => n.dbsize()));
    expect(holding.filter((n) => n > 0).length).toBe(3);
    expect((await keysWithPrefix(client, loose)).length).toBe(60);
    await deleteKeysWithPrefix(client, loose);
    expect(await keysWithPrefix(client, loose)).toEqual([]);
  });

  it(
    'two daemons backfill through a failover of the master holding the prefix: every window once, nothing lost, both keep going',
    { timeout: 90_000 },
    async () => {
      expect(isCluster(client)).toBe(true);
      const prefix = testPrefix(cluster.url);
      const from = Date.UTC(2026, 0, 1);
      const windows = windowsBetween('1h', 'UTC', from, from + 96 * 3_600_000);
      const smtp: SmtpCapture = await startSmtpCapture();
      // Each export is answered after 120 ms: the backfill takes seconds, long enough to fail over in.
      const sim = await OxSimulator.start({ faults: { latencyMs: 120 } });
      sim.generateFeedback({ rows: 96 * 20, from, to: windows.at(-1)!.end, seed: 16 });
      const archiveDir = join(dir, 'archive');
      const configFile = join(dir, 'cluster.yaml');
      writeFileSync(
        configFile,
        [
          `ox: { url: "${sim.url}", user: oxadmin, password: secret, retry: { attempts: 3, baseDelayMs: 50 } }`,
          `archive: { kind: fs, dir: "${archiveDir}" }`,
          `mail: { smtp: "${smtp.url}", from: ox-batch@example.com }`,
          'worker: { concurrency: 2, backoffMs: 200 }',
          'logging: { level: warn }',
          'schedules:',
          // Paused: no trigger (nor the catch-up at start) queues windows; they come from the backfill.
          '  hourly: { job: feedback.export, cron: "0 * * * *", window: 1h, paused: true, params: { deliver: [archive, mail], mailTo: team@example.com } }',
          '',
        ].join('\n'),
      );
      const env = { REDIS_URL: cluster.url, OXB_REDIS_PREFIX: prefix, OXB_CONFIG: configFile };
      const daemons: Array<{ child: ChildProcess; port: number; log: () => string }> = [];
      try {
        for (let i = 0; i < 2; i += 1) {
          const port = await freePort();
          const child = startChild(process.execPath, [bundle.entry, 'start', '--port', String(port)], {
            env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
            timeoutMs: 180_000,
          });
          daemons.push({ child: child.process, port, log: child.output });
        }
        const ready = (port: number) =>
          fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.status === 200,
            () => false,
          );
        for (const d of daemons) await waitFor(() => ready(d.port), `daemon on :${d.port} ready (${d.log()})`, 30_000, 100);
        const doneRuns = async (port: number) => {
          const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          const line = text
            .split('\n')
            .find(
              (l) =>
                l.startsWith('oxb_job_runs_total{') &&
                l.includes('"feedback.export"') &&
                l.includes('schedule="hourly"') &&
                l.includes('result="done"'),
            );
          return Number(line?.split(' ').at(-1) ?? 0);
        };

        const backfill = await runCli(
          bundle.entry,
          ['backfill', 'hourly', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-05T00:00:00Z'],
          env,
        );
        expect(backfill.code, backfill.stderr).toBe(0);

        const ledger = new RedisLedger(client, prefix);
        const doneCount = async () => (await ledger.listWindows('hourly')).filter((r) => r.state === 'done').length;
        await waitFor(async () => (await doneCount()) >= 15, 'the first windows done', 30_000, 50);
        // The master holding the deployment's slot (the prefix's hash tag) hands over to its replica.
        const shard = await cluster.shardOf(`${prefix}:ledger:schedules`);
        await cluster.failover(shard.replica);
        const atFailover = { done: await doneCount(), runs: await Promise.all(daemons.map((d) => doneRuns(d.port))) };
        expect(atFailover.done).toBeLessThan(windows.length);

        await waitFor(async () => (await doneCount()) === windows.length, 'every window done', 60_000, 100);
        // Nothing lost: every window done with exactly the rows OX holds for it, archived and verified.
        const records = await ledger.listWindows('hourly');
        expect(records.map((r) => r.start)).toEqual(windows.map((w) => w.start));
        for (const record of records) {
          const result = record.result as { rows: number; archive: { verifiedAt?: string } };
          expect(result.rows).toBe(sim.feedbackCount({ start: record.start, end: record.end }));
          expect(result.archive.verifiedAt).toBeDefined();
        }
        const archived = readdirSync(archiveDir, { recursive: true })
          .map(String)
          .filter((f) => f.endsWith('.csv'));
        expect(archived).toHaveLength(windows.length);
        // Exactly once: one mail per window, none twice.
        await waitFor(() => smtp.messages.length >= windows.length, 'the mails');
        const subjects = (await smtp.parsed()).map((m) => m.messageId);
        expect(new Set(subjects).size).toBe(windows.length);
        expect(smtp.messages).toHaveLength(windows.length);
        // Both daemons ran windows after the failover and are still ready.
        const after = await Promise.all(daemons.map((d) => doneRuns(d.port)));
        expect(after.reduce((a, b) => a + b, 0)).toBe(windows.length);
        after.forEach((runs, i) => expect(runs, `daemon ${i} after the failover`).toBeGreaterThan(atFailover.runs[i]!));
        for (const d of daemons) expect(await ready(d.port)).toBe(true);
        // The keys are on the promoted replica now, all in the prefix's slot.
        const promoted = cluster.node(shard.replica.port);
        expect(await promoted.exists(`${prefix}:ledger:schedules`)).toBe(1);
        const slots = new Set(
          await Promise.all((await keysWithPrefix(client, prefix)).slice(0, 50).map((k) => promoted.cluster('KEYSLOT', k))),
        );
        expect([...slots]).toEqual([shard.slot]);
        promoted.disconnect();
        for (const d of daemons) expect(d.log()).not.toMatch(/"level":(50|60)/);
      } finally {
        await Promise.all(
          daemons.map(
            ({ child }) =>
              new Promise<void>((resolve) => {
                if (child.exitCode !== null || child.signalCode !== null) return resolve();
                child.once('exit', () => resolve());
                child.kill('SIGTERM');
                setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
              }),
          ),
        );
        await deleteKeysWithPrefix(client, prefix);
        await sim.close();
        await smtp.close();
      }
    },
  );
});
