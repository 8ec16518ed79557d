/**
 * How code outside src/ledger/ gets a ledger: it depends on the `Ledger` interface only, and this
 * is the one place that knows the ledger lives in Redis.
 */
import type { RedisClient } from '../redis/connection.js';
import { RedisLedger } from './redis-ledger.js';
import type { Ledger } from './types.js';

/** The window ledger kept in Redis under `prefix`, on `redis` (its updates go over that connection). */
export function createLedger(redis: RedisClient, prefix: string): Ledger {
  return new RedisLedger(redis, prefix);
}
