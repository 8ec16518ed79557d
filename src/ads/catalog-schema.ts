import { z } from 'zod';

/**
 * The catalog's shape, for YAML and JSON files and for CSV rows. Objects are strict: a typo such
 * as `pakages` is reported instead of silently configuring nothing.
 */

/**
 * Any JSON value OX will store, except null: an entry is removed by deleting it from the catalog.
 * A hand-written check, not z.json(): this runs for each of 100,000 users on every sync.
 */
export const adConfig = z.unknown().superRefine((value, ctx) => {
  if (value === undefined) ctx.addIssue({ code: 'custom', message: 'required' });
  else if (value === null) ctx.addIssue({ code: 'custom', message: 'null is not a config; remove the entry to delete its config' });
  else if (!isJsonValue(value))
    ctx.addIssue({ code: 'custom', message: 'not a JSON value (only strings, finite numbers, booleans, null, arrays and objects)' });
});

function isJsonValue(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      if (value === null) return true;
      if (Array.isArray(value)) return value.every(isJsonValue);
      if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return false;
      return Object.values(value).every(isJsonValue);
    default:
      return false;
  }
}

const contextId = z.number({ message: 'expected a context id (positive integer)' }).int().positive();
const userId = z.number({ message: 'expected a user id (positive integer)' }).int().positive();

export const packageSchema = z.strictObject({ config: adConfig });

export const resellerSchema = z.strictObject({
  packages: z.record(z.string(), packageSchema),
});

export const userOverrideSchema = z
  .strictObject({
    contextId,
    userId: userId.optional(),
    login: z.string().min(1, 'expected a login name').optional(),
    config: adConfig,
  })
  .superRefine((user, ctx) => {
    if ((user.userId === undefined) === (user.login === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['userId'], message: 'set exactly one of userId or login' });
    }
  });

export const catalogSchema = z.strictObject({
  resellers: z.record(z.string(), resellerSchema).default({}),
  users: z.array(userOverrideSchema).default([]),
});

export type CatalogDocument = z.output<typeof catalogSchema>;

export const CSV_COLUMNS = ['scope', 'reseller', 'package', 'context_id', 'user_id', 'login', 'config'] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

const blank = (scope: string) =>
  z
    .string()
    .trim()
    .pipe(z.literal('', { message: `must be empty for scope ${scope}` }));
const csvId = (what: string) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `expected a ${what} (positive integer)`)
    .transform(Number)
    .pipe(z.number().int().positive(`expected a ${what} (positive integer)`));
const csvConfig = z
  .string()
  .transform((text, ctx) => {
    if (text.trim() === '') {
      ctx.addIssue({ code: 'custom', message: 'expected a JSON config, found an empty cell' });
      return z.NEVER;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not JSON (${(err as Error).message})` });
      return z.NEVER;
    }
  })
  .pipe(adConfig);

/** Spreadsheets leave stray blanks around names; OX names never carry them. */
const csvName = z.string().trim();

export const csvRowSchema = z.discriminatedUnion(
  'scope',
  [
    z.object({
      scope: z.literal('package'),
      reseller: csvName,
      package: csvName,
      context_id: blank('package'),
      user_id: blank('package'),
      login: blank('package'),
      config: csvConfig,
    }),
    z.object({
      scope: z.literal('user'),
      reseller: blank('user'),
      package: blank('user'),
      context_id: csvId('context id'),
      user_id: csvId('user id'),
      login: blank('user'),
      config: csvConfig,
    }),
    z.object({
      scope: z.literal('name'),
      reseller: blank('name'),
      package: blank('name'),
      context_id: csvId('context id'),
      user_id: blank('name'),
      login: csvName.pipe(z.string().min(1, 'expected a login name')),
      config: csvConfig,
    }),
  ],
  { message: 'scope must be package, user or name' },
);
