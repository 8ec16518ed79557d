/**
 * Redis connections as BullMQ wants them (see docs: bullmq-notes): workers block and must
 * retry forever (`maxRetriesPerRequest: null`); producers (CLI, ticks) fail fast instead of
 * queueing commands while Redis is down; every client reconnects with capped backoff.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { safeUrl } from '../log/secrets.js';
import { redisTarget } from './redis-target.js';

export type ConnectionRole = 'worker' | 'producer' | 'command';

const ROLE_OPTIONS: Record<ConnectionRole, RedisOptions> = {
  // Blocking commands and lock renewal: wait for Redis to come back.
  worker: { maxRetriesPerRequest: null, enableOfflineQueue: true },
  // Adding jobs: an error at once beats a CLI that hangs while Redis is down.
  producer: { maxRetriesPerRequest: 1, enableOfflineQueue: false },
  // The ledger and status reads: ride out a short blip, then fail.
  command: { maxRetriesPerRequest: 20, enableOfflineQueue: true },
};

export function redisOptions(role: ConnectionRole): RedisOptions {
  return {
    ...ROLE_OPTIONS[role],
    // Reconnect forever with a capped delay; a Redis restart must not end the daemon.
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 6), 5_000),
    connectTimeout: 10_000,
    lazyConnect: false,
  };
}

export function createRedis(url: string, role: ConnectionRole, log?: Logger, name?: string): Redis {
  const target = redisTarget(url);
  const options: RedisOptions = { ...redisOptions(role), connectionName: name };
  // A Sentinel-managed primary is looked up through the sentinels at every (re)connect; a
  // failover drops the demoted primary's clients, so they reconnect to the new one.
  const client = 'url' in target ? new Redis(target.url, options) : new Redis({ ...target.options, ...options });
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

/** `quit` when possible, `disconnect` when Redis is gone (quit would wait for it). */
export async function closeRedis(client: Redis, timeoutMs = 2_000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    if ((client.status as string) !== 'end') client.disconnect();
  }
}

/** Deletes every key under `prefix` (ledger and BullMQ queues of one deployment or test). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}
