import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { spoolStream } from '../../src/delivery/spool.js';
import { OxCsvRowCounter } from '../../src/export/ox-csv-row-counter.js';
import { OxError } from '../../src/ox/ox-error.js';

const BOM = '\uFEFF';
const HEADER = '"Date";"Score";"Comment"\r';

function count(chunks: string[]): number {
  const counter = new OxCsvRowCounter();
  for (const chunk of chunks) counter.update(Buffer.from(chunk));
  counter.finish();
  return counter.rows;
}

describe('OxCsvRowCounter', () => {
  const body = `${BOM}${HEADER}"2026-11-01 00:00:00";"5";"two\r\nlines"\r"2026-11-01 00:00:01";"4";"\r\n"\r"2026-11-01 00:00:02";"3";"x"\r`;

  it('counts lone-CR row ends minus the header, not the CRLF inside cells', () => {
    expect(count([body])).toBe(3);
    expect(count([`${BOM}${HEADER}`])).toBe(0);
  });

  it('gives the same count however the bytes are split, also between a CR and its LF', () => {
    for (let cut = 1; cut < body.length; cut++) {
      expect(count([body.slice(0, cut), body.slice(cut)])).toBe(3);
    }
    expect(count(body.split(''))).toBe(3);
  });

  it('reports an export that ends mid-row or is empty as a retryable truncation', () => {
    const truncated = new OxCsvRowCounter();
    truncated.update(Buffer.from(body.slice(0, body.length - 5)));
    expect(() => truncated.finish()).toThrow(OxError);
    expect(() => truncated.finish()).toThrow(/middle of a row/);
    const empty = new OxCsvRowCounter();
    expect(() => empty.finish()).toThrow(/empty/);
    try {
      empty.finish();
    } catch (err) {
      expect((err as OxError).retryable).toBe(true);
    }
  });

  it('makes the spool fail and leave nothing when a body closes cleanly but early', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oxbt-rows-'));
    try {
      const cut = Readable.from([Buffer.from(body.slice(0, 40))]);
      await expect(spoolStream(cut, { dir, rowCounter: new OxCsvRowCounter() })).rejects.toThrow(/truncated/);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
