import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/connection.js';

/**
 * What ox-batch last applied to OX, per entry key: the hash of the config OX confirmed. OX has no
 * GET for advertisement configs, so this is the only record of what is configured there.
 * Kept under `<prefix>:ads:*`: `applied` (hash: entry key → config hash), `in-sync` (digest of
 * the catalog the applied state fully equals, if any), `lock`, `last-sync`.
 */
export class AppliedState {
  readonly appliedKey: string;
  readonly lockKey: string;
  readonly lastSyncKey: string;
  readonly inSyncKey: string;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.appliedKey = `${prefix}:ads:applied`;
    this.lockKey = `${prefix}:ads:lock`;
    this.lastSyncKey = `${prefix}:ads:last-sync`;
    this.inSyncKey = `${prefix}:ads:in-sync`;
  }

  /**
   * True when the applied state is known to equal the catalog with this digest exactly: the last
   * sync of it confirmed every entry, and nothing was recorded since. Lets an unchanged re-sync of
   * 100,000 entries skip reading them all back from Redis.
   */
  async isInSyncWith(digest: string, entries: number): Promise<boolean> {
    const [stored, size] = await Promise.all([this.redis.get(this.inSyncKey), this.redis.hlen(this.appliedKey)]);
    return stored === `${digest}:${entries}` && size === entries;
  }

  async markInSyncWith(digest: string, entries: number): Promise<void> {
    await this.redis.set(this.inSyncKey, `${digest}:${entries}`);
  }

  /** Entry key → config hash of everything applied so far. */
  async load(): Promise<Map<string, string>> {
    const applied = new Map<string, string>();
    // HSCAN rather than HGETALL: a 100k-entry hash is read in slices without one huge reply.
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.appliedKey, cursor, 'COUNT', 10_000);
      for (let i = 0; i < flat.length; i += 2) applied.set(flat[i]!, flat[i + 1]!);
      cursor = next;
    } while (cursor !== '0');
    return applied;
  }

  /** Records what OX confirmed: hashes of written entries, removal of deleted ones. */
  async record(changes: { written: Array<[key: string, hash: string]>; deleted: string[] }): Promise<void> {
    if (changes.written.length === 0 && changes.deleted.length === 0) return;
    // Any change ends "in sync with catalog X"; only a sync that confirmed everything sets it again.
    const pipeline = this.redis.pipeline().del(this.inSyncKey);
    if (changes.written.length > 0) pipeline.hset(this.appliedKey, Object.fromEntries(changes.written));
    if (changes.deleted.length > 0) pipeline.hdel(this.appliedKey, ...changes.deleted);
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async saveLastSync(summary: unknown): Promise<void> {
    await this.redis.set(this.lastSyncKey, JSON.stringify(summary));
  }

  async lastSync(): Promise<unknown> {
    const text = await this.redis.get(this.lastSyncKey);
    return text === null ? null : (JSON.parse(text) as unknown);
  }

  /**
   * One sync at a time per deployment: a CLI apply and the scheduled job must not interleave
   * their writes to OX and to this state. The lock expires on its own if the holder dies.
   */
  async acquireLock(ttlMs = 60_000): Promise<SyncLock | null> {
    const token = randomUUID();
    const ok = await this.redis.set(this.lockKey, token, 'PX', ttlMs, 'NX');
    if (ok !== 'OK') return null;
    return new SyncLock(this.redis, this.lockKey, token, ttlMs);
  }
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export class SyncLock {
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly token: string,
    ttlMs: number,
  ) {
    this.timer = setInterval(
      () => {
        this.redis.eval(EXTEND, 1, this.key, this.token, String(ttlMs)).catch(() => undefined);
      },
      Math.max(1000, Math.floor(ttlMs / 3)),
    );
    this.timer.unref();
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}
