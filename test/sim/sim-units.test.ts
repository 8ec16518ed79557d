import { describe, expect, it } from 'vitest';
import { renderRows } from '../../src/sim/export-rows.js';
import { truncateToLimit } from '../../src/sim/feedback-fields.js';
import { DeletedRanges } from '../../src/sim/feedback-source.js';
import { FeedbackStore } from '../../src/sim/feedback-store.js';
import { csvCell, csvDelimiter, csvRowFormat, formatUtcDate, rawJsonRowFormat } from '../../src/sim/ox-csv-writer.js';
import { parseSort } from '../../src/sim/password-history.js';

const OPEN = { after: Number.NEGATIVE_INFINITY, before: Number.POSITIVE_INFINITY };

describe('OX CSV cell escaping', () => {
  it.each([
    ['', '""'],
    ['plain', '"plain"'],
    ['a "quoted" word', `"a 'quoted' word"`],
    ['one\ntwo\r\nthree\rfour', '"one\r\ntwo\r\nthree\r\nfour"'],
    ['=1+1', `"'=1+1"`],
    ['+49 30', `"'+49 30"`],
    ['-5', `"'-5"`],
    ['@home', `"'@home"`],
    ['|x|y', `"'|x\\|y"`],
    ['a|b', '"a\\|b"'],
    ["=cmd|' /C calc'!A0", `"'=cmd\\|' /C calc'!A0"`],
    ['"=x"', `"'=x'"`], // the quote is replaced first, so no guard
    [' =not first', '" =not first"'],
    ['Grüße 😀;', '"Grüße 😀;"'],
  ])('%j → %s', (input, expected) => {
    expect(csvCell(input)).toBe(expected);
  });

  it('takes the first character (code point) of the delimiter parameter', () => {
    expect(csvDelimiter(undefined)).toBe(';');
    expect(csvDelimiter('')).toBe(';');
    expect(csvDelimiter(',;')).toBe(',');
    expect(csvDelimiter('😀x')).toBe('😀');
  });

  it('formats dates in UTC with second precision', () => {
    expect(formatUtcDate(0)).toBe('1970-01-01 00:00:00');
    expect(formatUtcDate(Date.UTC(2026, 1, 28, 23, 59, 59, 999))).toBe('2026-02-28 23:59:59');
  });
});

describe('store internals', () => {
  it('truncates to limit-4 characters plus " ..."', () => {
    expect(truncateToLimit('abcdef', 6)).toBe('abcdef');
    expect(truncateToLimit('abcdefg', 6)).toBe('ab ...');
    expect(truncateToLimit('x'.repeat(99), undefined)).toHaveLength(99);
  });

  it('merges deleted ranges and subtracts them', () => {
    const d = new DeletedRanges();
    d.add(10, 20);
    d.add(30, 40);
    d.add(15, 32); // bridges both
    d.add(5, 5); // empty
    expect(d.subtractFrom(0, 50)).toEqual([
      [0, 10],
      [40, 50],
    ]);
    expect(d.subtractFrom(12, 38)).toEqual([]);
    expect(d.subtractFrom(38, 45)).toEqual([[40, 45]]);
  });

  it('gives an export a snapshot: deletes and inserts after it started do not change it', () => {
    const store = new FeedbackStore();
    store.generate({ rows: 1000, from: 0, to: 1_000_000, seed: 1 });
    store.add([{ date: 500_000, contextId: 1, userId: 1, score: 1, comment: 'explicit' }]);
    const selection = store.select('default', 'star-rating-v1', OPEN);
    store.delete('default', 'star-rating-v1', OPEN);
    store.add([{ date: 1, contextId: 1, userId: 1, score: 1, comment: 'late insert' }]);
    const text = Buffer.concat([...renderRows(selection, rawJsonRowFormat(), 4096)]).toString('utf8');
    const rows = JSON.parse(text) as Array<{ comment: string }>;
    expect(rows).toHaveLength(1001);
    expect(rows.map((r) => r.comment)).toContain('explicit');
    expect(rows.map((r) => r.comment)).not.toContain('late insert');
    expect(store.count()).toBe(1);
  });

  it('renders identical bytes whatever the chunk size (rows never split wrongly)', () => {
    const store = new FeedbackStore();
    store.generate({ rows: 3000, from: 0, to: 10_000_000, seed: 9 });
    store.add([{ date: 5_000_000, contextId: 2, userId: 2, score: 2, comment: 'x'.repeat(30_000) }]);
    const render = (chunk: number): Buffer =>
      Buffer.concat([...renderRows(store.select('default', 'star-rating-v1', OPEN), csvRowFormat(';'), chunk)]);
    const big = render(1 << 20);
    expect(render(4096).equals(big)).toBe(true);
    expect(render(1).equals(big)).toBe(true);
  });
});

describe('passwd-changes sort parameter', () => {
  it('parses comma lists with - for descending and rejects unknown fields', () => {
    expect(parseSort(null)).toEqual([{ field: 'date', descending: true }]);
    expect(parseSort('')).toEqual([{ field: 'date', descending: true }]);
    expect(parseSort('client_id, -date')).toEqual([
      { field: 'client_id', descending: false },
      { field: 'date', descending: true },
    ]);
    expect(parseSort('date,client_name')).toBeUndefined();
    expect(parseSort('date,')).toBeUndefined();
  });
});
