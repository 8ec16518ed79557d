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
 * State changes are Lua scripts so two processes never interleave a read-modify-write: one command
 * per transition in ./commands/ (the state machine is drawn in docs/architecture.md, "The window
 * ledger's states"), their replies decoded by ./replies.ts.
 * The job's result is stored verbatim as JSON text (never decoded in Lua, whose cjson would
 * turn `[]` into `{}`).
 */
import { LedgerUpdateError } from '../errors.js';
import type { RedisClient } from '../redis/connection.js';
import { UpdateBatcher } from './update-batcher.js';
import { ledgerCommands, type LedgerCommands } from './commands/index.js';
import { decodeReply, LedgerReply, type DecodedReply } from './replies.js';
import type {
  BeginResult,
  DeliveryRecord,
  Ledger,
  MailClaim,
  MailClaimRequest,
  OpenMailClaim,
  ReexportFlag,
  AttemptRecord,
  TrimmedRange,
  WindowKey,
  WindowRecord,
  WindowState,
} from './types.js';

const RUNS_KEPT = 100;
/** Longest window (a 31-day month plus a DST hour): bounds range scans by start. */
const LONGEST_WINDOW_MS = 32 * 86_400_000;

/** Windows trimmed per script call. */
const TRIM_BATCH = 500;

const RECORD_FIELDS = [
  'scheduleId',
  'start',
  'end',
  'job',
  'state',
  'attempts',
  'queuedAt',
  'startedAt',
  'finishedAt',
  'lastError',
  'result',
  'jobId',
  'owner',
  'leaseUntil',
  'permanent',
  'retryRounds',
  'reexport',
] as const;

export interface MarkQueuedOptions {
  /** Re-queue a window that is done or marked running (an explicit --force). */
  force?: boolean;
}

/** A window transition: one of the commands updateWindows.lua dispatches to (commands/<name>-<keys>.lua). */
type WindowCommand =
  | 'markQueued'
  | 'markRetryRound'
  | 'beginWindow'
  | 'beginManual'
  | 'renewLease'
  | 'markRunning'
  | 'markDone'
  | 'markFailed'
  | 'markRetrying'
  | 'markAbandoned';

/** One window update: its command, the command's KEYS and ARGV. */
interface Update {
  command: WindowCommand;
  keys: string[];
  args: string[];
}

export class RedisLedger implements Ledger {
  private readonly updates: UpdateBatcher<Update, unknown>;
  private readonly commands: LedgerCommands;

  constructor(
    readonly redis: RedisClient,
    readonly prefix: string,
  ) {
    this.commands = ledgerCommands(redis);
    this.updates = new UpdateBatcher<Update, unknown>((batch) => {
      const keys: string[] = [];
      const args: string[] = [];
      for (const update of batch) {
        keys.push(...update.keys);
        args.push(update.command, String(update.keys.length), String(update.args.length), ...update.args);
      }
      return this.commands.updateWindows!(keys.length, ...keys, ...args) as Promise<unknown[]>;
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

  /**
   * One window transition, sent with the others issued in the same callback in one EVALSHA of
   * updateWindows.lua (ioredis' script cache sends the text once per connection).
   */
  private async transition(update: Update, key: WindowKey): Promise<DecodedReply> {
    return decodeReply(await this.updates.add(update), describeUpdate(update.command, key));
  }

  private async applied(update: Update, key: WindowKey): Promise<boolean> {
    return (await this.transition(update, key)).code === LedgerReply.Applied;
  }

  /** A window transition's KEYS (all five) and ARGV: the five every one takes, then its own. */
  private windowUpdate(command: WindowCommand, key: WindowKey, job: string, ...own: string[]): Update {
    return {
      command,
      keys: [this.windowKey(key.scheduleId, key.start), ...this.scheduleKeys(key.scheduleId)],
      args: [key.scheduleId, String(key.start), String(key.end), job, String(Date.now()), ...own],
    };
  }

  /**
   * markDone without waiting for the reply: `sent` resolves once the write is on this ledger's
   * connection, so a command sent on the same connection afterwards (BullMQ's completion of the
   * job, when this ledger shares the worker's connection) runs after it in Redis. `applied`
   * settles with Redis' answer.
   */
  markDoneInOrder(key: WindowKey, job: string, result: unknown): { sent: Promise<void>; applied: Promise<void> } {
    const { sent, reply } = this.updates.addInOrder(this.windowUpdate('markDone', key, job, JSON.stringify(result ?? null)));
    return {
      sent,
      applied: reply.then((r) => {
        decodeReply(r, describeUpdate('markDone', key));
      }),
    };
  }

  /**
   * The worker's start of a window, in one round trip with the "already done?" check (see
   * `BeginResult`). With `owner` the execution holds the window by a lease (renewLease) like
   * `ox-batch run`; a window held by another live lease answers `busy`, forced or not.
   */
  async beginWindow(
    key: WindowKey,
    job: string,
    attempt: number,
    options: { force?: boolean; owner?: string; leaseUntil?: number } = {},
  ): Promise<BeginResult> {
    const [leaseUntil, owner] = options.owner ? [String(options.leaseUntil ?? 0), options.owner] : ['', ''];
    return toBeginResult(
      await this.transition(this.windowUpdate('beginWindow', key, job, String(attempt), yesNo(options.force), leaseUntil, owner), key),
    );
  }

  /**
   * `ox-batch run`'s start of a window: like `beginWindow`, but the attempt is counted from the
   * record, a window running elsewhere (a worker, or a run whose lease is live) answers `busy`
   * unless forced, and the window is held by `owner` until `leaseUntil` (see `renewLease`).
   */
  async beginManual(key: WindowKey, job: string, options: { owner: string; leaseUntil: number; force?: boolean }): Promise<BeginResult> {
    return toBeginResult(
      await this.transition(
        this.windowUpdate('beginManual', key, job, yesNo(options.force), String(options.leaseUntil), options.owner),
        key,
      ),
    );
  }

  /** Extends the lease of a run that still holds its window; false when it no longer does. */
  async renewLease(key: WindowKey, owner: string, leaseUntil: number): Promise<boolean> {
    return this.applied(
      { command: 'renewLease', keys: [this.windowKey(key.scheduleId, key.start)], args: [owner, String(leaseUntil)] },
      key,
    );
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

  /** Schedule ids (and job names of unscheduled runs) that have ledger entries. Not in `Ledger`: tests read it. */
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
   * `markQueuedIfOpen` without its answer. Not in `Ledger`, like `markRunning`: tests set
   * windows up with them.
   */
  async markQueued(key: WindowKey, job: string, jobId: string, options: MarkQueuedOptions = {}): Promise<void> {
    await this.markQueuedIfOpen(key, job, jobId, options);
  }

  /**
   * Marks a window queued. Without `force` a window that is done or running keeps its state
   * (a late tick must not undo a finished attempt); returns whether the state changed.
   */
  async markQueuedIfOpen(key: WindowKey, job: string, jobId: string, options: MarkQueuedOptions = {}): Promise<boolean> {
    return this.applied(this.windowUpdate('markQueued', key, job, jobId, yesNo(options.force)), key);
  }

  /** Running as `attempt`, held by no lease, whatever the state was (markRunning-5.lua). */
  async markRunning(key: WindowKey, job: string, attempt: number): Promise<void> {
    await this.transition(this.windowUpdate('markRunning', key, job, String(attempt)), key);
  }

  async markDone(key: WindowKey, job: string, result: unknown): Promise<void> {
    await this.transition(this.windowUpdate('markDone', key, job, JSON.stringify(result ?? null)), key);
  }

  /** `permanent`: no retry can fix it (bad input, OX 4xx); the retry clock leaves the window to an operator. */
  async markFailed(key: WindowKey, job: string, error: string, options: { permanent?: boolean } = {}): Promise<void> {
    await this.transition(this.windowUpdate('markFailed', key, job, error.slice(0, 4000), yesNo(options.permanent)), key);
  }

  /**
   * The retry clock's claim of a failed window: queued again, its retry round counted. Answers
   * the round (1, 2, …), or 0 when the window is no longer failed (another replica claimed the
   * round, or it ran meanwhile).
   */
  async markRetryRound(key: WindowKey, job: string, jobId: string): Promise<number> {
    const reply = await this.transition(this.windowUpdate('markRetryRound', key, job, jobId), key);
    return reply.code === LedgerReply.RetryRound ? reply.round : 0;
  }

  /**
   * BullMQ failed the window's job for good without the processor recording it (a job that
   * stalled more than maxStalledCount): failed, unless the window is done or failed already.
   */
  async markAbandoned(key: WindowKey, job: string, error: string): Promise<boolean> {
    return this.applied(this.windowUpdate('markAbandoned', key, job, error.slice(0, 4000)), key);
  }

  /** A try failed and another follows (BullMQ backoff, or aborted by shutdown): queued again, with the error. */
  async markRetrying(key: WindowKey, job: string, error: string): Promise<void> {
    await this.transition(this.windowUpdate('markRetrying', key, job, error.slice(0, 4000)), key);
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
      await this.commands.saveWatermark!(wmKey, gen, String(startAt), String(cursor));
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
      for (const start of starts)
        keys.push(this.windowKey(scheduleId, Number(start)), this.deliveryKey({ scheduleId, start: Number(start), end: 0 }));
      const count = Number(await this.commands.trimDone!(keys.length, ...keys, String(olderThan), String(origin), ...starts));
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
    const reply = await this.commands.flagReexport!(
      this.windowKey(key.scheduleId, key.start),
      this.key('reexport', key.scheduleId),
      String(key.start),
      String(key.end),
      JSON.stringify(flag),
    );
    return decodeReply(reply, `ledger flagReexport of ${key.scheduleId}@${key.start}`).code === LedgerReply.Applied;
  }

  /** Clears the flag a finished re-export was queued for (a newer flag stays). */
  async clearReexport(key: WindowKey, flaggedAt: number): Promise<boolean> {
    const reply = await this.commands.clearReexport!(
      this.windowKey(key.scheduleId, key.start),
      this.key('reexport', key.scheduleId),
      String(key.start),
      String(flaggedAt),
    );
    return decodeReply(reply, `ledger clearReexport of ${key.scheduleId}@${key.start}`).code === LedgerReply.Applied;
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
    const replies = (await this.commands.claimMail!(
      this.deliveryKey(key),
      this.key('mailclaims'),
      String(Date.now()),
      owner,
      String(request.leaseUntil),
      request.renewOnly ? 'r' : request.force ? '1' : '0',
      request.via,
      request.messageId,
      claimMember(key, ''),
      ...request.addresses,
    )) as Array<[MailClaim['status'], string, string?]>;
    return replies.map(([status, messageId, leaseUntil], i) => ({
      address: request.addresses[i]!,
      status,
      messageId,
      ...(leaseUntil ? { leaseUntil: Number(leaseUntil) } : {}),
    }));
  }

  async settleMail(
    key: WindowKey,
    owner: string,
    outcome: 'sent' | 'release' | 'unknown',
    entries: ReadonlyArray<{ address: string; record?: DeliveryRecord }>,
  ): Promise<void> {
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
      claims.push({
        scheduleId,
        start: Number(start),
        address,
        state: live ? 'in-flight' : 'unknown',
        owner: claim.owner,
        via: claim.via,
        messageId: claim.messageId,
        leaseUntil: claim.leaseUntil,
      });
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

/** What a begin (beginWindow-5, beginManual-5) answered, as `BeginResult`. */
function toBeginResult(reply: DecodedReply): BeginResult {
  switch (reply.code) {
    case LedgerReply.Started:
      return {
        started: true,
        ...(reply.attempt !== undefined ? { attempt: reply.attempt } : {}),
        ...(reply.replacesDone ? { replacesDone: reply.replacesDone } : {}),
      };
    case LedgerReply.Done:
      return { started: false, result: reply.result };
    case LedgerReply.OtherWindow:
      return { started: false, conflictEnd: reply.end };
    case LedgerReply.Busy:
      return { started: false, busy: { owner: reply.owner, leaseUntil: reply.leaseUntil, startedAt: reply.startedAt } };
    default:
      throw new LedgerUpdateError(`unexpected answer "${reply.code}" to a begin`);
  }
}

function describeUpdate(command: WindowCommand, key: WindowKey): string {
  return `ledger update "${command}" of ${key.scheduleId}@${key.start}`;
}

/** A yes/no argument of a command. */
function yesNo(value: boolean | undefined): '1' | '0' {
  return value === true ? '1' : '0';
}

function toRecord(values: Array<string | null>): WindowRecord | null {
  const [
    scheduleId,
    start,
    end,
    job,
    state,
    attempts,
    queuedAt,
    startedAt,
    finishedAt,
    lastError,
    result,
    jobId,
    owner,
    leaseUntil,
    permanent,
    retryRounds,
    reexport,
  ] = values;
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
