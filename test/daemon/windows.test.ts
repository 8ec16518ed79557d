import { describe, expect, it } from 'vitest';
import { compactUtc, lastClosedWindow, nextWindow, previousWindow, windowContaining, windowsBetween } from '../../src/time/windows.js';
import { InputError } from '../../src/errors.js';

const H = 3_600_000;
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('calendar windows', () => {
  it('a Berlin day is 23 h on the spring-forward Sunday and 25 h on the fall-back Sunday', () => {
    const spring = windowContaining('1d', 'Europe/Berlin', at('2026-03-29T12:00:00Z'));
    expect([iso(spring.start), iso(spring.end)]).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z']);
    expect(spring.end - spring.start).toBe(23 * H);
    const autumn = windowContaining('1d', 'Europe/Berlin', at('2026-10-25T12:00:00Z'));
    expect([iso(autumn.start), iso(autumn.end)]).toEqual(['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z']);
    expect(autumn.end - autumn.start).toBe(25 * H);
    expect(nextWindow('1d', 'Europe/Berlin', autumn).end - autumn.end).toBe(24 * H);
  });

  it('hourly windows over both switch nights: 23 and 25 windows, each one real hour, contiguous', () => {
    const spring = windowsBetween('1h', 'Europe/Berlin', at('2026-03-29T00:00:00+01:00'), at('2026-03-30T00:00:00+02:00'));
    expect(spring).toHaveLength(23);
    const autumn = windowsBetween('1h', 'Europe/Berlin', at('2026-10-25T00:00:00+02:00'), at('2026-10-26T00:00:00+01:00'));
    expect(autumn).toHaveLength(25);
    for (const list of [spring, autumn]) {
      list.forEach((w, i) => {
        expect(w.end - w.start).toBe(H);
        if (i > 0) expect(w.start).toBe(list[i - 1]!.end);
      });
    }
    // The repeated 02:00 hour of the fall-back night is two distinct windows.
    expect(autumn.map((w) => iso(w.start))).toContain('2026-10-25T00:00:00.000Z');
    expect(autumn.map((w) => iso(w.start))).toContain('2026-10-25T01:00:00.000Z');
  });

  it('zones whose DST switch skips midnight (Santiago, Beirut): the short day ends at the next local midnight and every window stays aligned', () => {
    // Chile springs forward at 00:00 on 2026-09-06: that day starts at 01:00 -03 and lasts 23 h.
    const day = windowContaining('1d', 'America/Santiago', at('2026-09-06T12:00:00Z'));
    expect([iso(day.start), iso(day.end)]).toEqual(['2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z']);
    expect(windowContaining('1d', 'America/Santiago', day.end).start).toBe(day.end);
    for (const [tz, from, to] of [
      ['America/Santiago', '2026-09-03T12:00:00Z', '2026-09-12T12:00:00Z'],
      ['Asia/Beirut', '2026-03-26T12:00:00Z', '2026-04-03T12:00:00Z'],
    ] as const) {
      const list = windowsBetween('1d', tz, at(from), at(to));
      list.forEach((w, i) => {
        expect(windowContaining('1d', tz, w.start)).toEqual(w);
        if (i > 0) expect(w.start).toBe(list[i - 1]!.end);
      });
    }
  });

  it('hours are aligned in zones with half-hour offsets', () => {
    const w = windowContaining('1h', 'Asia/Kolkata', at('2026-10-25T12:00:00Z'));
    expect([iso(w.start), iso(w.end)]).toEqual(['2026-10-25T11:30:00.000Z', '2026-10-25T12:30:00.000Z']);
  });

  it('weeks start on Monday in the zone, including the week of a DST switch (169 h)', () => {
    const w = windowContaining('1w', 'Europe/Berlin', at('2026-10-25T12:00:00Z'));
    expect(iso(w.start)).toBe('2026-10-18T22:00:00.000Z'); // Monday 19 Oct 00:00 CEST
    expect(iso(w.end)).toBe('2026-10-25T23:00:00.000Z'); // Monday 26 Oct 00:00 CET
    expect(w.end - w.start).toBe(169 * H);
    expect(windowContaining('1w', 'UTC', at('2026-11-02T00:00:00Z')).start).toBe(at('2026-11-02T00:00:00Z'));
  });

  it('months follow the calendar: February, leap years, 31-day months, year end', () => {
    const feb = windowContaining('1M', 'UTC', at('2026-02-15T00:00:00Z'));
    expect([iso(feb.start), iso(feb.end)]).toEqual(['2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z']);
    const leap = windowContaining('1M', 'UTC', at('2028-02-29T23:59:59.999Z'));
    expect(leap.end - leap.start).toBe(29 * 24 * H);
    const dec = windowContaining('1M', 'Europe/Berlin', at('2026-12-31T22:59:59.999Z'));
    expect([iso(dec.start), iso(dec.end)]).toEqual(['2026-11-30T23:00:00.000Z', '2026-12-31T23:00:00.000Z']);
    expect(iso(windowContaining('1M', 'Europe/Berlin', at('2026-12-31T23:00:00Z')).start)).toBe('2026-12-31T23:00:00.000Z');
    const march = windowContaining('1M', 'Europe/Berlin', at('2026-03-15T00:00:00Z'));
    expect(march.end - march.start).toBe(31 * 24 * H - H); // the spring-forward hour
    expect(
      windowsBetween('1M', 'UTC', at('2026-01-31T00:00:00Z'), at('2026-05-01T00:00:00Z')).map((w) => iso(w.start).slice(0, 10)),
    ).toEqual(['2026-01-01', '2026-02-01', '2026-03-01', '2026-04-01']);
    const jan31 = windowContaining('1d', 'UTC', at('2026-01-31T10:00:00Z'));
    expect(iso(nextWindow('1d', 'UTC', jan31).start)).toBe('2026-02-01T00:00:00.000Z');
  });

  it('boundaries: an instant at a window start belongs to that window only', () => {
    const t = at('2026-11-01T23:00:00Z'); // midnight in Berlin
    expect(windowContaining('1d', 'Europe/Berlin', t).start).toBe(t);
    expect(windowContaining('1d', 'Europe/Berlin', t - 1).end).toBe(t);
    expect(previousWindow('1d', 'Europe/Berlin', windowContaining('1d', 'Europe/Berlin', t)).end).toBe(t);
  });

  it('a window is closed only once its end plus the lag has passed', () => {
    const lag = 5 * 60_000;
    expect(iso(lastClosedWindow('1d', 'UTC', at('2026-11-02T00:04:59Z'), lag).start)).toBe('2026-10-31T00:00:00.000Z');
    expect(iso(lastClosedWindow('1d', 'UTC', at('2026-11-02T00:05:00Z'), lag).start)).toBe('2026-11-01T00:00:00.000Z');
    expect(iso(lastClosedWindow('1d', 'Europe/Berlin', at('2026-03-29T22:05:00Z'), lag).start)).toBe('2026-03-28T23:00:00.000Z');
  });

  it('ranges cover the window containing from, up to to; job-id stamps carry no colon', () => {
    const list = windowsBetween('1d', 'UTC', at('2026-01-01T12:00:00Z'), at('2026-01-03T00:00:00Z'));
    expect(list.map((w) => iso(w.start))).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z']);
    expect(windowsBetween('1d', 'UTC', at('2026-01-01T00:00:00Z'), at('2027-01-01T00:00:00Z'))).toHaveLength(365);
    expect(compactUtc(at('2026-03-29T01:30:00Z'))).toBe('20260329T013000Z');
    expect(() => windowContaining('1d', 'Mars/Olympus', 0)).toThrow(InputError);
    expect(() => windowsBetween('1h', 'UTC', 0, 20 * 365 * 24 * H, 1000)).toThrow(/more than 1000/);
  });
});
