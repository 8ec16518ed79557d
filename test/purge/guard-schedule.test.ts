import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { findGuardSchedule, guardStartAt } from '../../src/purge/guard-schedule.js';
import { InputError } from '../../src/errors.js';
import type { WindowRecord } from '../../src/ledger/types.js';

const exportSchedule = (params: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  job: 'feedback.export',
  cron: '0 2 * * *',
  window: '1d',
  params,
  ...extra,
});
const configWith = (schedules: Record<string, unknown>) =>
  loadConfig({
    env: {},
    overrides: { ox: { url: 'http://127.0.0.1:1' }, redis: { url: 'redis://127.0.0.1:6379', prefix: 'oxbt-unit' }, schedules },
  });
const feed = { contextGroup: 'default', type: 'star-rating-v1' };

describe('findGuardSchedule', () => {
  it('finds the one export schedule that archives the same feed', () => {
    const config = configWith({
      daily: exportSchedule(),
      nps: exportSchedule({ type: 'nps-v1' }),
      purge: { job: 'feedback.purge', cron: '0 3 * * *', params: { retention: '90d' } },
    });
    expect(findGuardSchedule(config, feed)).toMatchObject({ guard: { id: 'daily' } });
    expect(findGuardSchedule(config, { ...feed, type: 'nps-v1' })).toMatchObject({ guard: { id: 'nps' } });
    expect(findGuardSchedule(config, { ...feed, contextGroup: 'brand2' })).toEqual({
      noGuardReason: expect.stringMatching(/no feedback\.export schedule archives brand2\/star-rating-v1/),
    });
  });

  it('wants a name when several schedules archive the feed, and checks a given name', () => {
    const config = configWith({
      a: exportSchedule(),
      b: exportSchedule({ format: 'jsonl' }),
      c: exportSchedule({ type: 'nps-v1' }),
      p: { job: 'feedback.purge', cron: '0 3 * * *', params: {} },
    });
    expect(() => findGuardSchedule(config, feed)).toThrow(/several feedback\.export schedules archive default\/star-rating-v1 \(a, b\)/);
    expect(findGuardSchedule(config, { ...feed, archiveSchedule: 'b' })).toMatchObject({ guard: { id: 'b' } });
    expect(() => findGuardSchedule(config, { ...feed, archiveSchedule: 'zz' })).toThrow(InputError);
    expect(() => findGuardSchedule(config, { ...feed, archiveSchedule: 'p' })).toThrow(/runs feedback\.purge, not feedback\.export/);
    expect(() => findGuardSchedule(config, { ...feed, archiveSchedule: 'c' })).toThrow(
      /exports default\/nps-v1, not default\/star-rating-v1/,
    );
  });

  it('does not take a mail-only export or an export of some columns as a guard', () => {
    expect(
      findGuardSchedule(configWith({ m: exportSchedule({ deliver: ['mail'], mailTo: 'a@example.com' }) }), {
        ...feed,
        archiveSchedule: 'm',
      }),
    ).toEqual({ noGuardReason: expect.stringMatching(/does not deliver to the archive/) });
    expect(findGuardSchedule(configWith({ m: exportSchedule({ deliver: 'mail' }) }), feed)).toMatchObject({
      noGuardReason: expect.any(String),
    });
    expect(findGuardSchedule(configWith({ s: exportSchedule({ format: 'csv', columns: 'Date,Score' }) }), feed)).toEqual({
      noGuardReason: expect.stringMatching(/exports only some columns \(without Comment, App, .*\): its archive is not a full copy/),
    });
    expect(findGuardSchedule(configWith({ s: exportSchedule({ format: 'ox-csv', columns: ['Date'] }) }), feed)).toMatchObject({
      guard: { id: 's' },
    });
  });
});

describe('guardStartAt', () => {
  const record = (start: number): WindowRecord => ({
    scheduleId: 'g',
    job: 'feedback.export',
    start,
    end: start + 86_400_000,
    state: 'done',
    attempts: 1,
  });

  it('aligns startAt to the schedule window in its zone, and goes back to earlier backfilled windows', () => {
    const config = configWith({ g: exportSchedule({}, { tz: 'Europe/Berlin', startAt: '2026-01-01T10:00' }) });
    const guard = { id: 'g', schedule: config.schedules.g! };
    expect(guardStartAt(guard, 'UTC', [])).toBe(Date.UTC(2025, 11, 31, 23));
    expect(guardStartAt(guard, 'UTC', [record(Date.UTC(2025, 11, 1, 23))])).toBe(Date.UTC(2025, 11, 1, 23));
  });

  it('uses the earliest ledger window without startAt, and nothing without either', () => {
    const config = configWith({ g: exportSchedule() });
    const guard = { id: 'g', schedule: config.schedules.g! };
    expect(guardStartAt(guard, 'UTC', [record(Date.UTC(2026, 4, 2)), record(Date.UTC(2026, 4, 1))])).toBe(Date.UTC(2026, 4, 1));
    expect(guardStartAt(guard, 'UTC', [])).toBeUndefined();
  });
});
