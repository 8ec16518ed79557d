/**
 * A real Redis Cluster for tests: three masters with one replica each (`redis-server
 * --cluster-enabled yes` on free ports, joined by `redis-cli --cluster create`), in a temp dir
 * of its own. `stop()` kills every server it started and removes the dir.
 */
import { runChild, startChild, type TestChild } from '../helpers/child.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './helpers.js';

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** A replica's master id. */
  masterId?: string;
  /** A master's slot ranges. */
  slots: Array<[number, number]>;
}

export interface TestCluster {
  ports: number[];
  /** `redis+cluster://127.0.0.1:<p1>,127.0.0.1:<p2>` (two startup nodes). */
  url: string;
  /** A direct connection to one node (closed by the caller). */
  node(port: number): Redis;
  nodes(): Promise<ClusterNodeInfo[]>;
  /** The master serving `key`'s slot and its replica. */
  shardOf(key: string): Promise<{ slot: number; master: ClusterNodeInfo; replica: ClusterNodeInfo }>;
  /** Promotes `replica` with CLUSTER FAILOVER (coordinated: no acknowledged write is lost) and waits until every node agrees. */
  failover(replica: ClusterNodeInfo): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(options: { masters?: number; replicasPerMaster?: number } = {}): Promise<TestCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'oxbt-cluster-'));
  const servers: TestChild[] = [];
  const ports: number[] = [];
  const clients: Redis[] = [];
  const stop = async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  };
  const node = (port: number) => {
    const client = new Redis(port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 2, retryStrategy: () => 100 });
    client.on('error', () => undefined);
    return client;
  };
  try {
    for (let i = 0; i < masters * (1 + replicas); i += 1) {
      const port = await freePort();
      ports.push(port);
      servers.push(
        startChild(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            '3000',
            '--save',
            '',
            '--appendonly',
            'no',
            '--dir',
            dir,
          ],
          { stdio: 'ignore', timeoutMs: 600_000 },
        ),
      );
    }
    const probes = ports.map(node);
    clients.push(...probes);
    await waitFor(
      async () =>
        (
          await Promise.all(
            probes.map((p) =>
              p.ping().then(
                () => true,
                () => false,
              ),
            ),
          )
        ).every(Boolean),
      'the cluster nodes to start',
      15_000,
      50,
    );
    const create = await runChild(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { timeoutMs: 30_000 },
    );
    if (create.code !== 0)
      throw new Error(
        `redis-cli --cluster create exited ${create.code}${create.timedOut ? ' (timed out)' : ''}: ${create.stderr}${create.stdout}`,
      );
    await waitFor(
      async () => (await Promise.all(probes.map(async (p) => (await p.cluster('INFO')).includes('cluster_state:ok')))).every(Boolean),
      'cluster_state:ok on every node',
      20_000,
      100,
    );
    await waitFor(
      async () => {
        const infos = await Promise.all(probes.map((p) => p.info('replication')));
        return (
          infos.filter((i) => i.includes('role:slave')).every((i) => i.includes('master_link_status:up')) &&
          infos.filter((i) => i.includes('role:slave')).length === masters * replicas
        );
      },
      'every replica in sync',
      20_000,
      100,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const admin = clients[0]!;

  const nodes = async (from: Redis = admin): Promise<ClusterNodeInfo[]> => {
    const text = (await from.cluster('NODES')) as string;
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [id, address, flags, masterId, , , , , ...slots] = line.split(' ');
        const port = Number(/:(\d+)@/.exec(address!)![1]);
        const role = flags!.includes('master') ? 'master' : 'replica';
        return {
          id: id!,
          port,
          role,
          ...(role === 'replica' ? { masterId: masterId! } : {}),
          slots: slots
            .filter((s) => !s.startsWith('['))
            .map((s) => {
              const [a, b] = s.split('-');
              return [Number(a), Number(b ?? a)] as [number, number];
            }),
        };
      });
  };

  return {
    ports,
    url: `redis+cluster://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`,
    node: (port) => node(port),
    nodes: () => nodes(),
    async shardOf(key) {
      const slot = Number(await admin.cluster('KEYSLOT', key));
      const all = await nodes();
      const master = all.find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b));
      const replica = all.find((n) => n.role === 'replica' && n.masterId === master?.id);
      if (!master || !replica) throw new Error(`no master with a replica serves slot ${slot}`);
      return { slot, master, replica };
    },
    async failover(replica) {
      const client = node(replica.port);
      clients.push(client);
      await client.cluster('FAILOVER');
      await waitFor(
        async () => {
          const views = await Promise.all(clients.slice(0, ports.length).map((c) => nodes(c).catch(() => [])));
          return views.every((view) => view.find((n) => n.id === replica.id)?.role === 'master');
        },
        `node ${replica.port} to be master on every node`,
        20_000,
        100,
      );
    },
    stop,
  };
}
