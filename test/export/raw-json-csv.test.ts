/**
 * The csv transcoder (raw JSON bytes → CSV bytes) against the csv-stringify implementation it
 * replaced, on random raw exports (seeded fast-check): escapes, non-string values, whitespace,
 * integer-like and unknown keys, chunks split anywhere, every kind of delimiter.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { knownColumns, selectColumns } from '../../src/export/feedback-columns.js';
import { ColumnsGrew, RawColumns } from '../../src/export/raw-columns.js';
import { RawJsonCsv } from '../../src/export/raw-json-csv.js';
import { toRawRecord } from '../../src/ox/ox-client.js';
import { JsonArrayFormatError } from '../../src/ox/json-array-stream.js';
import { referenceCsv } from './helpers/reference-csv.js';

interface Options {
  type: string;
  delimiter: string;
  header: boolean;
  formulaGuard: boolean;
  columns?: string[];
}

async function reference(text: string, o: Options): Promise<Buffer> {
  const records = (JSON.parse(text) as Array<Record<string, unknown>>).map(toRawRecord);
  let extraKeys: readonly string[] = [];
  for (;;) {
    const columns = new RawColumns(knownColumns(o.type), selectColumns(o.columns, o.type), extraKeys);
    const parts: string[] = [];
    try {
      for await (const part of referenceCsv(
        (async function* () {
          yield* records;
        })(),
        { ...o, columns },
        { rows: 0 },
      ))
        parts.push(part);
      return Buffer.from(parts.join(''), 'utf8');
    } catch (err) {
      if (!(err instanceof ColumnsGrew)) throw err;
      extraKeys = err.extraKeys;
    }
  }
}

function transcode(chunks: Buffer[], o: Options): { bytes: Buffer; rows: number } {
  let extraKeys: readonly string[] = [];
  for (;;) {
    const columns = new RawColumns(knownColumns(o.type), selectColumns(o.columns, o.type), extraKeys);
    const transcoder = new RawJsonCsv({ ...o, columns });
    const out: Buffer[] = [];
    try {
      for (const chunk of chunks) out.push(...transcoder.push(chunk));
      out.push(...transcoder.end());
      return { bytes: Buffer.concat(out), rows: transcoder.rows };
    } catch (err) {
      if (!(err instanceof ColumnsGrew)) throw err;
      extraKeys = err.extraKeys;
    }
  }
}

/** JSON text with optional whitespace and needless escapes, as another server might write it. */
function serialize(value: unknown, style: { space: boolean; escapes: boolean }): string {
  const ws = style.space ? ' \n\t ' : '';
  if (typeof value === 'string') {
    if (!style.escapes) return JSON.stringify(value);
    // Needless escapes of a-e and /, one UTF-16 unit at a time (a pair becomes two \u escapes).
    let out = '"';
    for (const unit of value.split('')) {
      out += /[a-e]/.test(unit) ? `\\u00${unit.charCodeAt(0).toString(16)}` : unit === '/' ? '\\/' : JSON.stringify(unit).slice(1, -1);
    }
    return `${out}"`;
  }
  if (Array.isArray(value)) return `[${ws}${value.map((v) => serialize(v, style)).join(`${ws},${ws}`)}${ws}]`;
  if (value !== null && typeof value === 'object') {
    return `{${ws}${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}${ws}:${ws}${serialize(v, style)}`)
      .join(`${ws},${ws}`)}${ws}}`;
  }
  return JSON.stringify(value);
}

function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(last, p));
    last = p;
  }
  chunks.push(bytes.subarray(last));
  return chunks;
}

const KEYS = ['date', 'score', 'questionid', 'comment', 'app', 'user', 'client_version'];
const oxDate = fc
  .date({ min: new Date(Date.UTC(2000, 0, 1)), max: new Date(Date.UTC(2099, 0, 1)), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 19).replace('T', ' '));
const text = fc.oneof(
  { weight: 4, arbitrary: fc.string() },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme' }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary' }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      '=1+1',
      '+x',
      '-1',
      '@a',
      '|p',
      '\tt',
      '\rr',
      'a,b',
      'a;b',
      'q"q',
      'l\nl',
      "it's",
      '1700000000000',
      '2026-01-01 10:00:00.250',
      '-',
    ),
  },
);
const value = fc.oneof(
  { weight: 12, arbitrary: text },
  { weight: 3, arbitrary: oxDate },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constant(null),
      fc.boolean(),
      fc.constant(1e21),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 2 }),
      fc.array(fc.oneof(fc.string(), fc.constant(null)), { maxLength: 3 }),
    ),
  },
);
const key = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 2, arbitrary: fc.constantFrom('mood', 'x_y', '1', '10', '02', 'Date', 'a,b', 'é') },
  // Not the names of Object.prototype's members (`__proto__`, `constructor`, …): for a row without
  // such a key the old implementation read the inherited member and wrote e.g. "[object Object]";
  // the transcoder writes an empty cell, as for any other missing key.
  { weight: 1, arbitrary: fc.string({ maxLength: 4 }).filter((k) => !(k in Object.prototype)) },
);
const record = fc.dictionary(key, value, { maxKeys: 9 });
const options = fc.record({
  type: fc.constantFrom('star-rating-v1', 'nps-v1'),
  delimiter: fc.constantFrom(',', ';', '\t', '|', "'", '"', '-', ':', '1', 'T', ' ', 'a', '\\', '\n', '§', '日'),
  header: fc.boolean(),
  formulaGuard: fc.boolean(),
  columns: fc.option(fc.subarray(['date', 'Score', 'comment', 'App', 'user'], { minLength: 1 }), { nil: undefined }),
});

describe('raw JSON → csv transcoder', () => {
  it('writes what the csv-stringify implementation wrote, for any raw export split anywhere (seeded)', async () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { maxLength: 8 }),
        options,
        fc.record({ space: fc.boolean(), escapes: fc.boolean() }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (records, o, style, cuts) => {
          const json = serialize(records, style);
          const expected = await reference(json, o);
          const actual = transcode(split(Buffer.from(json, 'utf8'), cuts), o);
          expect(actual.bytes.toString('utf8')).toBe(expected.toString('utf8'));
          expect(actual.bytes.equals(expected)).toBe(true);
          expect(actual.rows).toBe(records.length);
        },
      ),
      { seed, numRuns: 400, verbose: true },
    );
  });

  it('keeps a date past what a Date holds as it came (epoch ms 8640000000000001), converts one inside the range', () => {
    const o = { type: 'star-rating-v1' as const, delimiter: ',', header: false, formulaGuard: false, columns: undefined };
    const json = JSON.stringify([{ date: 8640000000000001 }, { date: 1764590400000 }]);
    const actual = transcode([Buffer.from(json, 'utf8')], o).bytes.toString('utf8');
    expect(actual.split('\n')[0]).toContain('8640000000000001');
    expect(actual).toContain('2025-12-01T12:00:00Z');
  });

  it('a BOM and whitespace around the array are fine; an empty array is the header alone', () => {
    const o = { type: 'star-rating-v1', delimiter: ',', header: true, formulaGuard: true };
    const out = transcode([Buffer.from('\uFEFF  [ ] \n', 'utf8')], o);
    expect(out.rows).toBe(0);
    expect(out.bytes.toString('utf8')).toBe(
      'Date,Score,Comment,App,Entry Point,Operating System,Browser,Browser Version,User Agent,Screen Resolution,Language,User,Server Version,Client Version\r\n',
    );
  });

  it('finds a quote, escape, delimiter or control byte at any of the four places in a word, in any chunking', () => {
    // The string scan tests four bytes at once: each special byte at each offset, long strings and short.
    const o = { type: 'star-rating-v1', delimiter: ';', header: false, formulaGuard: false };
    for (let at = 0; at < 12; at++) {
      for (const length of [at + 1, at + 4, 40]) {
        const plain = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ'.slice(0, length);
        for (const [special, cell] of [
          ['\\"', 'QUOTE'],
          ['\\\\', 'BACKSLASH'],
          [';', 'DELIMITER'],
        ] as const) {
          const comment = plain.slice(0, at) + special + plain.slice(at);
          const json = `[{"comment":"${comment}","app":"x"}]`;
          const decoded = JSON.parse(`"${comment}"`) as string;
          const expected = /[;"]/.test(decoded) ? `"${decoded.replaceAll('"', '""')}"` : decoded;
          for (const cut of [0, 13, 13 + at, 14 + at, json.length - 8]) {
            const bytes = Buffer.from(json, 'utf8');
            const out = transcode([bytes.subarray(0, cut), bytes.subarray(cut)], o).bytes.toString('utf8');
            // Date and Score are empty, Comment and App follow.
            expect(out.slice(0, expected.length + 4), `${cell} at ${at} of ${length}, cut at ${cut}`).toBe(`;;${expected};x`);
          }
        }
        // In a second row: the first (keys not seen yet) goes through JSON.parse.
        const raw = Buffer.from(
          `[{"comment":"c","app":"x"},{"comment":"${plain.slice(0, at)}\u0001${plain.slice(at)}","app":"x"}]`,
          'utf8',
        );
        expect(() => transcode([raw], o), `control byte at ${at} of ${length}`).toThrow(/control character/);
      }
    }
  });

  it.each([
    '',
    '[{"a":"b"}',
    '[{"a":"b"},]',
    '[{"a":"b",}]',
    '[{"a" "b"}]',
    '[{"a":"b"}] x',
    '[1]',
    '[[]]',
    '{"a":"b"}',
    '[{"a":"x\ny"}]',
    '[{"a":"\\q"}]',
    '[{"a":tru}]',
    '[{"date":"d"},{"date":"e",}]',
    '[{"date":"d"},{"date":"\\x"}]',
    '[{"date":"d"},{"date":nul}]',
    '[{"date":"d"},{"date" "e"}]',
  ])('malformed %j is refused as OX answers the client cannot read', (json) => {
    const o = { type: 'star-rating-v1', delimiter: ',', header: true, formulaGuard: true };
    // Invalid JSON, or JSON that is no array of objects (as the OX client's parser refuses it).
    expect(() => transcode([Buffer.from(json, 'utf8')], o)).toThrow(JsonArrayFormatError);
  });
});
