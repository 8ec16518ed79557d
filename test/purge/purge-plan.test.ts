import { describe, expect, it } from 'vitest';
import type { WindowRecord } from '../../src/ledger/types.js';
import { contiguousArchivedRun } from '../../src/purge/verified-watermark.js';
import { planPurge } from '../../src/purge/purge-plan.js';
import { RefusedError } from '../../src/errors.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

function win(i: number, state: WindowRecord['state'] = 'done', archived = true): WindowRecord {
  const start = T0 + i * DAY;
  return {
    scheduleId: 'feedback-daily',
    job: 'feedback.export',
    start,
    end: start + DAY,
    state,
    attempts: 1,
    result: archived
      ? { rows: i, archive: { key: `k${i}.csv`, manifestKey: `k${i}.csv.manifest.json`, bytes: 10 + i, sha256: 'ab'.repeat(32) } }
      : { rows: i },
  };
}

describe('contiguousArchivedRun', () => {
  it('takes done archived windows from startAt until the one covering `until`', () => {
    const run = contiguousArchivedRun([win(2), win(0), win(1), win(3)], T0, T0 + 2 * DAY + 5);
    expect(run.candidates.map((c) => c.record.start)).toEqual([T0, T0 + DAY, T0 + 2 * DAY]);
    expect(run.stoppedAt).toBeUndefined();
  });

  it('stops at a failed window with its error', () => {
    const failed = { ...win(2, 'failed'), lastError: 'OX 503\nstack' };
    const run = contiguousArchivedRun([win(0), win(1), failed, win(3)], T0, T0 + 10 * DAY);
    expect(run.candidates).toHaveLength(2);
    expect(run.stoppedAt).toMatchObject({ start: T0 + 2 * DAY, reason: 'export window is failed: OX 503' });
  });

  it('stops at a gap and at a done window without archive', () => {
    expect(contiguousArchivedRun([win(0), win(2)], T0, T0 + 10 * DAY).stoppedAt).toMatchObject({ start: T0 + DAY, end: T0 + 2 * DAY });
    expect(contiguousArchivedRun([win(0), win(1, 'done', false)], T0, T0 + 10 * DAY).stoppedAt?.reason).toMatch(/no archive object/);
  });

  it('ignores windows before startAt and reports windows not exported yet', () => {
    const run = contiguousArchivedRun([win(-1, 'failed'), win(0)], T0, T0 + 3 * DAY);
    expect(run.candidates).toHaveLength(1);
    expect(run.stoppedAt?.reason).toMatch(/not exported yet/);
  });
});

describe('planPurge', () => {
  const now = T0 + 100 * DAY;
  const guard = (watermark: number, windows = 1) => ({
    scheduleId: 'feedback-daily',
    startAt: T0,
    watermark,
    windows: Array.from({ length: windows }, (_, i) => ({
      start: T0 + i * DAY,
      end: T0 + (i + 1) * DAY,
      key: 'k',
      bytes: 1,
      check: 'verified' as const,
    })),
  });

  it('uses the retention cutoff when the archive reaches past it', () => {
    const plan = planPurge({
      target: 'default/star-rating-v1',
      now,
      retentionMs: 90 * DAY,
      guard: guard(now - DAY, 99),
      allowUnarchived: false,
    });
    expect(plan).toMatchObject({ cutoff: now - 90 * DAY, mode: 'verified', limitedBy: 'retention', warnings: [] });
  });

  it('deletes whole guard windows: a retention cutoff inside a window goes back to its start', () => {
    const plan = planPurge({ target: 't', now: now + DAY / 3, retentionMs: 90 * DAY, guard: guard(now - DAY, 99), allowUnarchived: false });
    expect(plan).toMatchObject({ cutoff: now - 90 * DAY, retentionCutoff: now + DAY / 3 - 90 * DAY, limitedBy: 'retention' });
  });

  it('holds the cutoff back to the verified watermark', () => {
    const plan = planPurge({
      target: 't',
      now,
      retentionMs: 90 * DAY,
      guard: { ...guard(T0 + 3 * DAY, 3), stoppedAt: { start: T0 + 3 * DAY, reason: 'missing' } },
      allowUnarchived: false,
    });
    expect(plan).toMatchObject({ cutoff: T0 + 3 * DAY, limitedBy: 'archive', mode: 'verified' });
    expect(plan.warnings[0]).toMatch(/missing/);
  });

  it('refuses without a guard, with an empty archive, or with feedback before startAt', () => {
    expect(() =>
      planPurge({
        target: 't',
        now,
        retentionMs: DAY,
        noGuardReason: 'no feedback.export schedule for default/star-rating-v1',
        allowUnarchived: false,
      }),
    ).toThrow(RefusedError);
    expect(() => planPurge({ target: 't', now, retentionMs: DAY, guard: guard(T0, 0), allowUnarchived: false })).toThrow(
      /no verified window/,
    );
    expect(() =>
      planPurge({ target: 't', now, retentionMs: DAY, guard: guard(now, 5), feedbackBeforeStartAt: true, allowUnarchived: false }),
    ).toThrow(/before 2026-01-01/);
  });

  it('has nothing to delete (and does not refuse) while the retention cutoff lies before the guard startAt', () => {
    const plan = planPurge({ target: 't', now: T0 + 10 * DAY, retentionMs: 90 * DAY, guard: guard(T0, 0), allowUnarchived: false });
    expect(plan).toMatchObject({ nothingToDelete: true, cutoff: T0 - 80 * DAY });
    expect(() =>
      planPurge({
        target: 't',
        now: T0 + 10 * DAY,
        retentionMs: 90 * DAY,
        guard: guard(T0, 0),
        feedbackBeforeStartAt: true,
        allowUnarchived: false,
      }),
    ).toThrow(RefusedError);
  });

  it('allowUnarchived purges by retention alone and says so', () => {
    const plan = planPurge({ target: 't', now, retentionMs: 90 * DAY, noGuardReason: 'no guard', allowUnarchived: true });
    expect(plan).toMatchObject({ cutoff: now - 90 * DAY, mode: 'unarchived' });
    expect(plan.warnings[0]).toMatch(/^UNARCHIVED PURGE/);
    const partial = planPurge({ target: 't', now, retentionMs: 90 * DAY, guard: guard(T0 + DAY), allowUnarchived: true });
    expect(partial).toMatchObject({ cutoff: now - 90 * DAY, mode: 'unarchived' });
    expect(partial.warnings[0]).toMatch(/without a verified archive/);
  });
});
