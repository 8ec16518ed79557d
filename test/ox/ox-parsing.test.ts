import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { oxWindowParams } from '../../src/ox/feedback-window.js';
import { parseDeleteAnswer, parseResellerAnswer, parseSendAnswer, sendFailures, adOutcome } from '../../src/ox/ox-answers.js';
import { parseErrorBody } from '../../src/ox/ox-client.js';
import { backoffDelay, parseRetryAfter } from '../../src/ox/retry.js';
import { JsonArrayFormatError, parseJsonArray } from '../../src/ox/json-array-stream.js';
import { OxError } from '../../src/ox/ox-error.js';
import { InputError } from '../../src/errors.js';

async function parseAll(pieces: Array<string | Buffer>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const element of parseJsonArray(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)))) out.push(element);
  return out;
}

describe('window translation to OX exclusive bounds', () => {
  it('sends start - 1, leaves out a zero start and an open end', () => {
    expect(oxWindowParams({ start: 1000, end: 2000 })).toEqual({ start: '999', end: '2000' });
    expect(oxWindowParams({ start: 0, end: 2000 })).toEqual({ end: '2000' });
    expect(oxWindowParams({ start: new Date(0) })).toEqual({});
    expect(oxWindowParams({})).toEqual({});
    expect(oxWindowParams({ start: new Date(1700000000000) })).toEqual({ start: '1699999999999' });
    expect(oxWindowParams({ start: 5, end: 5 })).toEqual({ start: '4', end: '5' }); // empty window stays empty
  });
  it('refuses negative, non-finite and reversed windows', () => {
    expect(() => oxWindowParams({ start: -1 })).toThrow(InputError);
    expect(() => oxWindowParams({ end: Number.POSITIVE_INFINITY })).toThrow(InputError);
    expect(() => oxWindowParams({ start: new Date('nonsense') })).toThrow(InputError);
    expect(() => oxWindowParams({ start: 10, end: 9 })).toThrow(/before start/);
    // OX reads end=0 as open-ended: an empty window must never become "everything".
    expect(() => oxWindowParams({ end: 0 })).toThrow(/end 0 is an empty window/);
    expect(() => oxWindowParams({ start: 0, end: 0 })).toThrow(InputError);
  });
});

describe('OX answer variants', () => {
  it('send: text/plain JSON lists, empty body, older prose', () => {
    const r = parseSendAnswer('{"normal":["a@x"],"fail":["bad"],"pgpFail":["k@x"]}');
    expect(r).toEqual({ normal: ['a@x'], sign: [], encrypt: [], pgp: [], fail: ['bad'], pgpFail: ['k@x'] });
    expect(sendFailures(r).map((f) => f.reason)).toEqual(['invalid address', 'unusable PGP key']);
    expect(parseSendAnswer('')).toEqual({ normal: [], sign: [], encrypt: [], pgp: [], fail: [], pgpFail: [] });
    expect(parseSendAnswer('An email with userfeedback was send to a@x').message).toBe('An email with userfeedback was send to a@x');
  });
  it("delete: OX's JSON (successful as a string or boolean, echoed fields equal to the request) and the early prose, nothing else", () => {
    const request = { contextGroup: 'default', type: 'star-rating-v1', end: 5 };
    expect(
      parseDeleteAnswer('{"successful":"true","type":"star-rating-v1","contextGroup":"default","end":5}', 'application/json', request),
    ).toEqual({ successful: true, type: 'star-rating-v1', contextGroup: 'default', end: 5 });
    expect(parseDeleteAnswer('{"successful":true}', 'application/json; charset=UTF-8', request)).toEqual({ successful: true });
    expect(parseDeleteAnswer('Feedback data deleted for type: star-rating-v1', 'text/plain', request)).toEqual({
      successful: true,
      message: 'Feedback data deleted for type: star-rating-v1',
    });
    const refused: Array<[string, string | undefined, RegExp]> = [
      [
        '<!DOCTYPE html><html><head><title>Sign in - Portal</title></head><body><form>…</form></body></html>',
        'text/html; charset=utf-8',
        /Content-Type text\/html \(an HTML page titled "Sign in - Portal"\)/,
      ],
      ['<html><title>Login</title></html>', 'text/plain', /does not say anything was deleted/],
      ['', 'application/json', /an empty body/],
      ['   ', 'text/plain', /an empty body/],
      ['{"successful":"false"}', 'application/json', /successful="false"/],
      ['{"type":"star-rating-v1"}', 'application/json', /successful=null/],
      ['{"successful":"true","type":"nps-v1"}', 'application/json', /about type "nps-v1", the request was for "star-rating-v1"/],
      ['{"successful":"true","contextGroup":"other"}', 'application/json', /about contextGroup "other"/],
      ['{"successful":"true","end":6}', 'application/json', /names end 6, the request sent 5/],
      ['["successful"]', 'application/json', /not a JSON object/],
      ['OK', 'text/plain', /does not say anything was deleted/],
      ['{"successful":"true"}', undefined, /no Content-Type/],
    ];
    for (const [body, type, reason] of refused) {
      const answer = parseDeleteAnswer(body, type, request);
      expect(answer, body).toHaveProperty('unexpected');
      expect((answer as { unexpected: string }).unexpected, body).toMatch(reason);
    }
  });
  it('delete: no body with another media type, and no JSON without successful true, is ever success (property)', () => {
    const request = { contextGroup: 'default', type: 'star-rating-v1' };
    fc.assert(
      fc.property(
        fc.string(),
        fc.constantFrom('text/html', 'text/html; charset=utf-8', 'application/xhtml+xml', 'application/octet-stream', 'text/csv'),
        (body, type) => {
          expect(parseDeleteAnswer(body, type, request)).toHaveProperty('unexpected');
        },
      ),
      { seed: 1212, numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        fc.pre(object.successful !== true && object.successful !== 'true');
        expect(parseDeleteAnswer(JSON.stringify(object), 'application/json', request)).toHaveProperty('unexpected');
      }),
      { seed: 1213, numRuns: 300 },
    );
  });
  it('advertisement outcomes come from the status code', () => {
    expect([adOutcome('PUT', 201), adOutcome('PUT', 200), adOutcome('DELETE', 204), adOutcome('DELETE', 200)]).toEqual([
      'created',
      'updated',
      'deleted',
      'nothing-to-delete',
    ]);
  });
  it('reseller: per-entry statuses, anything else is not an answer', () => {
    expect(parseResellerAnswer('[{"status":"CREATED"},{"status":"ERROR","error":"db down"}]')).toEqual([
      { status: 'CREATED' },
      { status: 'ERROR', error: 'db down' },
    ]);
    expect(parseResellerAnswer('[]')).toEqual([]);
    expect(parseResellerAnswer('{"status":"CREATED"}')).toBeUndefined();
    expect(parseResellerAnswer('[{"status":"WHAT"}]')).toBeUndefined();
  });
  it('error bodies: OX error object, bare JSON string (send parser message), text, empty', () => {
    expect(
      parseErrorBody(
        '{"error":"An error occurred","code":"FEEDBACK-0006","error_id":"-1053588376-32","error_desc":"Provided value(s) for parameter(s) \'start\' is/are invalid."}',
      ),
    ).toEqual({
      code: 'FEEDBACK-0006',
      errorId: '-1053588376-32',
      errorDesc: "Provided value(s) for parameter(s) 'start' is/are invalid.",
    });
    expect(parseErrorBody('"Unexpected character (\'x\' (code 120)) at line 1"')).toEqual({
      errorDesc: "Unexpected character ('x' (code 120)) at line 1",
    });
    expect(parseErrorBody('Missing recipients\n')).toEqual({ errorDesc: 'Missing recipients' });
    expect(parseErrorBody('')).toEqual({});
  });
  it('OxError messages never carry credentials, even when a server echoes them', () => {
    const err = new OxError({
      operation: 'feedback.export',
      kind: 'http',
      retryable: false,
      status: 500,
      errorDesc: 'proxy to http://oxadmin:S3cr3t@ox:8009 failed, Authorization: Basic b3hhZG1pbjpTM2NyM3Q=',
    });
    expect(err.message).not.toContain('S3cr3t');
    expect(err.message).not.toContain('b3hhZG1pbjpTM2NyM3Q=');
    expect(err.errorDesc).not.toContain('S3cr3t');
  });
});

describe('retry timing', () => {
  const policy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };
  it('full jitter: between 0 and min(cap, base * 2^(n-1))', () => {
    expect(backoffDelay(1, policy, () => 0.999)).toBe(499);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(1000);
    expect(backoffDelay(20, policy, () => 0.999)).toBe(29_970);
    expect(backoffDelay(4, policy, () => 0)).toBe(0);
  });
  it('Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('incremental JSON array parser', () => {
  it('splits elements across any chunk boundary, multi-byte characters and escapes included', async () => {
    const text = Buffer.from('\ufeff[ {"a":"é😀\\"]}x","n":[1,{"b":"\\\\"}]} ,\n{"c":""} ]');
    const expected = [{ a: 'é😀"]}x', n: [1, { b: '\\' }] }, { c: '' }];
    for (let cut = 1; cut < text.length; cut++) {
      expect(await parseAll([text.subarray(0, cut), text.subarray(cut)])).toEqual(expected);
    }
    expect(await parseAll(['[]'])).toEqual([]);
  });
  it('rejects what is not an array of objects, and a truncated array', async () => {
    for (const bad of ['', '{}', '[1]', '[{},]', '[{}', '[{}] x', '[{"a":1}{"b":2}]']) {
      await expect(parseAll([bad])).rejects.toThrow(JsonArrayFormatError);
    }
  });
});
