/**
 * The window ledger in Redis. Every key lives under the deployment prefix (`{oxb}` keeps them in
 * one Redis Cluster slot together with the BullMQ queues):
 *
 *   <p>:ledger:w:<schedule>:<start>   hash: one window (state, attempts, timestamps, result JSON)
 *   <p>:ledger:idx:<schedule>         zset: window starts (score = start)
 *   <p>:ledger:failed:<schedule>      zset: starts of windows whose last run failed
 *   <p>:ledger:wm:<schedule>          hash: cached watermark {startAt, watermark, gen}
 *   <p>:ledger:d:<schedule>:<start>   hash: exactly-once deliveries of one window
 *   <p>:ledger:runs:<schedule>        list: recent runs of non-windowed jobs, newest first
 *   <p>:ledger:schedules              set:  schedule ids (and job names of unscheduled runs)
 *
 * State changes are Lua scripts so two processes never interleave a read-modify-write.
 * The job's result is stored verbatim as JSON text (never decoded in Lua, whose cjson would
 * turn `[]` into `{}`).
 */
import type { Redis } from 'ioredis';
import type { DeliveryLog, DeliveryRecord, Ledger, RunRecord, WindowKey, WindowRecord, WindowState } from './types.js';

const RUNS_KEPT = 100;
/** Longest window (a 31-day month plus a DST hour): bounds range scans by start. */
const LONGEST_WINDOW_MS = 32 * 86_400_000;

// KEYS: 1 window hash, 2 idx zset, 3 failed zset, 4 watermark hash, 5 schedules set
// ARGV: 1 op, 2 scheduleId, 3 start, 4 end, 5 job, 6 now, 7 arg (jobId|attempt|result|error), 8 force
// Indexes are written only when they change: this script runs twice per job on the worker path.
const UPDATE_SCRIPT = `
local op = ARGV[1]
local start = tonumber(ARGV[3])
local prior = redis.call('HGET', KEYS[1], 'state')
-- 'abandoned': BullMQ failed the job without running it (stalled too often): failed, but only
-- a window still open (queued/running) and only this very window (same end).
if op == 'abandoned' then
  if (prior ~= 'queued' and prior ~= 'running') or redis.call('HGET', KEYS[1], 'end') ~= ARGV[4] then
    return 0
  end
  op = 'failed'
end
if op == 'queued' and ARGV[8] ~= '1' and (prior == 'done' or prior == 'running') then
  return 0
end
-- 'begin': running, unless the window is done and this is no forced re-run (then: its result).
-- Records are keyed by start: another window with the same start but another end is refused
-- (its done state, result and deliveries are not this window's).
if op == 'begin' then
  local recordedEnd = redis.call('HGET', KEYS[1], 'end')
  if prior and recordedEnd and recordedEnd ~= ARGV[4] then
    return {2, recordedEnd}
  end
  if prior == 'done' and ARGV[8] ~= '1' then
    return {0, redis.call('HGET', KEYS[1], 'result') or 'null'}
  end
  op = 'running'
end
local state = op
if op == 'retrying' then state = 'queued' end
if not prior then
  redis.call('HSET', KEYS[1], 'scheduleId', ARGV[2], 'start', ARGV[3], 'end', ARGV[4], 'job', ARGV[5], 'state', state)
  redis.call('ZADD', KEYS[2], start, ARGV[3])
  redis.call('SADD', KEYS[5], ARGV[2])
else
  redis.call('HSET', KEYS[1], 'job', ARGV[5], 'state', state)
end
if op == 'queued' then
  redis.call('HSET', KEYS[1], 'queuedAt', ARGV[6], 'jobId', ARGV[7])
elseif op == 'running' then
  redis.call('HSET', KEYS[1], 'startedAt', ARGV[6], 'attempts', ARGV[7])
  redis.call('HDEL', KEYS[1], 'finishedAt')
elseif op == 'done' then
  redis.call('HSET', KEYS[1], 'finishedAt', ARGV[6], 'result', ARGV[7])
  redis.call('HDEL', KEYS[1], 'lastError')
elseif op == 'failed' or op == 'retrying' then
  redis.call('HSET', KEYS[1], 'finishedAt', ARGV[6], 'lastError', ARGV[7])
end
if op == 'failed' then
  redis.call('ZADD', KEYS[3], start, ARGV[3])
elseif prior == 'failed' then
  redis.call('ZREM', KEYS[3], ARGV[3])
end
-- A window inside the cached contiguous done run is no longer done: drop the cache. Bump gen
-- on every done -> not-done change, so a scan in flight that saw it done cannot save past it.
if op ~= 'done' and prior == 'done' then
  local wm = tonumber(redis.call('HGET', KEYS[4], 'watermark') or '-1')
  if wm > start then
    redis.call('HDEL', KEYS[4], 'watermark', 'startAt')
  end
  redis.call('HINCRBY', KEYS[4], 'gen', 1)
end
-- A forced re-run of a done window: hand back the result it replaces (kept if the run is refused).
if ARGV[1] == 'begin' and prior == 'done' then
  return {1, redis.call('HGET', KEYS[1], 'result') or 'null'}
end
return 1
`;

// KEYS: 1 watermark hash. ARGV: 1 gen seen when reading, 2 startAt, 3 watermark
const SAVE_WATERMARK_SCRIPT = `
local gen = redis.call('HGET', KEYS[1], 'gen') or '0'
if gen ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'startAt', ARGV[2], 'watermark', ARGV[3], 'gen', gen)
return 1
`;

const RECORD_FIELDS = ['scheduleId', 'start', 'end', 'job', 'state', 'attempts', 'queuedAt', 'startedAt', 'finishedAt', 'lastError', 'result', 'jobId'] as const;

export interface MarkQueuedOptions {
  /** Re-queue a window that is done or marked running (an explicit --force). */
  force?: boolean;
}

const UPDATE_COMMAND = 'oxbLedgerUpdate';

export class RedisLedger implements Ledger {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {
    if (!(UPDATE_COMMAND in redis)) redis.defineCommand(UPDATE_COMMAND, { numberOfKeys: 5, lua: UPDATE_SCRIPT });
  }

  private key(...parts: Array<string | number>): string {
    return [this.prefix, 'ledger', ...parts].join(':');
  }

  private windowKey(scheduleId: string, start: number): string {
    return this.key('w', scheduleId, start);
  }

  private async update(op: WindowState | 'retrying' | 'abandoned', key: WindowKey, job: string, arg: string, force = false): Promise<boolean> {
    const changed = await this.run(op, key, job, arg, force);
    return changed === 1;
  }

  /** EVALSHA through ioredis' script cache: the script text is sent once per connection. */
  private run(op: string, key: WindowKey, job: string, arg: string, force: boolean): Promise<unknown> {
    return (this.redis as unknown as Record<string, (...args: string[]) => Promise<unknown>>)[UPDATE_COMMAND]!(
      this.windowKey(key.scheduleId, key.start),
      this.key('idx', key.scheduleId),
      this.key('failed', key.scheduleId),
      this.key('wm', key.scheduleId),
      this.key('schedules'),
      op, key.scheduleId, String(key.start), String(key.end), job, String(Date.now()), arg, force ? '1' : '0',
    );
  }

  /**
   * markRunning in one round trip with the "already done?" check: returns `started: false` and
   * the recorded result when the window is done and `force` is not set (nothing changes then), or
   * `conflictEnd` when the ledger holds another window with the same start (nothing changes).
   * A forced start of a done window returns the result it replaces in `replacesDone`.
   */
  async beginWindow(key: WindowKey, job: string, attempt: number, options: { force?: boolean } = {}): Promise<{ started: true; replacesDone?: { result: unknown } } | { started: false; result: unknown } | { started: false; conflictEnd: number }> {
    const reply = await this.run('begin', key, job, String(attempt), options.force === true);
    if (Array.isArray(reply) && reply[0] === 1) return { started: true, replacesDone: { result: JSON.parse(String(reply[1])) as unknown } };
    if (Array.isArray(reply) && reply[0] === 2) return { started: false, conflictEnd: Number(reply[1]) };
    if (Array.isArray(reply) && reply[0] === 0) return { started: false, result: JSON.parse(String(reply[1])) as unknown };
    return { started: true };
  }

  async getWindow(key: WindowKey): Promise<WindowRecord | null> {
    const values = await this.redis.hmget(this.windowKey(key.scheduleId, key.start), ...RECORD_FIELDS);
    return toRecord(values);
  }

  async listWindows(scheduleId: string, range: { from?: number; to?: number } = {}): Promise<WindowRecord[]> {
    const min = range.from === undefined ? '-inf' : String(range.from - LONGEST_WINDOW_MS);
    const max = range.to === undefined ? '+inf' : `(${range.to}`;
    const starts = await this.redis.zrangebyscore(this.key('idx', scheduleId), min, max);
    const records = await this.readWindows(scheduleId, starts);
    return records.filter((r) => range.from === undefined || r.end > range.from);
  }

  /** Windows whose last run failed, oldest first. */
  async failedWindows(scheduleId: string): Promise<WindowRecord[]> {
    const starts = await this.redis.zrange(this.key('failed', scheduleId), '0', '-1');
    return this.readWindows(scheduleId, starts);
  }

  async failedCount(scheduleId: string): Promise<number> {
    return this.redis.zcard(this.key('failed', scheduleId));
  }

  /** Schedule ids (and job names of unscheduled runs) that have ledger entries. */
  async scheduleIds(): Promise<string[]> {
    return (await this.redis.smembers(this.key('schedules'))).sort();
  }

  private async readWindows(scheduleId: string, starts: string[]): Promise<WindowRecord[]> {
    if (starts.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const start of starts) pipeline.hmget(this.windowKey(scheduleId, Number(start)), ...RECORD_FIELDS);
    const replies = (await pipeline.exec()) ?? [];
    const records: WindowRecord[] = [];
    for (const [err, values] of replies) {
      if (err) throw err;
      const record = toRecord(values as Array<string | null>);
      if (record) records.push(record);
    }
    return records.sort((a, b) => a.start - b.start);
  }

  /**
   * Marks a window queued. Without `force` a window that is done or running keeps its state
   * (a late tick must not undo a finished run); returns whether the state changed.
   */
  async markQueued(key: WindowKey, job: string, jobId: string, options: MarkQueuedOptions = {}): Promise<void> {
    await this.markQueuedIfOpen(key, job, jobId, options);
  }

  async markQueuedIfOpen(key: WindowKey, job: string, jobId: string, options: MarkQueuedOptions = {}): Promise<boolean> {
    return this.update('queued', key, job, jobId, options.force === true);
  }

  async markRunning(key: WindowKey, job: string, attempt: number): Promise<void> {
    await this.update('running', key, job, String(attempt));
  }

  async markDone(key: WindowKey, job: string, result: unknown): Promise<void> {
    await this.update('done', key, job, JSON.stringify(result ?? null));
  }

  async markFailed(key: WindowKey, job: string, error: string): Promise<void> {
    await this.update('failed', key, job, error.slice(0, 4000));
  }

  /**
   * BullMQ failed the window's job for good without the processor recording it (a job that
   * stalled more than maxStalledCount): failed, unless the window is done or failed already.
   */
  async markAbandoned(key: WindowKey, job: string, error: string): Promise<boolean> {
    return this.update('abandoned', key, job, error.slice(0, 4000));
  }

  /** A try failed and another follows (BullMQ backoff, or aborted by shutdown): queued again, with the error. */
  async markRetrying(key: WindowKey, job: string, error: string): Promise<void> {
    await this.update('retrying', key, job, error.slice(0, 4000));
  }

  async watermark(scheduleId: string, startAt: number): Promise<number> {
    const wmKey = this.key('wm', scheduleId);
    const cached = await this.redis.hmget(wmKey, 'startAt', 'watermark', 'gen');
    const gen = cached[2] ?? '0';
    let cursor = cached[0] === String(startAt) && cached[1] !== null ? Number(cached[1]) : startAt;
    const startCursor = cursor;
    const idx = this.key('idx', scheduleId);
    const page = 500;
    for (;;) {
      const starts = await this.redis.zrangebyscore(idx, String(cursor), '+inf', 'LIMIT', '0', String(page));
      const records = await this.readWindows(scheduleId, starts);
      let broke = false;
      for (const record of records) {
        if (record.start !== cursor || record.state !== 'done') {
          broke = true;
          break;
        }
        cursor = record.end;
      }
      if (broke || starts.length < page) break;
    }
    if (cursor !== startCursor || cached[0] !== String(startAt)) {
      await this.redis.eval(SAVE_WATERMARK_SCRIPT, 1, wmKey, gen, String(startAt), String(cursor));
    }
    return cursor;
  }

  private deliveryKey(key: WindowKey): string {
    return this.key('d', key.scheduleId, key.start);
  }

  async getDelivery(key: WindowKey, deliveryId: string): Promise<DeliveryRecord | null> {
    const raw = await this.redis.hget(this.deliveryKey(key), deliveryId);
    return raw === null ? null : (JSON.parse(raw) as DeliveryRecord);
  }

  async listDeliveries(key: WindowKey): Promise<Record<string, DeliveryRecord>> {
    const all = await this.redis.hgetall(this.deliveryKey(key));
    const out: Record<string, DeliveryRecord> = {};
    for (const [id, raw] of Object.entries(all)) out[id] = JSON.parse(raw) as DeliveryRecord;
    return out;
  }

  async recordDelivery(key: WindowKey, deliveryId: string, record: DeliveryRecord): Promise<void> {
    await this.redis.hset(this.deliveryKey(key), deliveryId, JSON.stringify(record));
  }

  async recordRun(run: RunRecord): Promise<void> {
    const key = this.key('runs', run.scheduleId);
    await this.redis
      .multi()
      .lpush(key, JSON.stringify(run))
      .ltrim(key, 0, RUNS_KEPT - 1)
      .sadd(this.key('schedules'), run.scheduleId)
      .exec();
  }

  async lastRuns(scheduleId: string, count = 10): Promise<RunRecord[]> {
    const raw = await this.redis.lrange(this.key('runs', scheduleId), 0, Math.max(0, count - 1));
    return raw.map((r) => JSON.parse(r) as RunRecord);
  }
}

function toRecord(values: Array<string | null>): WindowRecord | null {
  const [scheduleId, start, end, job, state, attempts, queuedAt, startedAt, finishedAt, lastError, result, jobId] = values;
  if (scheduleId === null || scheduleId === undefined || state === null || state === undefined) return null;
  const record: WindowRecord = {
    scheduleId,
    start: Number(start),
    end: Number(end),
    job: job ?? '',
    state: state as WindowState,
    attempts: attempts ? Number(attempts) : 0,
  };
  if (queuedAt) record.queuedAt = Number(queuedAt);
  if (startedAt) record.startedAt = Number(startedAt);
  if (finishedAt) record.finishedAt = Number(finishedAt);
  if (lastError) record.lastError = lastError;
  if (result !== null && result !== undefined) record.result = JSON.parse(result) as unknown;
  if (jobId) record.jobId = jobId;
  return record;
}

/** The exactly-once log of one (schedule, window), as handed to a job in `JobRun.deliveries`. */
export function deliveryLogFor(ledger: Ledger, key: WindowKey): DeliveryLog {
  return {
    get: (deliveryId) => ledger.getDelivery(key, deliveryId),
    record: (deliveryId, record) => ledger.recordDelivery(key, deliveryId, { ...record, at: record.at ?? Date.now() }),
  };
}

/** The key of a non-windowed job's records: its deliveries are per schedule. */
export function scheduleKey(scheduleId: string): WindowKey {
  return { scheduleId, start: 0, end: 0 };
}
