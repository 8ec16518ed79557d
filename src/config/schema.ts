import { z } from 'zod';
import { CronExpressionParser } from 'cron-parser';
import { isValidZone, parseDuration } from '../time/parse-time.js';
import { hashTagOf, isClusterUrl, redisTarget } from '../redis/target.js';
import { WINDOW_SIZES } from '../time/windows.js';

/** `30s`, `5m`, `2h`, `90d` or a number of milliseconds. Parsed to ms. */
export const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration like 30s, 5m, 2h, 90d' });
    return z.NEVER;
  }
});

export const timeZone = z.string().refine(isValidZone, { message: 'expected an IANA time zone like Europe/Berlin or UTC' });

const credential = z.object({ user: z.string().min(1), password: z.string().min(1) });
export type Credential = z.infer<typeof credential>;

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

export const oxSchema = z.object({
  url: z.url({ message: 'expected an http(s) URL of the OX server, e.g. http://ox.example:8009' }),
  user: optionalString,
  password: optionalString,
  admin: z
    .object({
      user: optionalString,
      password: optionalString,
      contexts: z.record(z.string().regex(/^\d+$/, 'context ids are numbers'), credential).default({}),
    })
    .prefault({}),
  pool: z
    .object({
      connections: z.number().int().min(1).default(16),
      keepAliveMs: duration.default(30_000),
    })
    .prefault({}),
  timeouts: z
    .object({
      connectMs: duration.default(10_000),
      headersMs: duration.default(60_000),
      bodyMs: duration.default(300_000),
    })
    .prefault({}),
  /** Cap of a non-streaming answer (send, delete, advertisement, passwd-changes). */
  maxAnswerBytes: z
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
  retry: z
    .object({
      attempts: z.number().int().min(1).max(50).default(5),
      baseDelayMs: duration.default(500),
      maxDelayMs: duration.default(30_000),
      maxRetryAfterMs: duration.default(120_000),
    })
    .prefault({}),
});

export const scheduleSchema = z
  .object({
    job: z.string().min(1),
    cron: z.string().optional(),
    every: duration.optional(),
    tz: timeZone.optional(),
    window: z.enum(WINDOW_SIZES).optional(),
    lag: duration.default(300_000),
    /** A closed window not done by end + lag + alertAfter is overdue (metric, alert); default one window (runs: one period). */
    alertAfter: duration.optional(),
    catchUp: z.number().int().min(1).max(10_000).default(31),
    startAt: z
      .union([z.string(), z.number(), z.date()])
      .optional()
      .transform((v) => (v instanceof Date ? v.toISOString() : v === undefined ? undefined : String(v))),
    overlap: z.enum(['skip', 'queue']).default('skip'),
    attempts: z.number().int().min(1).max(100).default(5),
    /** A window whose attempts ran out is queued again this long after it failed (default: min(1h, the trigger's period)). */
    retryFailedAfter: duration.optional(),
    /** Rounds of retries for a failed window (each a fresh set of `attempts`); absent: unlimited. */
    maxRetries: z.number().int().min(0).optional(),
    paused: z.boolean().default(false),
    params: z.record(z.string(), z.unknown()).default({}),
  })
  .superRefine((s, ctx) => {
    if ((s.cron === undefined) === (s.every === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['cron'], message: 'set exactly one of cron or every' });
    }
    if (s.cron !== undefined) {
      try {
        CronExpressionParser.parse(s.cron, { tz: s.tz ?? 'UTC' });
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['cron'], message: `not a cron pattern (${(err as Error).message})` });
      }
    }
  });
export type ScheduleConfig = z.infer<typeof scheduleSchema>;

export const archiveSchema = z
  .object({
    kind: z.enum(['fs', 's3']).default('fs'),
    dir: z.string().default('./var/archive'),
    bucket: optionalString,
    prefix: z.string().default(''),
    endpoint: optionalString,
    // Empty: loadConfig fills in AWS_REGION / AWS_DEFAULT_REGION; neither set: us-east-1.
    region: z
      .string()
      .optional()
      .transform((v) => v || 'us-east-1'),
    forcePathStyle: z.boolean().default(false),
    accessKeyId: optionalString,
    secretAccessKey: optionalString,
    partSizeBytes: z
      .number()
      .int()
      .min(5 * 1024 * 1024)
      .default(5 * 1024 * 1024),
    linkTtl: duration.default(7 * 86_400_000),
  })
  .superRefine((a, ctx) => {
    if (a.kind === 's3' && !a.bucket)
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: 'required when archive.kind is s3 (S3_BUCKET)' });
    if (a.bucket !== undefined && a.bucket.length < 3)
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: 'S3 bucket names have at least 3 characters' });
  });

export const configSchema = z.object({
  timezone: timeZone.default('UTC'),
  logging: z.object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') }).prefault({}),
  ox: oxSchema,
  redis: z
    .object({
      url: z
        .string()
        .regex(
          /^rediss?(\+sentinel|\+cluster)?:\/\//,
          'expected redis://host:port, rediss://…, redis+sentinel://host:port,…/primaryName or redis+cluster://host:port,…',
        )
        .superRefine((url, ctx) => {
          try {
            redisTarget(url);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^redis\.url: /, '') });
          }
        }),
      // YAML reads an unquoted `{oxb}` as a mapping: say how to write it.
      prefix: z
        .string({
          error: (issue) =>
            typeof issue.input === 'object' && issue.input !== null
              ? 'expected a string; quote a hash tag in YAML: prefix: "{oxb}"'
              : 'expected a string',
        })
        .min(1)
        .regex(/^[^:\s]+$/, 'no colons or spaces; use {braces} for Redis Cluster'),
    })
    .superRefine((redis, ctx) => {
      // Every Lua script and MULTI of BullMQ and the ledger touches several keys: on a cluster they
      // must share a slot, which only a hash tag in the prefix gives them.
      if (isClusterUrl(redis.url) && hashTagOf(redis.prefix) === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['prefix'],
          message: `on Redis Cluster the prefix needs a hash tag, e.g. {${redis.prefix.replace(/[{}]/g, '') || 'oxb'}}, so all its keys share one slot`,
        });
      }
    }),
  http: z
    .object({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(9464),
    })
    .prefault({}),
  ui: z
    .object({
      user: optionalString,
      password: optionalString,
      allowActions: z.boolean().default(false),
    })
    .prefault({}),
  worker: z
    .object({
      concurrency: z.number().int().min(1).max(256).default(4),
      shutdownGraceMs: duration.default(30_000),
      closeTimeoutMs: duration.default(10_000),
      lockDurationMs: duration.default(30_000),
      stalledIntervalMs: duration.default(30_000),
      keepCompleted: z.object({ age: duration.default(7 * 86_400_000), count: z.number().int().min(0).default(1000) }).prefault({}),
      keepFailed: z.object({ age: duration.default(30 * 86_400_000), count: z.number().int().min(0).default(5000) }).prefault({}),
      eventsMaxLen: z.number().int().min(100).default(10_000),
      backoffMs: duration.default(5_000),
    })
    .prefault({}),
  ledger: z
    .object({
      // 0 keeps every window record; otherwise done windows older than this are trimmed.
      keepDone: duration
        .refine((ms) => ms === 0 || ms >= 86_400_000, { message: 'expected 0 (keep every record) or at least 1d, e.g. 400d' })
        .default(0),
    })
    .prefault({}),
  spool: z.object({ dir: optionalString, staleAfter: duration.default(86_400_000) }).prefault({}),
  archive: archiveSchema.prefault({}),
  mail: z
    .object({
      smtp: optionalString,
      from: z.string().default('ox-batch@localhost'),
      to: z.array(z.string()).default([]),
      maxAttachmentBytes: z
        .number()
        .int()
        .min(1)
        .default(20 * 1024 * 1024),
      claimLeaseMs: duration.default(15 * 60_000),
    })
    .prefault({}),
  alerts: z
    .object({
      /** Slack-compatible incoming-webhook URL (a secret: its path is the credential). */
      webhook: optionalString.pipe(z.url({ message: 'expected the http(s) URL of an incoming webhook' }).optional()),
      mailTo: z.array(z.string()).default([]),
      checkEvery: duration.default(60_000),
    })
    .prefault({}),
  ads: z
    .object({
      concurrency: z.number().int().min(1).max(256).default(16),
      ratePerSecond: z.number().min(0).default(500),
      maxDeleteFraction: z.number().min(0).max(1).default(0.1),
      maxDeleteCount: z.number().int().min(0).default(5),
      /** Catalogs larger than this are refused before they are parsed. */
      maxCatalogBytes: z
        .number()
        .int()
        .min(1)
        .default(64 * 1024 * 1024),
      /** Credentials for http(s) catalogs (never in the catalog URL of a job: params live in Redis). */
      catalogAuth: z.object({ user: optionalString, password: optionalString, token: optionalString }).prefault({}),
      /** S3 credentials for s3:// catalogs; empty: those of archive.* (endpoint, region, path style always from archive.*). */
      catalogS3: z.object({ accessKeyId: optionalString, secretAccessKey: optionalString }).prefault({}),
    })
    .prefault({}),
  passwd: z
    .object({
      concurrency: z.number().int().min(1).max(256).default(8),
      historySize: z.number().int().min(1).default(10),
    })
    .prefault({}),
  schedules: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'schedule ids use letters, digits, . _ -'), scheduleSchema).default({}),
});

export type Config = z.infer<typeof configSchema>;
export type OxConfig = Config['ox'];
export type ArchiveConfig = Config['archive'];
export type MailConfig = Config['mail'];
