/**
 * Keeps the N comments worth reading out of a window of any size: the lowest scores first, then
 * the longest, then the earliest. N is small (params.digestComments, at most 50), so a sorted
 * array beats a heap; `mightTake` lets a feeder skip decoding a comment that cannot get in.
 */
import type { DigestComment } from './digest-types.js';

/** Shown comments are cut here (the mail is a digest, the CSV has the whole text). */
export const COMMENT_SHOWN_CHARS = 600;
export const MAX_DIGEST_COMMENTS = 50;
/** Score slot of a row without a valid score: ranks after every valid one. */
const INVALID_SLOT = 11;
const LINE_BREAKS = /\r\n|\r/g;
const NOT_BLANK = /\S/;

interface Candidate {
  slot: number;
  length: number;
  seq: number;
  text: string;
  question?: string;
  app: string;
  date: string;
}

export interface CommentOffer {
  /** Score slot (0..10, or 11 for an invalid score). */
  slot: number;
  /** The comment as exported; line breaks of any kind. */
  text: string;
  app: string;
  date: string;
  question?: string;
}

export class CommentPicker {
  private readonly kept: Candidate[] = [];
  private seq = 0;

  constructor(readonly size: number) {}

  /** False when a comment with this score and at most this many characters cannot get in. */
  mightTake(slot: number, maxLength: number): boolean {
    if (this.size <= 0) return false;
    if (this.kept.length < this.size) return true;
    const worst = this.kept[this.kept.length - 1]!;
    return slot < worst.slot || (slot === worst.slot && maxLength > worst.length);
  }

  offer(offer: CommentOffer): void {
    if (this.size <= 0) return;
    const seq = this.seq++;
    const text = offer.text.includes('\r') ? offer.text.replace(LINE_BREAKS, '\n') : offer.text;
    if (!NOT_BLANK.test(text)) return;
    const candidate: Candidate = {
      slot: offer.slot,
      length: text.length,
      seq,
      text,
      app: offer.app,
      date: offer.date,
      ...(offer.question === undefined ? {} : { question: offer.question }),
    };
    let at = this.kept.length;
    while (at > 0 && before(candidate, this.kept[at - 1]!)) at--;
    if (at >= this.size) return;
    this.kept.splice(at, 0, candidate);
    if (this.kept.length > this.size) this.kept.pop();
  }

  picked(): DigestComment[] {
    return this.kept.map((c) => {
      const truncated = c.text.length > COMMENT_SHOWN_CHARS;
      return {
        score: c.slot === INVALID_SLOT ? null : c.slot,
        ...(c.question === undefined ? {} : { question: c.question }),
        app: c.app,
        date: c.date,
        length: c.length,
        text: truncated ? `${cutAt(c.text, COMMENT_SHOWN_CHARS)}…` : c.text,
        truncated,
      };
    });
  }
}

/** The first `chars` UTF-16 units, one less when that would split a surrogate pair. */
function cutAt(text: string, chars: number): string {
  const code = text.charCodeAt(chars - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? chars - 1 : chars);
}

function before(a: Candidate, b: Candidate): boolean {
  return a.slot < b.slot || (a.slot === b.slot && (a.length > b.length || (a.length === b.length && a.seq < b.seq)));
}
