/**
 * Redis connections as BullMQ wants them (see docs: bullmq-notes): workers block and must
 * retry forever (`maxRetriesPerRequest: null`); producers (CLI, ticks) fail fast instead of
 * queueing commands while Redis is down; every client reconnects with capped backoff.
 * A `redis+cluster://` URL gets an ioredis `Cluster` with the same per-role behaviour; every
 * other caller sees one `RedisClient` either way.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { safeUrl } from '../log/secrets.js';
import { redisTarget, type ClusterTarget } from './target.js';

/** A connection to a Redis server, a Sentinel-managed primary or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export type ConnectionRole = 'worker' | 'producer' | 'command';

const ROLE_OPTIONS: Record<ConnectionRole, RedisOptions> = {
  // Blocking commands and lock renewal: wait for Redis to come back.
  worker: { maxRetriesPerRequest: null, enableOfflineQueue: true },
  // Adding jobs: an error at once beats a CLI that hangs while Redis is down.
  producer: { maxRetriesPerRequest: 1, enableOfflineQueue: false },
  // The ledger and status reads: ride out a short blip, then fail.
  command: { maxRetriesPerRequest: 20, enableOfflineQueue: true },
};

/** Reconnect forever with a capped delay; a Redis restart must not end the daemon. */
const reconnectDelay = (times: number): number => Math.min(200 * 2 ** Math.min(times, 6), 5_000);

export function redisOptions(role: ConnectionRole): RedisOptions {
  return {
    ...ROLE_OPTIONS[role],
    retryStrategy: reconnectDelay,
    connectTimeout: 10_000,
    lazyConnect: false,
  };
}

/**
 * A Cluster client for one role. BullMQ needs `maxRetriesPerRequest: null` on the nodes of a
 * worker's (blocking) connection and checks it in `redisOptions`. A command that meets a failover
 * (connection closed, CLUSTERDOWN, TRYAGAIN) is retried every `retryDelayOn…` ms up to
 * `maxRedirections` times: about 15 s, longer than a replica takes to be promoted, so a
 * failover costs a pause, not an error. Reads go to masters only: the ledger must read its writes.
 */
export function clusterOptions(target: ClusterTarget, role: ConnectionRole, name?: string): ClusterOptions {
  const { enableOfflineQueue, maxRetriesPerRequest } = ROLE_OPTIONS[role];
  return {
    ...target.options,
    enableOfflineQueue,
    enableReadyCheck: true,
    scaleReads: 'master',
    clusterRetryStrategy: reconnectDelay,
    retryDelayOnFailover: 250,
    retryDelayOnClusterDown: 250,
    retryDelayOnTryAgain: 250,
    maxRedirections: 60,
    lazyConnect: false,
    redisOptions: { ...target.options.redisOptions, maxRetriesPerRequest, connectTimeout: 10_000, connectionName: name },
  };
}

export function createRedis(url: string, role: ConnectionRole, log?: Logger, name?: string): RedisClient {
  const target = redisTarget(url);
  let client: RedisClient;
  if ('cluster' in target) {
    client = new Cluster(target.cluster.nodes, clusterOptions(target.cluster, role, name));
  } else {
    const options: RedisOptions = { ...redisOptions(role), connectionName: name };
    // A Sentinel-managed primary is looked up through the sentinels at every (re)connect; a
    // failover drops the demoted primary's clients, so they reconnect to the new one.
    client = 'url' in target ? new Redis(target.url, options) : new Redis({ ...target.options, ...options });
  }
  let reported = false;
  // An `error` listener is mandatory: without one, ioredis errors crash the process.
  client.on('error', (err: Error) => {
    if (!reported) log?.warn({ redis: safeUrl(url), role, err: { message: err.message } }, 'redis connection error');
    reported = true;
  });
  client.on('ready', () => {
    if (reported) log?.info({ redis: safeUrl(url), role }, 'redis connection ready again');
    reported = false;
  });
  return client;
}

export function isCluster(client: RedisClient): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/** `quit` when possible, `disconnect` when Redis is gone (quit would wait for it). */
export async function closeRedis(client: RedisClient, timeoutMs = 2_000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    if ((client.status as string) !== 'end') client.disconnect();
  }
}
