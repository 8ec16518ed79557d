import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A prefix of its own for every test: `oxbt-1a2b3c4d`. */
export function testPrefix(): string {
  return `oxbt-${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under `prefix` (ledger and BullMQ queues). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

export function plainRedis(url = REDIS_URL): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined);
  return redis;
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false | null> | T | undefined | false | null, what: string, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';

/** The config a test daemon runs with: its own prefix, short stall settings, quiet logs. */
export function testConfig(prefix: string, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({
    env: { REDIS_URL },
    overrides: {
      redis: { url: REDIS_URL, prefix },
      logging: { level: 'silent' },
      http: { host: '127.0.0.1', port: 0 },
      ...overrides,
    },
  });
}
