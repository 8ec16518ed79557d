/**
 * `redis.url` may name a Sentinel-managed primary: ioredis asks the sentinels where it is. A real
 * primary and a real sentinel (`redis-server --sentinel`) on ports of their own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { startChild } from '../helpers/child.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { InputError } from '../../src/errors.js';
import { RedisLedger } from '../../src/ledger/redis-ledger.js';
import { loadConfig } from '../../src/config/load-config.js';
import { silentLogger } from '../../src/log/logger.js';
import { safeUrl } from '../../src/log/secrets.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { enqueueWindows } from '../../src/queue/enqueue.js';
import { closeRedis, createRedis } from '../../src/redis/connection.js';
import { redisTarget } from '../../src/redis/target.js';
import { freePort, testConfig, testPrefix, waitFor } from './helpers.js';
import { testKinds, windowNoop } from './test-jobs.js';

describe('redis+sentinel:// URLs', () => {
  it('are read into sentinels, primary name, credentials, db and TLS', () => {
    expect(redisTarget('redis://:pw@h:6379/2')).toEqual({ url: 'redis://:pw@h:6379/2' });
    expect(redisTarget('redis+sentinel://s1,s2:26380,[::1]:26381/mymaster')).toEqual({
      options: {
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26380 },
          { host: '::1', port: 26381 },
        ],
        name: 'mymaster',
      },
    });
    expect(redisTarget('rediss+sentinel://ox%40batch:p%3Aw@s1/main/3?sentinelPassword=sp&sentinelUsername=su')).toEqual({
      options: {
        sentinels: [{ host: 's1', port: 26379 }],
        name: 'main',
        username: 'ox@batch',
        password: 'p:w',
        db: 3,
        sentinelPassword: 'sp',
        sentinelUsername: 'su',
        tls: {},
        sentinelTLS: {},
        enableTLSForSentinelMode: true,
      },
    });
  });

  it('bad ones fail config loading with the field and without the secrets', () => {
    expect(() => redisTarget('redis+sentinel://s1')).toThrow(InputError);
    expect(() => redisTarget('redis+sentinel://s1:0/m')).toThrow(/sentinel "s1:0": port 0 is out of range/);
    expect(() => redisTarget('redis+sentinel://s1/m?password=x')).toThrow(/unknown option "password"/);
    const load = (url: string) => () =>
      loadConfig({ env: { REDIS_URL: url }, overrides: { ox: { url: 'http://ox', user: 'u', password: 'p' } } });
    expect(load('redis+sentinel://:topsecret@s1:70000/m')).toThrow(
      /^config: redis\.url \(from REDIS_URL\) = redis\+sentinel:\/\/\*\*\*@s1:70000\/m: sentinel "s1:70000": port 70000 is out of range$/,
    );
    expect(load('redis+sentinel://s1/m?sentinelPassword=topsecret&db=1')).toThrow(/sentinelPassword=\*\*\*/);
    expect(load('redis+sentinel://s1/m?sentinelPassword=topsecret&db=1')).not.toThrow(/topsecret/);
    expect(safeUrl('redis+sentinel://u:topsecret@a:1,b:2/m?sentinelPassword=topsecret')).toBe(
      'redis+sentinel://***@a:1,b:2/m?sentinelPassword=***',
    );
  });
});

describe('through a real sentinel', () => {
  let dir: string;
  let primary: ChildProcess;
  let replica: ChildProcess;
  let sentinel: ChildProcess;
  let primaryPort: number;
  let replicaPort: number;
  let sentinelPort: number;
  let url: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oxb-sentinel-'));
    primaryPort = await freePort();
    replicaPort = await freePort();
    sentinelPort = await freePort();
    const server = (port: number, ...more: string[]) =>
      startChild(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...more],
        { stdio: 'ignore', timeoutMs: 600_000 },
      ).process;
    primary = server(primaryPort);
    replica = server(replicaPort, '--replicaof', '127.0.0.1', String(primaryPort));
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor oxbtest 127.0.0.1 ${primaryPort} 1\nsentinel down-after-milliseconds oxbtest 1000\nsentinel failover-timeout oxbtest 3000\n`,
    );
    sentinel = startChild('redis-server', [conf, '--sentinel'], { stdio: 'ignore', timeoutMs: 600_000 }).process;
    url = `redis+sentinel://127.0.0.1:${sentinelPort}/oxbtest`;
    const probe = new Redis(sentinelPort, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    probe.on('error', () => undefined);
    await waitFor(
      async () => {
        const addr = (await probe.call('SENTINEL', 'get-master-addr-by-name', 'oxbtest').catch(() => null)) as string[] | null;
        return addr?.[1] === String(primaryPort);
      },
      'the sentinel to know the primary',
      10_000,
      100,
    );
    probe.disconnect();
  });
  afterAll(() => {
    sentinel?.kill('SIGKILL');
    replica?.kill('SIGKILL');
    primary?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects to the primary the sentinel names', async () => {
    const client = createRedis(url, 'command', silentLogger(), 'oxb-sentinel-test');
    try {
      await client.set('oxb-sentinel-test', 'here');
      expect(await client.get('oxb-sentinel-test')).toBe('here');
      expect(await client.info('server')).toContain(`tcp_port:${primaryPort}`);
    } finally {
      await closeRedis(client);
    }
  });

  it('a daemon on it runs a window and records it in the ledger', async () => {
    const prefix = testPrefix();
    const config = testConfig(prefix, { redis: { url, prefix } });
    const daemon = await Daemon.start({
      config,
      kinds: testKinds,
      role: 'worker',
      port: null,
      log: silentLogger(),
      connectTimeoutMs: 10_000,
    });
    const window = { start: Date.UTC(2026, 4, 1), end: Date.UTC(2026, 4, 2) };
    try {
      const ledger = new RedisLedger(daemon.redis, prefix);
      await enqueueWindows({ queue: daemon.jobsQueue, ledger, config }, [
        { scheduleId: windowNoop.name, kind: windowNoop, window, params: {}, attempts: 1 },
      ]);
      const record = await waitFor(async () => {
        const r = await ledger.getWindow({ scheduleId: windowNoop.name, ...window });
        return r?.state === 'done' ? r : undefined;
      }, 'the window done');
      expect(record.result).toMatchObject({ rows: 1 });
    } finally {
      await daemon.stop({ graceMs: 100 });
    }
    // The keys are on the sentinel's primary, not on the shared test Redis.
    const direct = new Redis(primaryPort, '127.0.0.1');
    expect(await direct.exists(`${prefix}:ledger:w:test.window:${window.start}`)).toBe(1);
    direct.disconnect();
  });

  it('follows the primary through a failover: a write the demoted primary refuses goes to the new one', { timeout: 60_000 }, async () => {
    const client = createRedis(url, 'command', silentLogger(), 'oxb-failover-test');
    const sentinelClient = new Redis(sentinelPort, '127.0.0.1');
    try {
      await client.set('oxb-failover', 'before');
      const replicaClient = new Redis(replicaPort, '127.0.0.1');
      await waitFor(
        async () => (await replicaClient.info('replication')).includes('master_link_status:up'),
        'the replica to sync',
        10_000,
        100,
      );
      replicaClient.disconnect();
      // The sentinel learns of replicas from the primary's INFO (every 10 s at first).
      await waitFor(
        async () => {
          const replicas = (await sentinelClient.call('SENTINEL', 'REPLICAS', 'oxbtest')) as string[][];
          return replicas.some((fields) => fields.includes(String(replicaPort)) && fields[fields.indexOf('flags') + 1] === 'slave');
        },
        'the sentinel to know the replica',
        20_000,
        200,
      );
      await sentinelClient.call('SENTINEL', 'FAILOVER', 'oxbtest');
      await waitFor(
        async () => ((await sentinelClient.call('SENTINEL', 'get-master-addr-by-name', 'oxbtest')) as string[])[1] === String(replicaPort),
        'the sentinel to promote the replica',
        15_000,
        100,
      );
      const old = new Redis(primaryPort, '127.0.0.1');
      await waitFor(async () => (await old.info('replication')).includes('role:slave'), 'the old primary to be demoted', 15_000, 100);
      old.disconnect();
      await client.set('oxb-failover', 'after');
      expect(await client.get('oxb-failover')).toBe('after');
      expect(await client.info('server')).toContain(`tcp_port:${replicaPort}`);
    } finally {
      sentinelClient.disconnect();
      await closeRedis(client);
    }
  });
});
