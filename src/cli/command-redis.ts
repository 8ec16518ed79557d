import type { RedisClient } from '../redis/connection.js';

/** How long a command waits for Redis before it gives up with one line naming the URL. */
const REDIS_DEADLINE_MS = 10_000;

export interface CommandRedis {
  redis: RedisClient;
  /** Rejects with "Redis at <url> is not reachable" when Redis does not answer in time. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * The Redis client of one CLI command (ads plan/apply, run). Without a deadline, ioredis keeps
 * reconnecting and fails each command only after 20 retries with its own jargon; a person at a
 * terminal wants to hear within seconds that Redis at <url> does not answer.
 */
export async function commandRedis(url: string): Promise<CommandRedis> {
  const [{ createRedis, closeRedis }, { waitForRedis }] = await Promise.all([
    import('../redis/connection.js'),
    import('../redis/wait-for-redis.js'),
  ]);
  // No logger: the one line the command prints on failure says all; a warn line first is noise.
  const redis = createRedis(url, 'command', undefined, 'ox-batch');
  const ready = waitForRedis(redis, url, REDIS_DEADLINE_MS);
  ready.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  return { redis, ready, close: () => closeRedis(redis) };
}

/**
 * `work`'s result, or Redis's failure if Redis does not come up first. Input errors found by
 * `work` before it needs Redis (a broken catalog) still win: they surface at once.
 */
export function unlessRedisFails<T>(ready: Promise<void>, work: Promise<T>): Promise<T> {
  work.catch(() => undefined); // when Redis lost the race, work's later rejection is expected
  return Promise.race([work, ready.then(() => work)]);
}
