/**
 * Schedules from config, checked against the registered job kinds before anything starts:
 * an unknown job kind, a bad cron, an unknown zone, a window on a non-windowed job, or params
 * the job's schema rejects all fail with one InputError naming the schedule and field (exit 2).
 */
import { CronExpressionParser } from 'cron-parser';
import type { Config, ScheduleConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { credentialInUrl, safeUrl } from '../log/secrets.js';
import type { AnyJobKind } from '../job-kind.js';
import { isValidZone, parseInstant } from '../time/parse-time.js';
import { isWindowSize, windowContaining, type WindowSize } from '../time/windows.js';

export interface Schedule {
  id: string;
  kind: AnyJobKind;
  cron?: string;
  every?: number;
  tz: string;
  /** Present exactly for windowed job kinds. */
  window?: WindowSize;
  lagMs: number;
  /** `alertAfter`; absent: one window (non-windowed: one trigger period). */
  alertAfterMs?: number;
  catchUp: number;
  /** Start of the first window (aligned); absent: the first tick pins the last closed one. */
  startAt?: number;
  overlap: 'skip' | 'queue';
  attempts: number;
  /** Windowed: how long after a window failed for good it is queued again (a new round of attempts). */
  retryFailedAfterMs: number;
  /** Windowed: retry rounds before a failed window is left to an operator; absent: unlimited. */
  maxRetries?: number;
  paused: boolean;
  /** Validated by the job kind's schema. */
  params: unknown;
}

export function scheduleError(id: string, field: string, message: string): InputError {
  return new InputError(`schedule ${id}: ${field}: ${message}`);
}

/**
 * Validates params against a job kind's zod schema; the error names the offending field. Params
 * are job data (kept in Redis, shown on the dashboard): a URL in them that carries credentials
 * (user info, a secret query parameter) is refused here, in the one path config, CLI and worker
 * all take, with the value masked.
 */
export function validateParams(kind: AnyJobKind, params: unknown, where: string): unknown {
  const secret = credentialIn(params ?? {}, '');
  if (secret) {
    const { path, value, found } = secret;
    const what = 'userInfo' in found ? 'credentials (URL user info)' : `a secret query parameter "${found.queryParam}"`;
    throw new InputError(
      `${where}: params${path}: ${JSON.stringify(safeUrl(value))} carries ${what}; job params are kept in Redis, so keep secrets ` +
        `in the config (for catalogs: ads.catalogAuth.user / .password / .token, env ADS_CATALOG_USER, ADS_CATALOG_PASSWORD, ADS_CATALOG_TOKEN, each also as *_FILE). ` +
        'A literal @ in a URL is written %40',
    );
  }
  // The boundary where a ZodError arises: it leaves here only as the cause of an InputError.
  const parsed = kind.params.safeParse(params ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue && issue.path.length > 0 ? `.${issue.path.map(String).join('.')}` : '';
  throw new InputError(`${where}: params${path}: ${issue?.message ?? 'invalid'} (job ${kind.name})`, { cause: parsed.error });
}

export function resolveSchedule(
  id: string,
  raw: ScheduleConfig,
  config: Pick<Config, 'timezone'>,
  kinds: ReadonlyArray<AnyJobKind>,
): Schedule {
  const kind = kinds.find((k) => k.name === raw.job);
  if (!kind) {
    const known = kinds.map((k) => k.name).join(', ') || '(none registered)';
    throw scheduleError(id, 'job', `unknown job kind "${raw.job}" (known: ${known})`);
  }
  const tz = raw.tz ?? config.timezone;
  if (!isValidZone(tz)) throw scheduleError(id, 'tz', `unknown time zone "${tz}"`);
  if ((raw.cron === undefined) === (raw.every === undefined)) throw scheduleError(id, 'cron', 'set exactly one of cron or every');
  if (raw.cron !== undefined) {
    const fields = raw.cron.trim().split(/\s+/).length;
    // cron-parser fills in missing fields; a 4-field pattern is a typo, not "every day".
    if (fields < 5 || fields > 6)
      throw scheduleError(
        id,
        'cron',
        `"${raw.cron}" has ${fields} fields; expected 5 (minute hour day month weekday) or 6 (with seconds first)`,
      );
    try {
      CronExpressionParser.parse(raw.cron, { tz });
    } catch (err) {
      throw scheduleError(id, 'cron', `"${raw.cron}" is not a cron pattern (${(err as Error).message})`);
    }
  }
  if (raw.every !== undefined && !(raw.every >= 1000)) throw scheduleError(id, 'every', `${raw.every} ms is too short (at least 1s)`);
  let window: WindowSize | undefined;
  if (kind.windowed) {
    if (raw.window === undefined)
      throw scheduleError(id, 'window', `job ${kind.name} works on time windows: set window to 1h, 1d, 1w or 1M`);
    if (!isWindowSize(raw.window)) throw scheduleError(id, 'window', `"${raw.window}" is not one of 1h, 1d, 1w, 1M`);
    window = raw.window;
  } else if (raw.window !== undefined) {
    throw scheduleError(id, 'window', `job ${kind.name} does not work on time windows; remove window`);
  }
  if (!Number.isFinite(raw.lag) || raw.lag < 0) throw scheduleError(id, 'lag', `${String(raw.lag)} is not a duration`);
  let startAt: number | undefined;
  if (raw.startAt !== undefined) {
    if (!window) throw scheduleError(id, 'startAt', 'only windowed schedules have a first window');
    try {
      startAt = windowContaining(window, tz, parseInstant(raw.startAt, tz, `schedule ${id}: startAt`)).start;
    } catch (err) {
      throw scheduleError(id, 'startAt', (err as Error).message.replace(/^schedule \S+: startAt: /, ''));
    }
  }
  const params = validateParams(kind, raw.params, `schedule ${id}`);
  if (raw.retryFailedAfter !== undefined && !(raw.retryFailedAfter >= 1000)) {
    throw scheduleError(id, 'retryFailedAfter', `${raw.retryFailedAfter} ms is too short (at least 1s)`);
  }
  const trigger = { cron: raw.cron, every: raw.every, tz };
  return {
    id,
    kind,
    cron: raw.cron,
    every: raw.every,
    tz,
    window,
    lagMs: raw.lag,
    ...(raw.alertAfter !== undefined ? { alertAfterMs: raw.alertAfter } : {}),
    catchUp: raw.catchUp,
    startAt,
    overlap: raw.overlap,
    attempts: raw.attempts,
    retryFailedAfterMs: raw.retryFailedAfter ?? Math.min(HOUR_MS, triggerPeriod(trigger)),
    ...(raw.maxRetries !== undefined ? { maxRetries: raw.maxRetries } : {}),
    paused: raw.paused,
    params,
  };
}

/** Every schedule of the config; the first problem found throws. */
export function resolveSchedules(config: Pick<Config, 'timezone' | 'schedules'>, kinds: ReadonlyArray<AnyJobKind>): Schedule[] {
  return Object.entries(config.schedules).map(([id, raw]) => resolveSchedule(id, raw, config, kinds));
}

const HOUR_MS = 3_600_000;

/**
 * The shortest gap between consecutive firings over the next few (a cron such as "0 2 * * 1-5"
 * fires at uneven gaps; the shortest one is what an operator thinks of as its period).
 */
export function triggerPeriod(trigger: Pick<Schedule, 'cron' | 'every' | 'tz'>, from: number = Date.UTC(2026, 0, 1)): number {
  if (trigger.every !== undefined) return trigger.every;
  const cron = CronExpressionParser.parse(trigger.cron!, { tz: trigger.tz, currentDate: new Date(from) });
  let previous = cron.next().getTime();
  let shortest = Infinity;
  for (let i = 0; i < 8; i++) {
    const next = cron.next().getTime();
    shortest = Math.min(shortest, next - previous);
    previous = next;
  }
  return shortest;
}

/** Next firing of the schedule's trigger after `now` (for `ox-batch schedules`). */
export function nextFiring(schedule: Schedule, now: number): number | undefined {
  if (schedule.cron !== undefined) {
    try {
      return CronExpressionParser.parse(schedule.cron, { tz: schedule.tz, currentDate: new Date(now) })
        .next()
        .getTime();
    } catch {
      return undefined;
    }
  }
  if (schedule.every !== undefined) return Math.floor(now / schedule.every) * schedule.every + schedule.every;
  return undefined;
}

/** The first string at any depth of `value` that is a URL carrying credentials, with its path. */
function credentialIn(
  value: unknown,
  path: string,
): { path: string; value: string; found: NonNullable<ReturnType<typeof credentialInUrl>> } | undefined {
  if (typeof value === 'string') {
    const found = credentialInUrl(value);
    return found ? { path, value, found } : undefined;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const hit = credentialIn(item, `${path}[${i}]`);
      if (hit) return hit;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const hit = credentialIn(item, `${path}.${key}`);
      if (hit) return hit;
    }
  }
  return undefined;
}
