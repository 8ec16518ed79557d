/**
 * The error family (src/errors.ts): every class's stable code, whether it is retryable or
 * permanent, and the exit code that follows from it; causes kept through wraps; the CLI's
 * exit code taken from the class. The spawned CLI's exit 2 for input and 1 for a failed OX or
 * Redis are asserted by test/cli/bad-input.test.ts and test/ox/answer-cap-cli.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  DeliveryError,
  ERROR_CODES,
  EXIT_FAILURE,
  EXIT_USAGE,
  InputError,
  LedgerUpdateError,
  LockedParamError,
  MailBusyError,
  OxBatchError,
  RedisUnavailableError,
  RefusedError,
  exitCodeOf,
  isPermanent,
  isRetryable,
} from '../src/errors.js';
import { OxError, type OxErrorKind } from '../src/ox/ox-error.js';
import { JsonArrayFormatError, parseJsonArray } from '../src/ox/json-array-stream.js';
import { CatalogError, parseCatalog } from '../src/ads/parse-catalog.js';
import { TransientCatalogError } from '../src/ads/catalog-source.js';
import { AdsSyncIncompleteError } from '../src/ads/sync-ads.js';
import { ColumnsGrew } from '../src/export/raw-columns.js';
import { OpenWindowError } from '../src/queue/closed-window.js';
import { RefusedJobDataError } from '../src/queue/job-data.js';
import { AttemptError, WindowBusyError, WindowConflictError, describeError, executeAttempt } from '../src/queue/attempt.js';
import { validateParams } from '../src/queue/schedules.js';
import { reportError } from '../src/cli/cli-support.js';
import { defineJob } from '../src/job-kind.js';
import { createServices, type ClosableServices } from '../src/services.js';
import { silentLogger } from '../src/log/logger.js';
import { packageRoot } from '../src/package-root.js';
import type { RedisClient } from '../src/redis/connection.js';
import { deleteKeys, plainRedis, testConfig, testPrefix } from './daemon/helpers.js';

const window = { start: Date.UTC(2026, 2, 1), end: Date.UTC(2026, 2, 2) };
const ox = (kind: OxErrorKind, retryable: boolean, extra: Partial<ConstructorParameters<typeof OxError>[0]> = {}) =>
  new OxError({ operation: 'feedback.export', kind, retryable, ...extra });

/** One of every class, with what it must say of itself. */
const family: Array<{ error: OxBatchError; code: string; retryable: boolean; permanent: boolean; exitCode: number }> = [
  { error: new InputError('bad'), code: 'OXB_INPUT', retryable: false, permanent: true, exitCode: EXIT_USAGE },
  {
    error: new CatalogError('c.yaml', ['c.yaml:1: x: required']),
    code: 'OXB_CATALOG_INVALID',
    retryable: false,
    permanent: true,
    exitCode: EXIT_USAGE,
  },
  {
    error: new WindowConflictError('j', 's', window, window.end + 1),
    code: 'OXB_WINDOW_CONFLICT',
    retryable: false,
    permanent: true,
    exitCode: EXIT_USAGE,
  },
  { error: new RefusedError('no'), code: 'OXB_REFUSED', retryable: false, permanent: true, exitCode: EXIT_USAGE },
  { error: new LockedParamError('locked'), code: 'OXB_LOCKED_PARAM', retryable: false, permanent: true, exitCode: EXIT_USAGE },
  {
    error: new OpenWindowError('open', window, window.end, false),
    code: 'OXB_WINDOW_OPEN',
    retryable: false,
    permanent: true,
    exitCode: EXIT_USAGE,
  },
  {
    error: new WindowBusyError('j', 's', window, { owner: 'run:h:1', leaseUntil: window.end }),
    code: 'OXB_WINDOW_BUSY',
    retryable: false,
    permanent: true,
    exitCode: EXIT_USAGE,
  },
  { error: ox('http', true, { status: 503 }), code: 'OXB_OX_HTTP', retryable: true, permanent: false, exitCode: EXIT_FAILURE },
  {
    error: ox('http', false, { status: 404, oxCode: 'FEEDBACK-0003' }),
    code: 'OXB_OX_HTTP',
    retryable: false,
    permanent: true,
    exitCode: EXIT_FAILURE,
  },
  { error: ox('network', true), code: 'OXB_OX_NETWORK', retryable: true, permanent: false, exitCode: EXIT_FAILURE },
  { error: ox('timeout', true), code: 'OXB_OX_TIMEOUT', retryable: true, permanent: false, exitCode: EXIT_FAILURE },
  // Not retried by the OX client, yet not permanent: the job goes back to the queue.
  { error: ox('aborted', false), code: 'OXB_OX_ABORTED', retryable: false, permanent: false, exitCode: EXIT_FAILURE },
  { error: ox('protocol', false), code: 'OXB_OX_PROTOCOL', retryable: false, permanent: true, exitCode: EXIT_FAILURE },
  {
    error: ox('protocol', false, { status: 200, answerCode: 'OXB_UNEXPECTED_ANSWER' }),
    code: 'OXB_UNEXPECTED_ANSWER',
    retryable: false,
    permanent: true,
    exitCode: EXIT_FAILURE,
  },
  {
    error: ox('protocol', false, { status: 200, answerCode: 'OXB_ANSWER_TOO_LARGE' }),
    code: 'OXB_ANSWER_TOO_LARGE',
    retryable: false,
    permanent: true,
    exitCode: EXIT_FAILURE,
  },
  {
    error: new JsonArrayFormatError('expected a JSON array'),
    code: 'OXB_MALFORMED_JSON',
    retryable: false,
    permanent: true,
    exitCode: EXIT_FAILURE,
  },
  {
    error: new DeliveryError('S3 put failed (HTTP 503)', true),
    code: 'OXB_DELIVERY',
    retryable: true,
    permanent: false,
    exitCode: EXIT_FAILURE,
  },
  {
    error: new DeliveryError('S3 put failed (HTTP 403)', false),
    code: 'OXB_DELIVERY',
    retryable: false,
    permanent: true,
    exitCode: EXIT_FAILURE,
  },
  { error: new MailBusyError('busy', Date.now()), code: 'OXB_MAIL_BUSY', retryable: true, permanent: false, exitCode: EXIT_FAILURE },
  {
    error: new TransientCatalogError('catalog https://cms.example/c.json: HTTP 503', 1_000),
    code: 'OXB_CATALOG_UNAVAILABLE',
    retryable: true,
    permanent: false,
    exitCode: EXIT_FAILURE,
  },
  {
    error: new AdsSyncIncompleteError({
      catalog: 'c',
      full: false,
      dryRun: false,
      plan: { toSend: 2 } as never,
      applied: { failed: 1, failures: [{ key: 'k', error: 'e' }] } as never,
    }),
    code: 'OXB_ADS_INCOMPLETE',
    retryable: true,
    permanent: false,
    exitCode: EXIT_FAILURE,
  },
  {
    error: new LedgerUpdateError('unexpected ledger answer'),
    code: 'OXB_LEDGER',
    retryable: true,
    permanent: false,
    exitCode: EXIT_FAILURE,
  },
  {
    error: new RedisUnavailableError('Redis is not reachable'),
    code: 'OXB_REDIS_UNAVAILABLE',
    retryable: true,
    permanent: false,
    exitCode: EXIT_FAILURE,
  },
  { error: new ColumnsGrew(['extra']), code: 'OXB_COLUMNS_GREW', retryable: true, permanent: false, exitCode: EXIT_FAILURE },
  {
    error: new AttemptError('failed', 'failed', 1, { cause: new InputError('bad') }),
    code: 'OXB_ATTEMPT_FAILED',
    retryable: false,
    permanent: true,
    exitCode: EXIT_USAGE,
  },
  {
    error: new AttemptError('failed', 'retry', 1, { cause: ox('http', true, { status: 500 }) }),
    code: 'OXB_ATTEMPT_FAILED',
    retryable: true,
    permanent: false,
    exitCode: EXIT_FAILURE,
  },
  {
    error: new AttemptError('failed', 'aborted', 1, { cause: ox('aborted', false) }),
    code: 'OXB_ATTEMPT_FAILED',
    retryable: true,
    permanent: false,
    exitCode: EXIT_FAILURE,
  },
  // A bug or a library's error says nothing of itself: not permanent, the attempts decide.
  {
    error: new AttemptError('failed', 'failed', 1, { cause: new TypeError('x is undefined') }),
    code: 'OXB_ATTEMPT_FAILED',
    retryable: true,
    permanent: false,
    exitCode: EXIT_FAILURE,
  },
];

describe('the error family', () => {
  it.each(family.map((f) => [`${f.error.constructor.name} ${f.code}${f.error instanceof OxError ? ` ${f.error.kind}` : ''}`, f] as const))(
    '%s says its code, retryability and exit code itself',
    (_, f) => {
      expect(f.error).toBeInstanceOf(OxBatchError);
      expect({ code: f.error.code, retryable: f.error.retryable, permanent: f.error.permanent, exitCode: f.error.exitCode }).toEqual({
        code: f.code,
        retryable: f.retryable,
        permanent: f.permanent,
        exitCode: f.exitCode,
      });
      expect(isRetryable(f.error)).toBe(f.retryable);
      expect(isPermanent(f.error)).toBe(f.permanent);
      expect(exitCodeOf(f.error)).toBe(f.exitCode);
    },
  );

  it('covers every code, and the README lists every one', () => {
    expect(new Set(family.map((f) => f.code))).toEqual(new Set(ERROR_CODES));
    const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
    for (const code of [...ERROR_CODES, 'OXB_JOB_DATA_REFUSED']) expect(readme, code).toContain(`\`${code}\``);
  });

  it('keeps the names that ledger reasons and log lines show', () => {
    expect(new LockedParamError('x').name).toBe('RefusedError');
    expect(new WindowConflictError('j', 's', window, window.end + 1).name).toBe('InputError');
    expect(new CatalogError('c', ['p']).name).toBe('InputError');
    expect(ox('http', false).name).toBe('OxError');
    expect(new MailBusyError('m', 0).name).toBe('DeliveryError');
  });

  it("OxError keeps OX's own code apart from its own, and in its message", () => {
    const err = ox('http', false, { status: 404, oxCode: 'FEEDBACK-0003', errorDesc: 'no such feed', reason: 'Not Found' });
    expect(err).toMatchObject({ code: 'OXB_OX_HTTP', oxCode: 'FEEDBACK-0003' });
    expect(err.message).toBe('OX feedback.export failed: HTTP 404 Not Found FEEDBACK-0003 - no such feed');
    expect(err.withAttempts(3)).toMatchObject({ code: 'OXB_OX_HTTP', oxCode: 'FEEDBACK-0003', attempts: 3 });
  });

  it("a refused job data error carries the family's members though it extends BullMQ's class", () => {
    const err = new RefusedJobDataError('the data is not an object');
    expect(err).toMatchObject({ name: 'UnrecoverableError', code: 'OXB_JOB_DATA_REFUSED', retryable: false });
    expect(exitCodeOf(err)).toBe(EXIT_FAILURE);
  });

  it('outside the family nothing is retryable or permanent, and a command exits 1', () => {
    for (const err of [new Error('x'), new z.ZodError([]), Object.assign(new Error('loose'), { retryable: false }), 'a string']) {
      expect(isRetryable(err)).toBe(false);
      expect(isPermanent(err)).toBe(false);
      expect(exitCodeOf(err)).toBe(EXIT_FAILURE);
    }
  });
});

describe('wraps keep the cause', () => {
  it("a ZodError from job params leaves validateParams only as an InputError's cause", () => {
    const kind = defineJob({
      name: 'test.params',
      description: 'params only',
      windowed: false,
      params: z.object({ rows: z.number() }),
      async run() {
        return null;
      },
    });
    let thrown: unknown;
    try {
      validateParams(kind, { rows: 'many' }, 'job test.params');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).message).toBe(
      'job test.params: params.rows: Invalid input: expected number, received string (job test.params)',
    );
    expect((thrown as InputError).cause).toBeInstanceOf(z.ZodError);
  });

  it("a catalog that is not JSON is a CatalogError whose cause is the parser's", () => {
    let thrown: unknown;
    try {
      parseCatalog('{ "resellers": ', { source: 'c.json', format: 'json' });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(CatalogError);
    expect((thrown as CatalogError).cause).toBeInstanceOf(SyntaxError);
  });

  it("a JSON array element that does not parse keeps the parser's error", async () => {
    const read = async () => {
      for await (const element of parseJsonArray([Buffer.from('[{"a":1},{"a":tru}]')])) void element;
    };
    const thrown = await read().catch((err: unknown) => err);
    expect(thrown).toBeInstanceOf(JsonArrayFormatError);
    expect((thrown as JsonArrayFormatError).cause).toBeInstanceOf(SyntaxError);
  });

  it('an OxError keeps its cause through withAttempts', () => {
    const cause = new Error('ECONNRESET');
    expect(ox('network', true, { cause }).withAttempts(4).cause).toBe(cause);
  });
});

describe('an attempt classifies by the class of what the job threw', () => {
  const prefix = testPrefix();
  let redis: RedisClient;
  let services: ClosableServices;
  beforeAll(() => {
    redis = plainRedis();
    services = createServices(testConfig(prefix), { log: silentLogger(), redis });
  });
  afterAll(async () => {
    await services.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  const throwing = (thrown: unknown) =>
    defineJob({
      name: 'test.throws',
      description: 'throws what it is given',
      windowed: true,
      params: z.object({}),
      async run() {
        throw thrown;
      },
    });

  // Each case its own schedule id, so the cases share no ledger records.
  it.each([
    ['an InputError', 'input', new InputError('catalog.csv: row 3: bad'), true, EXIT_USAGE],
    ['a non-retryable OxError', 'ox-404', ox('http', false, { status: 404 }), true, EXIT_FAILURE],
    ['a retryable OxError', 'ox-503', ox('http', true, { status: 503 }), false, EXIT_FAILURE],
    ['an aborted OxError', 'ox-aborted', ox('aborted', false), false, EXIT_FAILURE],
    ['a ZodError a job let escape (a bug: not classified by its name)', 'zod', new z.ZodError([]), false, EXIT_FAILURE],
  ] as const)('%s', async (_, scheduleId, thrown, permanent, exitCode) => {
    const err = await executeAttempt({ kind: throwing(thrown), services, scheduleId, window, attempt: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AttemptError);
    const attemptError = err as AttemptError;
    expect(attemptError.cause).toBe(thrown);
    expect({ permanent: attemptError.permanent, exitCode: attemptError.exitCode }).toEqual({ permanent, exitCode });
    expect(await services.ledger.getWindow({ scheduleId, ...window })).toMatchObject({ state: 'failed', lastError: describeError(thrown) });
    expect((await services.ledger.getWindow({ scheduleId, ...window }))?.permanent === true).toBe(permanent);
  });
});

describe('the CLI exit code follows from the class', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    ['an InputError', new InputError('--param "x": expected key=value'), EXIT_USAGE],
    ['a RefusedError', new RefusedError('refused: nothing verified'), EXIT_USAGE],
    ['a WindowBusyError', new WindowBusyError('j', 's', window, { owner: '' }), EXIT_USAGE],
    ['an OxError', ox('http', true, { status: 503, attempts: 5 }), EXIT_FAILURE],
    ['a RedisUnavailableError', new RedisUnavailableError('Redis at redis://127.0.0.1:1 is not reachable (waited 10s)'), EXIT_FAILURE],
    ['an AttemptError of an input error', new AttemptError('bad', 'failed', 1, { cause: new InputError('bad') }), EXIT_USAGE],
    ['an error outside the family', new Error('boom'), EXIT_FAILURE],
  ] as const)('%s', (_, err, exitCode) => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    expect(reportError(err)).toBe(exitCode);
    expect(written).toEqual([`ox-batch: ${err.message}\n`]);
  });
});
