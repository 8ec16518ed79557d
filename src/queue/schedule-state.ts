/**
 * What ox-batch keeps about each schedule besides the window ledger, under `<prefix>:sched:`:
 * the pinned first window (when config has no startAt), pause flags set by `ox-batch pause`,
 * the last tick's figures (gap count for metrics), the tick mutex, for non-windowed schedules
 * the job id of the run in flight (overlap control), and which scheduler process manages the
 * BullMQ triggers.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/connection.js';

export interface TickFigures {
  lastTickAt?: number;
  gaps: number;
  watermark?: number;
}

const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
// Keeps a lease its holder still has, or takes one nobody holds.
const KEEP_SCRIPT = `local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;

export class ScheduleState {
  constructor(
    readonly redis: RedisClient,
    readonly prefix: string,
  ) {}

  private key(...parts: string[]): string {
    return [this.prefix, 'sched', ...parts].join(':');
  }

  /** The first window's start: pinned once (the last closed window at the first tick), then fixed. */
  async origin(scheduleId: string, proposed: number): Promise<number> {
    const key = this.key('origin');
    await this.redis.hsetnx(key, scheduleId, String(proposed));
    return Number(await this.redis.hget(key, scheduleId));
  }

  async pinnedOrigin(scheduleId: string): Promise<number | undefined> {
    const value = await this.redis.hget(this.key('origin'), scheduleId);
    return value === null ? undefined : Number(value);
  }

  async isPaused(scheduleId: string): Promise<boolean> {
    return (await this.redis.sismember(this.key('paused'), scheduleId)) === 1;
  }

  async setPaused(scheduleId: string, paused: boolean): Promise<void> {
    if (paused) await this.redis.sadd(this.key('paused'), scheduleId);
    else await this.redis.srem(this.key('paused'), scheduleId);
  }

  async saveTick(scheduleId: string, figures: TickFigures): Promise<void> {
    const fields: Record<string, string> = { lastTickAt: String(figures.lastTickAt ?? Date.now()), gaps: String(figures.gaps) };
    if (figures.watermark !== undefined) fields.watermark = String(figures.watermark);
    await this.redis.hset(this.key('tick', scheduleId), fields);
  }

  async lastTick(scheduleId: string): Promise<TickFigures | undefined> {
    const values = await this.redis.hmget(this.key('tick', scheduleId), 'lastTickAt', 'gaps', 'watermark');
    if (values[0] === null) return undefined;
    return {
      lastTickAt: Number(values[0]),
      gaps: Number(values[1] ?? 0),
      ...(values[2] ? { watermark: Number(values[2]) } : {}),
    };
  }

  /**
   * Runs `fn` while holding the schedule's tick mutex, so two replicas never plan the same
   * schedule at once (each would be harmless thanks to job ids, but overlap control needs it).
   * Waits up to `waitMs` (default 0) for a holder to let go; returns undefined when another
   * process still holds it then.
   */
  async withTickLock<T>(scheduleId: string, ttlMs: number, fn: () => Promise<T>, waitMs = 0): Promise<T | undefined> {
    const key = this.key('lock', scheduleId);
    const token = randomUUID();
    const deadline = Date.now() + waitMs;
    while ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') {
      if (Date.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    try {
      return await fn();
    } finally {
      await this.redis.eval(RELEASE_SCRIPT, 1, key, token).catch(() => undefined);
    }
  }

  /**
   * The trigger manager: the scheduler process whose schedule set the BullMQ triggers follow.
   * A process claims it when it starts (the newest configuration wins, e.g. during a rolling
   * deploy) and keeps it while it runs; others take it over once it lapses.
   */
  async claimTriggerManager(instanceId: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.key('trigger-manager'), instanceId, 'PX', ttlMs);
  }

  /** Renews the lease when `instanceId` holds it, takes it when nobody does; true when it holds it now. */
  async keepTriggerManager(instanceId: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(KEEP_SCRIPT, 1, this.key('trigger-manager'), instanceId, String(ttlMs))) === 1;
  }

  async releaseTriggerManager(instanceId: string): Promise<void> {
    await this.redis.eval(RELEASE_SCRIPT, 1, this.key('trigger-manager'), instanceId);
  }

  async inflight(scheduleId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('inflight', scheduleId))) ?? undefined;
  }

  async setInflight(scheduleId: string, jobId: string): Promise<void> {
    await this.redis.set(this.key('inflight', scheduleId), jobId);
  }
}
