/**
 * `--fixture FILE`: exact data to replay a real case (issue 2 §4). Validated so a typo names
 * the file and the field instead of producing a silently different simulator.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { questionProblem, scoreProblem } from './feedback-fields.js';
import type { SimFixture } from './sim-types.js';

const credential = z.object({ user: z.string(), password: z.string() });
const integer = z.number().int();

const integerLike = z.union([z.number().int(), z.string().regex(/^\d+$/, 'expected an integer')]);

const feedbackRow = z
  .looseObject({
    contextGroup: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    date: integer,
    contextId: integer,
    userId: integer,
    score: integerLike,
    questionid: integerLike.optional(),
    comment: z.string().optional(),
    extraKeys: z.record(z.string().min(1), z.string()).optional(),
  })
  .superRefine((row, ctx) => {
    // The range depends on the type: star-rating-v1 1..5 stars, nps-v1 0..10.
    const type = row.type ?? 'star-rating-v1';
    const badScore = scoreProblem(type, Number(row.score));
    if (badScore) ctx.addIssue({ code: 'custom', path: ['score'], message: `expected ${badScore}, got ${JSON.stringify(row.score)}` });
    if (row.questionid === undefined) return;
    const badQuestion = type === 'nps-v1' ? questionProblem(Number(row.questionid)) : 'absent (only nps-v1 has a question id)';
    if (badQuestion)
      ctx.addIssue({ code: 'custom', path: ['questionid'], message: `expected ${badQuestion}, got ${JSON.stringify(row.questionid)}` });
  });

const fixtureSchema = z.strictObject({
  feedback: z.array(feedbackRow).optional(),
  users: z.array(z.object({ contextId: integer, userId: integer, login: z.string().min(1), guest: z.boolean().optional() })).optional(),
  passwordChanges: z
    .array(z.object({ contextId: integer, userId: integer, date: integer, client_id: z.string(), client_address: z.string() }))
    .optional(),
  credentials: z
    .strictObject({
      rest: credential.nullable().optional(),
      contextAdmins: z.record(z.string().regex(/^\d+$/), credential).optional(),
      master: credential.nullable().optional(),
    })
    .optional(),
  adConfigs: z
    .strictObject({
      users: z.record(z.string().regex(/^\d+\/\d+$/, 'expected "<contextId>/<userId>"'), z.unknown()).optional(),
      packages: z.record(z.string().regex(/^[^/]+\/[^/]+$/, 'expected "<reseller>/<package>"'), z.unknown()).optional(),
    })
    .optional(),
});

export function readFixture(source: string | SimFixture): SimFixture {
  const name = typeof source === 'string' ? source : 'fixture';
  let data: unknown = source;
  if (typeof source === 'string') {
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (err) {
      throw new InputError(`fixture ${source}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    }
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new InputError(`fixture ${source}: not JSON (${(err as Error).message})`, { cause: err });
    }
  }
  const parsed = fixtureSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.map(String).join('.') || '(root)';
    throw new InputError(`fixture ${name}: ${at}: ${issue.message}`, { cause: parsed.error });
  }
  return parsed.data as SimFixture;
}
