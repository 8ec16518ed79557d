/**
 * Walking the keys under a prefix. On a Redis Cluster, SCAN sees only the node it is sent to:
 * every master is scanned, and keys are deleted on the node that holds them, one key per
 * command (a DEL of several keys would need them in one slot; a hash-tagged prefix has them
 * there, but a mistyped one must not turn a clean-up into CROSSSLOT errors).
 */
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from './connection.js';

/** The servers holding keys: the client itself, or every master of a cluster. */
export function keyHolders(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/** A SCAN MATCH pattern for everything under `prefix:` (glob characters in the prefix escaped). */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`;
}

/** Every key under `prefix:`, from every master. */
export async function keysWithPrefix(client: RedisClient, prefix: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of keyHolders(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', prefixPattern(prefix), 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
  }
  return found;
}

/** Deletes every key under `prefix` (ledger and BullMQ queues of one deployment or test). */
export async function deleteKeysWithPrefix(client: RedisClient, prefix: string): Promise<void> {
  for (const node of keyHolders(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', prefixPattern(prefix), 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        const batch = node.pipeline();
        for (const key of keys) batch.unlink(key);
        await batch.exec();
      }
    } while (cursor !== '0');
  }
}
