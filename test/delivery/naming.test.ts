import { describe, expect, it } from 'vitest';
import { artifactKey, compactUtc, manifestKeyFor } from '../../src/delivery/archive-key.js';
import { renderTemplate } from '../../src/delivery/mail-template.js';
import { deterministicMessageId } from '../../src/delivery/message-id.js';
import { InputError } from '../../src/errors.js';

// A Berlin calendar day in winter time: 23:00 UTC the evening before to 23:00 UTC.
const BERLIN_DAY = { start: Date.UTC(2026, 9, 30, 23), end: Date.UTC(2026, 9, 31, 23) };
const naming = { schedule: 'feedback-daily', group: 'default', type: 'star-rating-v1', window: BERLIN_DAY, ext: 'csv', gzip: true };

describe('archive keys', () => {
  it('follow [prefix/]schedule/group/type/yyyy/mm/dd/type_start_end.ext[.gz] with the UTC date of the start', () => {
    expect(artifactKey(naming)).toBe(
      'feedback-daily/default/star-rating-v1/2026/10/30/star-rating-v1_20261030T230000Z_20261031T230000Z.csv.gz',
    );
    expect(artifactKey({ ...naming, gzip: false, ext: 'jsonl' }, '/exports/ox/')).toBe(
      'exports/ox/feedback-daily/default/star-rating-v1/2026/10/30/star-rating-v1_20261030T230000Z_20261031T230000Z.jsonl',
    );
    expect(manifestKeyFor('a/b.csv')).toBe('a/b.csv.manifest.json');
    expect(compactUtc(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).toBe('20260102T030405Z');
  });

  it('refuse names that would change the path', () => {
    expect(() => artifactKey({ ...naming, group: '../x' })).toThrow(InputError);
    expect(() => artifactKey({ ...naming, schedule: 'a/b' })).toThrow(/schedule "a\/b"/);
  });
});

describe('deterministic Message-ID', () => {
  it('is the same for the same schedule, window and recipient set, in any order', () => {
    const a = deterministicMessageId(naming, ['b@x.example', 'a@x.example'], 'ox-batch <reports@ops.example.net>');
    const b = deterministicMessageId(naming, ['a@x.example', 'b@x.example'], 'reports@ops.example.net');
    expect(a).toBe(b);
    expect(a).toMatch(/^<oxb\.feedback-daily\.20261030T230000Z\.[0-9a-f]{16}@ops\.example\.net>$/);
  });

  it('differs for another window, schedule or recipient set', () => {
    const base = deterministicMessageId(naming, ['a@x.example'], 'r@ops.example');
    expect(
      deterministicMessageId(
        { ...naming, window: { start: BERLIN_DAY.end, end: BERLIN_DAY.end + 86_400_000 } },
        ['a@x.example'],
        'r@ops.example',
      ),
    ).not.toBe(base);
    expect(deterministicMessageId({ ...naming, schedule: 'other' }, ['a@x.example'], 'r@ops.example')).not.toBe(base);
    expect(deterministicMessageId(naming, ['a@x.example', 'c@x.example'], 'r@ops.example')).not.toBe(base);
  });

  it('keeps the left side a dot-atom and falls back to a placeholder domain', () => {
    expect(deterministicMessageId({ ...naming, schedule: 'a..b c' }, ['a@x'], 'no-domain')).toMatch(
      /^<oxb\.a-b-c\.20261030T230000Z\.[0-9a-f]{16}@ox-batch\.invalid>$/,
    );
  });
});

describe('mail templates', () => {
  it('fill known placeholders and name an unknown one', () => {
    expect(renderTemplate('{schedule}: {rows} rows', { schedule: 's', rows: 3 }, 'params.subject')).toBe('s: 3 rows');
    expect(() => renderTemplate('{row}', { rows: 3 }, 'params.subject')).toThrow(/params.subject: unknown placeholder \{row\}.*\{rows\}/);
  });
});
