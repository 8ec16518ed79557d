/**
 * `--fixture FILE`: exact data to replay a real case (issue 2 §4). Validated so a typo names
 * the file and the field instead of producing a silently different simulator.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../errors.js';
import type { SimFixture } from './sim-types.js';

const credential = z.object({ user: z.string(), password: z.string() });
const integer = z.number().int();

const feedbackRow = z.looseObject({
  contextGroup: z.string().min(1).optional(),
  type: z.string().min(1).optional(),
  date: integer,
  contextId: integer,
  userId: integer,
  score: z.union([z.number().int().min(1), z.string().regex(/^[1-9]\d*$/, 'expected an integer >= 1')]),
  comment: z.string().optional(),
});

const fixtureSchema = z.strictObject({
  feedback: z.array(feedbackRow).optional(),
  users: z.array(z.object({ contextId: integer, userId: integer, login: z.string().min(1), guest: z.boolean().optional() })).optional(),
  passwordChanges: z.array(z.object({ contextId: integer, userId: integer, date: integer, client_id: z.string(), client_address: z.string() })).optional(),
  credentials: z.strictObject({
    rest: credential.nullable().optional(),
    contextAdmins: z.record(z.string().regex(/^\d+$/), credential).optional(),
    master: credential.nullable().optional(),
  }).optional(),
  adConfigs: z.strictObject({
    users: z.record(z.string().regex(/^\d+\/\d+$/, 'expected "<contextId>/<userId>"'), z.unknown()).optional(),
    packages: z.record(z.string().regex(/^[^/]+\/[^/]+$/, 'expected "<reseller>/<package>"'), z.unknown()).optional(),
  }).optional(),
});

export function readFixture(source: string | SimFixture): SimFixture {
  const name = typeof source === 'string' ? source : 'fixture';
  let data: unknown = source;
  if (typeof source === 'string') {
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (err) {
      throw new InputError(`fixture ${source}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new InputError(`fixture ${source}: not JSON (${(err as Error).message})`);
    }
  }
  const parsed = fixtureSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.map(String).join('.') || '(root)';
    throw new InputError(`fixture ${name}: ${at}: ${issue.message}`);
  }
  return parsed.data as SimFixture;
}
