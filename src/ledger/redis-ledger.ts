/**
 * The window ledger in Redis. Every key lives under the deployment prefix (`{oxb}` keeps them in
 * one Redis Cluster slot together with the BullMQ queues):
 *
 *   <p>:ledger:w:<schedule>:<start>   hash: one window (state, attempts, timestamps, result JSON)
 *   <p>:ledger:idx:<schedule>         zset: window starts (score = start)
 *   <p>:ledger:failed:<schedule>      zset: starts of windows whose last run failed
 *   <p>:ledger:wm:<schedule>          hash: cached watermark {startAt, watermark, gen}, and the
 *                                     range trimmed by ledger.keepDone {trimFrom, trimThrough, trimCount}
 *   <p>:ledger:d:<schedule>:<start>   hash: exactly-once deliveries of one window
 *   <p>:ledger:runs:<schedule>        list: recent runs of non-windowed jobs, newest first
 *   <p>:ledger:schedules              set:  schedule ids (and job names of unscheduled runs)
 *   <p>:ledger:reexport:<schedule>    zset: starts of done windows the purge found incomplete
 *   <p>:ledger:mailclaims             zset: open mail claims <schedule>|<start>|<address> by lease end
 *
 * State changes are Lua scripts so two processes never interleave a read-modify-write.
 * The job's result is stored verbatim as JSON text (never decoded in Lua, whose cjson would
 * turn `[]` into `{}`).
 */
import { LedgerUpdateError } from '../errors.js';
import type { RedisClient } from '../redis/connection.js';
import { UpdateBatcher } from './update-batcher.js';
import { ledgerCommands, type LedgerCommands } from './commands/index.js';
import type { BeginResult, DeliveryLog, DeliveryRecord, Ledger, MailClaim, MailClaimRequest, OpenMailClaim, ReexportFlag, AttemptRecord, TrimmedRange, WindowKey, WindowRecord, WindowState } from './types.js';

const RUNS_KEPT = 100;
/** Longest window (a 31-day month plus a DST hour): bounds range scans by start. */
const LONGEST_WINDOW_MS = 32 * 86_400_000;

// One call carries a batch of window updates (see RedisLedger.run): per op 5 KEYS (window hash,
// idx zset, failed zset, watermark hash, schedules set) and 8 ARGV (op, scheduleId, start, end,
// job, now, arg = jobId|attempt|result|error, flag = force, or for 'failed': permanent). Ops apply in order, each as it would alone;
// an op that errors answers {-1, message} and does not stop the others.
// Indexes are written only when they change: two ops run per job on the worker path.
const UPDATE_SCRIPT = `
-- A window inside the range trimmed by ledger.keepDone (see TRIM_SCRIPT) was done.
local function trimmed(wmKey, start)
  local range = redis.call('HMGET', wmKey, 'trimFrom', 'trimThrough')
  local from, through = tonumber(range[1] or ''), tonumber(range[2] or '')
  return from ~= nil and through ~= nil and start >= from and start < through
end
local function apply(k, a)
  local key = KEYS[k + 1]
  local op = ARGV[a + 1]
  local startText, endText, job, now, arg = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7]
  local start = tonumber(startText)
  local recorded = redis.call('HMGET', key, 'state', 'end', 'owner', 'leaseUntil', 'attempts', 'startedAt')
  local prior, recordedEnd = recorded[1], recorded[2]
  local force = ARGV[a + 8] == '1'
  -- A trimmed window stays done: not queued or begun again unless forced.
  if not prior and not force and (op == 'queued' or op == 'begin' or op == 'beginManual') and trimmed(KEYS[k + 4], start) then
    if op == 'queued' then return 0 end
    return {0, 'null'}
  end
  -- A run holds its running window by a lease it renews while it runs (ox-batch run and each
  -- worker execution alike): one owner at a time, so two live runs never deliver one window.
  local owner, leaseUntil = recorded[3] or '', recorded[4] or ''
  local heldByRun = prior == 'running' and owner ~= '' and (tonumber(leaseUntil) or 0) > tonumber(now)
  if op == 'lease' then
    local sep = string.find(arg, '|', 1, true)
    if prior == 'running' and owner == string.sub(arg, sep + 1) then
      redis.call('HSET', key, 'leaseUntil', string.sub(arg, 1, sep - 1))
      return 1
    end
    return 0
  end
  -- 'abandoned': BullMQ failed the job without running it (stalled too often): failed, but only
  -- a window still open (queued/running), only this very window (same end), and not while an
  -- ox-batch run holds it.
  if op == 'abandoned' then
    if (prior ~= 'queued' and prior ~= 'running') or recordedEnd ~= endText or heldByRun then
      return 0
    end
    op = 'failed'
  end
  -- 'retryRound': the retry clock queues a failed window again, counting the round; only a
  -- window still failed (another scheduler replica may have claimed this round first).
  local rounds
  if op == 'retryRound' then
    if prior ~= 'failed' then return 0 end
    rounds = redis.call('HINCRBY', key, 'retryRounds', 1)
    op = 'queued'
  end
  if op == 'queued' and not force and (prior == 'done' or prior == 'running') then
    return 0
  end
  -- 'begin': running, unless the window is done and this is no forced re-run (then: its result).
  -- Records are keyed by start: another window with the same start but another end is refused
  -- (its done state, result and deliveries are not this window's).
  -- 'beginManual' (ox-batch run): the same, and it also waits for (is refused) a window running
  -- elsewhere unless forced; it counts the attempt itself and takes a lease (arg: until|owner).
  local replaced, runAttempt, runOwner, runLease
  if op == 'begin' or op == 'beginManual' then
    if prior and recordedEnd and recordedEnd ~= endText then
      return {2, recordedEnd}
    end
    if prior == 'done' then
      replaced = redis.call('HGET', key, 'result') or 'null'
      if not force then return {0, replaced} end
    end
    if op == 'begin' then
      if heldByRun then
        return {3, owner, leaseUntil, recorded[6] or ''}
      end
      -- arg: attempt, or attempt|leaseUntil|owner (a worker execution holding the window).
      local sep = string.find(arg, '|', 1, true)
      if sep then
        local rest = string.sub(arg, sep + 1)
        local sep2 = string.find(rest, '|', 1, true)
        arg, runLease, runOwner = string.sub(arg, 1, sep - 1), string.sub(rest, 1, sep2 - 1), string.sub(rest, sep2 + 1)
      end
    end
    if op == 'beginManual' then
      if prior == 'running' and not force and (owner == '' or heldByRun) then
        return {3, owner, leaseUntil, recorded[6] or ''}
      end
      local sep = string.find(arg, '|', 1, true)
      runLease, runOwner = string.sub(arg, 1, sep - 1), string.sub(arg, sep + 1)
      runAttempt = tostring((tonumber(recorded[5]) or 0) + 1)
      arg = runAttempt
    end
    op = 'running'
  end
  local state = op
  if op == 'retrying' then state = 'queued' end
  if not prior then
    redis.call('HSET', key, 'scheduleId', ARGV[a + 2], 'start', startText, 'end', endText)
    redis.call('ZADD', KEYS[k + 2], start, startText)
    redis.call('SADD', KEYS[k + 5], ARGV[a + 2])
  end
  -- One HSET per update: a field that no longer applies is set to '' (read back as absent).
  if op == 'queued' then
    redis.call('HSET', key, 'job', job, 'state', state, 'queuedAt', now, 'jobId', arg)
  elseif op == 'running' then
    redis.call('HSET', key, 'job', job, 'state', state, 'startedAt', now, 'attempts', arg, 'finishedAt', '', 'owner', runOwner or '', 'leaseUntil', runLease or '')
  elseif op == 'done' then
    redis.call('HSET', key, 'job', job, 'state', state, 'finishedAt', now, 'result', arg, 'lastError', '', 'leaseUntil', '')
  else
    -- For 'failed' the flag slot says whether no retry can fix it (bad params, OX 4xx): the
    -- retry clock leaves such a window to an operator.
    redis.call('HSET', key, 'job', job, 'state', state, 'finishedAt', now, 'lastError', arg, 'leaseUntil', '', 'permanent', (op == 'failed' and force) and '1' or '')
  end
  if op == 'failed' then
    redis.call('ZADD', KEYS[k + 3], start, startText)
  elseif prior == 'failed' then
    redis.call('ZREM', KEYS[k + 3], startText)
  end
  -- A window inside the cached contiguous done run is no longer done: drop the cache. Bump gen
  -- on every done -> not-done change, so a scan in flight that saw it done cannot save past it.
  if op ~= 'done' and prior == 'done' then
    local wm = tonumber(redis.call('HGET', KEYS[k + 4], 'watermark') or '-1')
    if wm > start then
      redis.call('HDEL', KEYS[k + 4], 'watermark', 'startAt')
    end
    redis.call('HINCRBY', KEYS[k + 4], 'gen', 1)
  end
  -- A forced re-run of a done window: hand back the result it replaces (kept if the run is refused).
  if runAttempt then return {5, runAttempt, replaced} end
  if replaced then return {1, replaced} end
  if rounds then return rounds end
  return 1
end
local replies = {}
for i = 0, #ARGV / 8 - 1 do
  local ok, reply = pcall(apply, i * 5, i * 8)
  if ok then
    replies[i + 1] = reply
  else
    replies[i + 1] = {-1, tostring(reply)}
  end
end
return replies
`;

// KEYS: 1 watermark hash. ARGV: 1 gen seen when reading, 2 startAt, 3 watermark
const SAVE_WATERMARK_SCRIPT = `
local gen = redis.call('HGET', KEYS[1], 'gen') or '0'
if gen ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'startAt', ARGV[2], 'watermark', ARGV[3], 'gen', gen)
return 1
`;

// ledger.keepDone: deletes old done windows (record and deliveries) and widens the trimmed range
// [trimFrom, trimThrough) of the watermark hash, which counts as done from then on.
// KEYS: 1 watermark hash, 2 idx zset, 3 failed zset, then per candidate its window hash and
// delivery hash. ARGV: 1 trim windows ending at or before this, 2 the schedule's first window
// (where the range begins), then per candidate its start.
// The range stays contiguous and done: a window is trimmed only when done and adjacent to it (or
// inside it: a forced re-run of a trimmed window), so every window in it was done. A window
// flagged for re-export (see flagReexport) or holding an open mail claim (claimMail) is not trimmed.
const TRIM_SCRIPT = `
local range = redis.call('HMGET', KEYS[1], 'trimFrom', 'trimThrough')
local fromText, throughText = range[1], range[2]
local from, through = tonumber(fromText or ''), tonumber(throughText or '')
local limit, origin = tonumber(ARGV[1]), tonumber(ARGV[2])
local count = 0
for i = 3, #ARGV do
  local windowKey, deliveryKey = KEYS[2 * i - 2], KEYS[2 * i - 1]
  local startText = ARGV[i]
  local start = tonumber(startText)
  local record = redis.call('HMGET', windowKey, 'state', 'end', 'reexport')
  local endText = record[2]
  local finish = tonumber(endText or '')
  -- A window the purge flagged for re-export keeps its record (and ends the range) until
  -- re-exported; one with a mail claim not settled (in flight, or of unknown outcome: never
  -- sent again without force) keeps its delivery log.
  local keep = record[3] ~= false and record[3] ~= nil and record[3] ~= ''
  if not keep and record[1] == 'done' then
    for _, delivery in ipairs(redis.call('HVALS', deliveryKey)) do
      if string.find(delivery, '"state":"claimed"', 1, true) or string.find(delivery, '"state":"unknown"', 1, true) then keep = true end
    end
  end
  if record[1] == 'done' and not keep and finish ~= nil and finish <= limit then
    local take = false
    if from == nil then
      if start == origin then from, fromText, through, throughText, take = start, startText, finish, endText, true end
    elseif start == through then through, throughText, take = finish, endText, true
    elseif finish == from then from, fromText, take = start, startText, true
    elseif start >= from and finish <= through then take = true
    end
    if take then
      redis.call('DEL', windowKey, deliveryKey)
      redis.call('ZREM', KEYS[2], startText)
      redis.call('ZREM', KEYS[3], startText)
      count = count + 1
    end
  end
end
if count > 0 then
  redis.call('HSET', KEYS[1], 'trimFrom', fromText, 'trimThrough', throughText)
  redis.call('HINCRBY', KEYS[1], 'trimCount', count)
end
return count
`;

/** Windows trimmed per script call. */
const TRIM_BATCH = 500;

const RECORD_FIELDS = ['scheduleId', 'start', 'end', 'job', 'state', 'attempts', 'queuedAt', 'startedAt', 'finishedAt', 'lastError', 'result', 'jobId', 'owner', 'leaseUntil', 'permanent', 'retryRounds', 'reexport'] as const;

export interface MarkQueuedOptions {
  /** Re-queue a window that is done or marked running (an explicit --force). */
  force?: boolean;
}

const UPDATE_COMMAND = 'oxbLedgerUpdate';

/** One window update: the script's 5 KEYS and 8 ARGV. */
type Update = [keys: string[], args: string[]];

export class RedisLedger implements Ledger {
  private readonly updates: UpdateBatcher<Update, unknown>;
  private readonly commands: LedgerCommands;

  constructor(
    readonly redis: RedisClient,
    readonly prefix: string,
  ) {
    this.commands = ledgerCommands(redis);
    // No fixed numberOfKeys: a batch passes 5 keys per update, and the count goes first.
    if (!(UPDATE_COMMAND in redis)) redis.defineCommand(UPDATE_COMMAND, { lua: UPDATE_SCRIPT });
    const call = (redis as unknown as Record<string, (...args: Array<string | number>) => Promise<unknown[]>>)[UPDATE_COMMAND]!.bind(redis);
    this.updates = new UpdateBatcher<Update, unknown>((batch) => {
      const keys: string[] = [];
      const args: string[] = [];
      for (const [k, a] of batch) {
        keys.push(...k);
        args.push(...a);
      }
      return call(keys.length, ...keys, ...args);
    });
  }

  private key(...parts: Array<string | number>): string {
    return [this.prefix, 'ledger', ...parts].join(':');
  }

  private windowKey(scheduleId: string, start: number): string {
    return `${this.prefix}:ledger:w:${scheduleId}:${start}`;
  }

  private readonly keysOfSchedule = new Map<string, string[]>();

  /** The idx, failed, watermark and schedules keys an update of this schedule's windows touches. */
  private scheduleKeys(scheduleId: string): string[] {
    let keys = this.keysOfSchedule.get(scheduleId);
    if (!keys) {
      keys = [this.key('idx', scheduleId), this.key('failed', scheduleId), this.key('wm', scheduleId), this.key('schedules')];
      if (this.keysOfSchedule.size < 10_000) this.keysOfSchedule.set(scheduleId, keys);
    }
    return keys;
  }

  private async update(op: WindowState | 'retrying' | 'abandoned', key: WindowKey, job: string, arg: string, force = false): Promise<boolean> {
    const changed = await this.run(op, key, job, arg, force);
    return changed === 1;
  }

  /**
   * One update, sent with the others issued in the same callback in one EVALSHA (ioredis' script
   * cache sends the text once per connection).
   */
  private async run(op: string, key: WindowKey, job: string, arg: string, force: boolean): Promise<unknown> {
    return checkReply(op, key, await this.updates.add(this.updateOf(op, key, job, arg, force)));
  }

  private updateOf(op: string, key: WindowKey, job: string, arg: string, force: boolean): Update {
    return [
      [this.windowKey(key.scheduleId, key.start), ...this.scheduleKeys(key.scheduleId)],
      [op, key.scheduleId, String(key.start), String(key.end), job, String(Date.now()), arg, force ? '1' : '0'],
    ];
  }

  /**
   * markDone without waiting for the reply: `sent` resolves once the write is on this ledger's
   * connection, so a command sent on the same connection afterwards (BullMQ's completion of the
   * job, when this ledger shares the worker's connection) runs after it in Redis. `applied`
   * settles with Redis' answer.
   */
  markDoneInOrder(key: WindowKey, job: string, result: unknown): { sent: Promise<void>; applied: Promise<void> } {
    const { sent, reply } = this.updates.addInOrder(this.updateOf('done', key, job, JSON.stringify(result ?? null), false));
    return { sent, applied: reply.then((r) => { checkReply('done', key, r); }) };
  }

  /**
   * The worker's start of a window, in one round trip with the "already done?" check (see
   * `BeginResult`). With `owner` the execution holds the window by a lease (renewLease) like
   * `ox-batch run`; a window held by another live lease answers `busy`, forced or not.
   */
  async beginWindow(key: WindowKey, job: string, attempt: number, options: { force?: boolean; owner?: string; leaseUntil?: number } = {}): Promise<BeginResult> {
    const arg = options.owner ? `${attempt}|${options.leaseUntil ?? 0}|${options.owner}` : String(attempt);
    return toBeginResult(await this.run('begin', key, job, arg, options.force === true));
  }

  /**
   * `ox-batch run`'s start of a window: like `beginWindow`, but the attempt is counted from the
   * record, a window running elsewhere (a worker, or a run whose lease is live) answers `busy`
   * unless forced, and the window is held by `owner` until `leaseUntil` (see `renewLease`).
   */
  async beginManual(key: WindowKey, job: string, options: { owner: string; leaseUntil: number; force?: boolean }): Promise<BeginResult> {
    return toBeginResult(await this.run('beginManual', key, job, `${options.leaseUntil}|${options.owner}`, options.force === true));
  }

  /** Extends the lease of a run that still holds its window; false when it no longer does. */
  async renewLease(key: WindowKey, owner: string, leaseUntil: number): Promise<boolean> {
    return (await this.run('lease', key, '', `${leaseUntil}|${owner}`, false)) === 1;
  }

  /** The window's record; a window trimmed by `trimDone` reads as done with `trimmed: true` and no result. */
  async getWindow(key: WindowKey): Promise<WindowRecord | null> {
    const values = await this.redis.hmget(this.windowKey(key.scheduleId, key.start), ...RECORD_FIELDS);
    const record = toRecord(values);
    if (record) return record;
    const range = await this.trimmedRange(key.scheduleId);
    if (range && key.start >= range.from && key.start < range.through) {
      return { scheduleId: key.scheduleId, start: key.start, end: key.end, job: '', state: 'done', attempts: 0, trimmed: true };
    }
    return null;
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

  /** `permanent`: no retry can fix it (bad input, OX 4xx); the retry clock leaves the window to an operator. */
  async markFailed(key: WindowKey, job: string, error: string, options: { permanent?: boolean } = {}): Promise<void> {
    await this.update('failed', key, job, error.slice(0, 4000), options.permanent === true);
  }

  /**
   * The retry clock's claim of a failed window: queued again, its retry round counted. Answers
   * the round (1, 2, …), or 0 when the window is no longer failed (another replica claimed the
   * round, or it ran meanwhile).
   */
  async markRetryRound(key: WindowKey, job: string, jobId: string): Promise<number> {
    return Number(await this.run('retryRound', key, job, jobId, false));
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
    const cached = await this.redis.hmget(wmKey, 'startAt', 'watermark', 'gen', 'trimFrom', 'trimThrough');
    const gen = cached[2] ?? '0';
    const trimmed = toTrimmedRange(cached[3] ?? null, cached[4] ?? null, null);
    // The trimmed range counts as done: a walk that reaches it goes on at its end.
    const past = (at: number) => (trimmed && at >= trimmed.from && at < trimmed.through ? trimmed.through : at);
    let cursor = past(cached[0] === String(startAt) && cached[1] !== null ? Number(cached[1]) : startAt);
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
        cursor = past(record.end);
      }
      if (broke || starts.length < page) break;
    }
    if (cursor !== startCursor || cached[0] !== String(startAt)) {
      await this.redis.eval(SAVE_WATERMARK_SCRIPT, 1, wmKey, gen, String(startAt), String(cursor));
    }
    return cursor;
  }

  /** The range of old done windows `trimDone` removed (they count as done); undefined before any. */
  async trimmedRange(scheduleId: string): Promise<TrimmedRange | undefined> {
    const [from, through, count] = await this.redis.hmget(this.key('wm', scheduleId), 'trimFrom', 'trimThrough', 'trimCount');
    return toTrimmedRange(from ?? null, through ?? null, count ?? null);
  }

  /**
   * `ledger.keepDone`: removes the records and delivery logs of done windows ending at or before
   * `olderThan`, from the schedule's first window (`origin`) on, as long as they are contiguous
   * and done; they become the trimmed range, which the watermark walks over as done and a queued
   * or begun window inside it answers as done. A gap or a window not done stops the trimming
   * (the watermark stops there too). Returns how many windows were trimmed.
   */
  async trimDone(scheduleId: string, origin: number, olderThan: number, options: { maxWindows?: number } = {}): Promise<number> {
    const idx = this.key('idx', scheduleId);
    const fixed = [this.key('wm', scheduleId), idx, this.key('failed', scheduleId)];
    const most = options.maxWindows ?? 10_000;
    let total = 0;
    while (total < most) {
      const range = await this.trimmedRange(scheduleId);
      const anchor = range?.from ?? origin;
      // Upwards from the range's start (the next windows, and re-runs inside it), and the windows
      // just before it, newest first (backfills older than the range that join it).
      const up = await this.redis.zrangebyscore(idx, String(anchor), `(${olderThan}`, 'LIMIT', '0', String(TRIM_BATCH));
      const down = await this.redis.zrevrangebyscore(idx, `(${anchor}`, '-inf', 'LIMIT', '0', '50');
      const starts = [...up, ...down];
      if (starts.length === 0) break;
      const keys = [...fixed];
      for (const start of starts) keys.push(this.windowKey(scheduleId, Number(start)), this.deliveryKey({ scheduleId, start: Number(start), end: 0 }));
      const count = Number(await this.redis.eval(TRIM_SCRIPT, keys.length, ...keys, String(olderThan), String(origin), ...starts));
      total += count;
      if (count === 0 || up.length < TRIM_BATCH) break;
    }
    return total;
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

  /**
   * Flags a done window for re-export: OX holds more rows for it than its archive (the purge's
   * count). The guard schedule's tick queues it (forced), and its purge stops before it until
   * a re-export is done. False when the window is not done.
   */
  async flagReexport(key: WindowKey, flag: ReexportFlag): Promise<boolean> {
    const reply = await this.commands.flagReexport!(this.windowKey(key.scheduleId, key.start), this.key('reexport', key.scheduleId), String(key.start), String(key.end), JSON.stringify(flag));
    return reply === 1;
  }

  /** Clears the flag a finished re-export was queued for (a newer flag stays). */
  async clearReexport(key: WindowKey, flaggedAt: number): Promise<boolean> {
    const reply = await this.commands.clearReexport!(this.windowKey(key.scheduleId, key.start), this.key('reexport', key.scheduleId), String(key.start), String(flaggedAt));
    return reply === 1;
  }

  /** Windows flagged for re-export, oldest first, with their flags. */
  async reexportFlags(scheduleId: string): Promise<Array<WindowKey & { flag: ReexportFlag }>> {
    const starts = await this.redis.zrange(this.key('reexport', scheduleId), '0', '-1');
    if (starts.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const start of starts) pipeline.hmget(this.windowKey(scheduleId, Number(start)), 'end', 'reexport');
    const replies = (await pipeline.exec()) ?? [];
    const flags: Array<WindowKey & { flag: ReexportFlag }> = [];
    replies.forEach(([err, values], i) => {
      if (err) throw err;
      const [end, raw] = values as Array<string | null>;
      if (end && raw) flags.push({ scheduleId, start: Number(starts[i]), end: Number(end), flag: JSON.parse(raw) as ReexportFlag });
    });
    return flags;
  }

  async claimMail(key: WindowKey, owner: string, request: MailClaimRequest): Promise<MailClaim[]> {
    const replies = await this.commands.claimMail!(
      this.deliveryKey(key), this.key('mailclaims'),
      String(Date.now()), owner, String(request.leaseUntil), request.renewOnly ? 'r' : request.force ? '1' : '0', request.via, request.messageId, claimMember(key, ''),
      ...request.addresses,
    ) as Array<[MailClaim['status'], string, string?]>;
    return replies.map(([status, messageId, leaseUntil], i) => ({
      address: request.addresses[i]!, status, messageId, ...(leaseUntil ? { leaseUntil: Number(leaseUntil) } : {}),
    }));
  }

  async settleMail(key: WindowKey, owner: string, outcome: 'sent' | 'release' | 'unknown', entries: ReadonlyArray<{ address: string; record?: DeliveryRecord }>): Promise<void> {
    if (entries.length === 0) return;
    const pairs = entries.flatMap((e) => [e.address, e.record ? JSON.stringify({ state: 'sent', ...e.record }) : '']);
    await this.commands.settleMail!(this.deliveryKey(key), this.key('mailclaims'), owner, outcome, claimMember(key, ''), ...pairs);
  }

  /** Mail claims not settled: in flight (lease running) or of unknown outcome. */
  async openMailClaims(now: number): Promise<OpenMailClaim[]> {
    const members = await this.redis.zrange(this.key('mailclaims'), '0', '-1');
    const claims: OpenMailClaim[] = [];
    for (const member of members) {
      const [scheduleId, start, address] = member.split('|') as [string, string, string];
      const raw = await this.redis.hget(this.key('d', scheduleId, start), `mail:${address}`);
      if (!raw) continue;
      const claim = JSON.parse(raw) as { state?: string; owner?: string; via?: string; messageId?: string; leaseUntil?: number };
      if (claim.state !== 'claimed' && claim.state !== 'unknown') continue;
      const live = claim.state === 'claimed' && (claim.leaseUntil ?? 0) > now;
      claims.push({ scheduleId, start: Number(start), address, state: live ? 'in-flight' : 'unknown', owner: claim.owner, via: claim.via, messageId: claim.messageId, leaseUntil: claim.leaseUntil });
    }
    return claims;
  }

  async recordAttempt(run: AttemptRecord): Promise<void> {
    const key = this.key('runs', run.scheduleId);
    await this.redis
      .multi()
      .lpush(key, JSON.stringify(run))
      .ltrim(key, 0, RUNS_KEPT - 1)
      .sadd(this.key('schedules'), run.scheduleId)
      .exec();
  }

  async lastAttempts(scheduleId: string, count = 10): Promise<AttemptRecord[]> {
    const raw = await this.redis.lrange(this.key('runs', scheduleId), 0, Math.max(0, count - 1));
    return raw.map((r) => JSON.parse(r) as AttemptRecord);
  }
}

function toTrimmedRange(from: string | null, through: string | null, count: string | null): TrimmedRange | undefined {
  if (from === null || through === null || from === '' || through === '') return undefined;
  return { from: Number(from), through: Number(through), windows: Number(count ?? 0) };
}

function toBeginResult(reply: unknown): BeginResult {
  if (!Array.isArray(reply)) return { started: true };
  const [code, a, b, c] = reply as [number, string?, string?, string?];
  const optionalNumber = (text: string | undefined) => (text ? Number(text) : undefined);
  switch (code) {
    case 0: return { started: false, result: JSON.parse(String(a)) as unknown };
    case 1: return { started: true, replacesDone: { result: JSON.parse(String(a)) as unknown } };
    case 2: return { started: false, conflictEnd: Number(a) };
    case 3: return { started: false, busy: { owner: a ?? '', leaseUntil: optionalNumber(b), startedAt: optionalNumber(c) } };
    case 5: return { started: true, attempt: Number(a), ...(b !== undefined ? { replacesDone: { result: JSON.parse(b) as unknown } } : {}) };
    default: throw new LedgerUpdateError(`unexpected ledger answer ${JSON.stringify(reply)}`);
  }
}

function checkReply(op: string, key: WindowKey, reply: unknown): unknown {
  if (Array.isArray(reply) && reply[0] === -1) throw new LedgerUpdateError(`ledger update "${op}" of ${key.scheduleId}@${key.start} failed: ${String(reply[1])}`);
  return reply;
}

function toRecord(values: Array<string | null>): WindowRecord | null {
  const [scheduleId, start, end, job, state, attempts, queuedAt, startedAt, finishedAt, lastError, result, jobId, owner, leaseUntil, permanent, retryRounds, reexport] = values;
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
  if (owner && state === 'running') record.owner = owner;
  if (leaseUntil && state === 'running') record.leaseUntil = Number(leaseUntil);
  if (permanent === '1' && state === 'failed') record.permanent = true;
  if (retryRounds) record.retryRounds = Number(retryRounds);
  if (reexport) record.reexport = JSON.parse(reexport) as ReexportFlag;
  return record;
}

/** `<schedule>|<start>|<address>`: a member of the open mail claims index. */
function claimMember(key: WindowKey, address: string): string {
  return `${key.scheduleId}|${key.start}|${address}`;
}

/**
 * The exactly-once log of one (schedule, window), as handed to a job in `JobContext.deliveries`.
 * `owner` is the run holding the window: its mail claims are its own.
 */
export function deliveryLogFor(ledger: Ledger, key: WindowKey, owner: string): DeliveryLog {
  return {
    get: (deliveryId) => ledger.getDelivery(key, deliveryId),
    record: (deliveryId, record) => ledger.recordDelivery(key, deliveryId, { ...record, at: record.at ?? Date.now() }),
    claimMail: (request) => ledger.claimMail(key, owner, request),
    settleMail: (outcome, entries) => ledger.settleMail(key, owner, outcome, entries.map((e) => ({ address: e.address, ...(e.record ? { record: { ...e.record, at: Date.now() } } : {}) }))),
  };
}

/**
 * A delivery log that lives only as long as the run: a preview (`ox-batch run --open`) must
 * neither read nor write the window's exactly-once records.
 */
export function memoryDeliveryLog(): DeliveryLog {
  const records = new Map<string, DeliveryRecord>();
  return {
    get: async (deliveryId) => records.get(deliveryId) ?? null,
    record: async (deliveryId, record) => { records.set(deliveryId, { ...record, at: record.at ?? Date.now() }); },
    claimMail: async (request) => request.addresses.map((address) => ({
      address, messageId: request.messageId, status: records.has(`mail:${address}`) ? 'sent' as const : 'claimed' as const,
    })),
    settleMail: async (outcome, entries) => {
      if (outcome !== 'sent') return;
      for (const e of entries) records.set(`mail:${e.address}`, { ...e.record, at: Date.now() });
    },
  };
}

/** The key of a non-windowed job's records: its deliveries are per schedule. */
export function scheduleKey(scheduleId: string): WindowKey {
  return { scheduleId, start: 0, end: 0 };
}
