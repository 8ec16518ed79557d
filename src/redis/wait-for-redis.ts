/**
 * Waiting for Redis with a deadline: a command or a starting daemon says within seconds that
 * Redis does not answer instead of letting ioredis retry forever. Apart from the daemon so a CLI
 * command can use it without loading the daemon's HTTP server, dashboard and workers.
 */
import type { RedisClient } from './connection.js';
import { RedisUnavailableError } from '../errors.js';
import { safeUrl } from '../log/secrets.js';

/** Waits until a client is ready; fails with a message naming the (credential-free) URL. */
export async function waitForRedis(client: RedisClient, url: string, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new RedisUnavailableError(`Redis at ${safeUrl(url)} is not reachable (waited ${Math.round(timeoutMs / 1000)}s)`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
    };
    client.on('ready', onReady);
  });
}
