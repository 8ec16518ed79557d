/**
 * The worker's check of job data (queue/job-data.ts), in process: every aligned window of any
 * schedule (sizes, zones with DST) is accepted the way enqueue makes it; moved bounds, foreign
 * fields and kinds are refused. Seeded property tests: a failure prints its seed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkJobData } from '../../src/queue/job-data.js';
import { resolveSchedules } from '../../src/queue/schedules.js';
import { windowsBetween, WINDOW_SIZES } from '../../src/time/windows.js';
import { testConfig, testPrefix } from './helpers.js';
import { testKinds } from './test-jobs.js';

const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham'];
const FROM = Date.UTC(2024, 0, 1);
const TO = Date.UTC(2027, 0, 1);

function contextFor(size: string, tz: string) {
  const config = testConfig(testPrefix(), { schedules: { s: { job: 'test.window', cron: '0 2 * * *', tz, window: size, paused: true } } });
  return { kinds: testKinds, schedules: resolveSchedules(config, testKinds) };
}

describe('checkJobData', () => {
  it('accepts every aligned window of a schedule, refuses it moved by any amount (property, seeded)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...WINDOW_SIZES),
        fc.constantFrom(...ZONES),
        fc.integer({ min: FROM, max: TO }),
        fc.integer({ min: 1, max: 40 * 86_400_000 }),
        fc.boolean(),
        (size, tz, t, shift, moveEnd) => {
          const context = contextFor(size, tz);
          const [window] = windowsBetween(size, tz, t, t + 1);
          const data = {
            type: 'window',
            scheduleId: 's',
            job: 'test.window',
            start: window!.start,
            end: window!.end,
            params: { sleepMs: 0, failTimes: 0, rows: 1 },
          };
          expect(checkJobData('test.window', data, context)).toMatchObject({ accepted: true });
          expect(checkJobData('test.window', { ...data, force: true }, context)).toMatchObject({ accepted: true });
          expect(checkJobData('test.window', { ...data, reexport: t }, context)).toMatchObject({ accepted: true });
          expect(checkJobData('test.window', { ...data, reexport: 'soon' }, context)).toMatchObject({
            accepted: false,
            reason: expect.stringContaining('reexport "soon" is not epoch milliseconds'),
          });
          const moved = moveEnd ? { ...data, end: data.end + shift } : { ...data, start: data.start - shift };
          // Moving one bound never yields another aligned window with the other bound unchanged.
          expect(checkJobData('test.window', moved, context)).toMatchObject({
            accepted: false,
            reason: expect.stringMatching(/is not a window of schedule s/),
          });
        },
      ),
      { seed: 1203, numRuns: 300 },
    );
  });

  it('accepts any window of an unscheduled job kind, and refuses data with a field ox-batch never writes (property, seeded)', () => {
    const context = contextFor('1d', 'UTC');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: TO }),
        fc.integer({ min: 1, max: 10 ** 10 }),
        fc
          .string({ minLength: 1 })
          .filter((k) => !['type', 'scheduleId', 'job', 'start', 'end', 'params', 'force', 'reexport', '__proto__'].includes(k)),
        (start, length, extra) => {
          const data = { type: 'window', scheduleId: 'test.window', job: 'test.window', start, end: start + length, params: {} };
          expect(checkJobData('test.window', data, context)).toMatchObject({ accepted: true });
          expect(checkJobData('test.window', { ...data, [extra]: 1 }, context)).toMatchObject({
            accepted: false,
            reason: expect.stringContaining('unknown field'),
          });
        },
      ),
      { seed: 1204, numRuns: 300 },
    );
  });

  it('masks secrets a forged job carries in its refusal', () => {
    const context = contextFor('1d', 'UTC');
    const check = checkJobData(
      'test.window',
      { type: 'window', scheduleId: 'https://u:hunter2@evil.example/', job: 'test.window', start: 0, end: 1, params: {} },
      context,
    );
    expect(check).toMatchObject({ accepted: false });
    expect(JSON.stringify(check)).not.toContain('hunter2');
  });
});
