/**
 * Counts data rows of OX's CSV export as it streams by. OX ends every row, the header and the
 * last row included, with a lone CR; line breaks inside a cell are written as CRLF. So a row end
 * is a CR not followed by LF (which may sit in the next chunk), and rows = row ends - 1.
 *
 * With a listener it also hands over each complete row (header first) as a byte range, in the
 * same pass: a row that spans chunks is assembled in a carry buffer of at most MAX_ROW_BYTES.
 */
import type { RowCounter } from '../delivery/spool.js';
import { OxError } from '../ox/ox-error.js';

const CR = 0x0d;
const LF = 0x0a;
/** OX's header row is ~200 bytes; more before the first row end is no header. */
const MAX_HEADER_BYTES = 8192;
/** OX's longest row: a 20000-character comment (up to 80 KB in UTF-8) plus short cells. */
export const MAX_ROW_BYTES = 256 * 1024;

/** Gets `bytes[start, end)` of one row without its CR; `cut` when the row was longer than MAX_ROW_BYTES. */
export type OxCsvRowListener = (bytes: Buffer, start: number, end: number, cut: boolean) => void;

export class OxCsvRowCounter implements RowCounter {
  private rowEnds = 0;
  private crAtChunkEnd = false;
  private lastByte = -1;
  private bytes = 0;
  /** The bytes of the first row, gathered until its CR (OX's header: what the archive holds). */
  private headerBytes: Buffer[] | undefined = [];
  private carry: Buffer | undefined;
  private carryLength = 0;
  private carryCut = false;

  constructor(
    private readonly delimiter = ';',
    private readonly onRow?: OxCsvRowListener,
  ) {}

  update(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.headerBytes) this.gatherHeader(chunk);
    let rowStart = 0;
    if (this.crAtChunkEnd && chunk[0] !== LF) {
      this.rowEnds += 1;
      // The row ended with the previous chunk's last byte (its CR sits at the carry's end).
      if (this.onRow) this.emitCarry(this.carryLength - 1);
    }
    this.crAtChunkEnd = false;
    for (let i = chunk.indexOf(CR); i !== -1; i = chunk.indexOf(CR, i + 1)) {
      if (i === chunk.length - 1) this.crAtChunkEnd = true;
      else if (chunk[i + 1] !== LF) {
        this.rowEnds += 1;
        if (this.onRow) {
          if (this.carryLength > 0) {
            this.append(chunk, 0, i);
            this.emitCarry(this.carryLength);
          } else {
            this.onRow(chunk, rowStart, i, false);
          }
          rowStart = i + 1;
        }
      }
    }
    if (this.onRow && rowStart < chunk.length) this.append(chunk, rowStart, chunk.length);
    this.lastByte = chunk[chunk.length - 1]!;
    this.bytes += chunk.length;
  }

  private gatherHeader(chunk: Buffer): void {
    const end = chunk.indexOf(CR);
    this.headerBytes!.push(end === -1 ? chunk : chunk.subarray(0, end));
    if (end !== -1 || this.bytes + chunk.length > MAX_HEADER_BYTES) {
      this.headerLine = Buffer.concat(this.headerBytes!).toString('utf8');
      this.headerBytes = undefined;
    }
  }

  private headerLine: string | undefined;

  /**
   * The column names of OX's header row (BOM and quotes removed), e.g. Date, Score, Comment, …;
   * empty before the first row end.
   */
  get columns(): string[] {
    if (this.headerLine === undefined) return [];
    const line = this.headerLine.replace(/^\uFEFF/, '');
    // Header cells are plain names in quotes: OX quotes every cell and names hold no delimiter.
    return line.split(this.delimiter).map((cell) => cell.replace(/^"|"$/g, ''));
  }

  get rows(): number {
    return Math.max(0, this.rowEnds + (this.crAtChunkEnd ? 1 : 0) - 1);
  }

  /** A complete OX export has at least the header row and ends with a row's CR. */
  finish(): void {
    if (this.bytes === 0 || this.lastByte !== CR) {
      throw new OxError({
        operation: 'feedback.export',
        kind: 'protocol',
        retryable: true,
        reason:
          this.bytes === 0
            ? 'the CSV export was empty (OX always sends at least a header row): truncated answer'
            : `the CSV export ended in the middle of a row after ${this.bytes} bytes: truncated answer`,
      });
    }
    // The last row's CR was the last byte: nothing follows to tell it from a CRLF.
    if (this.crAtChunkEnd && this.onRow) {
      this.emitCarry(this.carryLength - 1);
      this.crAtChunkEnd = false;
      this.rowEnds += 1;
    }
  }

  private append(chunk: Buffer, start: number, end: number): void {
    const room = MAX_ROW_BYTES - this.carryLength;
    const take = Math.min(end - start, room);
    if (take < end - start) this.carryCut = true;
    if (take <= 0) return;
    if (!this.carry || this.carryLength + take > this.carry.length) {
      const bigger = Buffer.allocUnsafe(Math.min(MAX_ROW_BYTES, Math.max(4096, (this.carry?.length ?? 0) * 2, this.carryLength + take)));
      this.carry?.copy(bigger, 0, 0, this.carryLength);
      this.carry = bigger;
    }
    chunk.copy(this.carry, this.carryLength, start, start + take);
    this.carryLength += take;
  }

  private emitCarry(end: number): void {
    this.onRow!(this.carry ?? Buffer.alloc(0), 0, Math.max(0, end), this.carryCut);
    this.carryLength = 0;
    this.carryCut = false;
  }
}
