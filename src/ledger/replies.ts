/**
 * What the ledger's commands (src/ledger/commands/*.lua) answer: a reply `{code, ...values}`
 * whose code is one of `LedgerReply` (the Lua scripts write the same strings; each file's header
 * says which it answers) and whose values are decoded here, in `decodeReply`, and nowhere else.
 * Counts (trimDone, settleMail) and claimMail's per-address statuses are answered as they are.
 */
import { LedgerUpdateError } from '../errors.js';

export enum LedgerReply {
  /** The transition was applied. */
  Applied = 'applied',
  /** The window's state does not allow it; nothing changed. */
  Refused = 'refused',
  /** The retry clock's round was counted (markRetryRound-5): the round. */
  RetryRound = 'round',
  /** A begin took the window: the attempt ('' when BullMQ counts it), the result of the done window it begins again (if it does). */
  Started = 'started',
  /** A begin was refused, the window is done: its result as JSON ('null' when trimmed). */
  Done = 'done',
  /** A begin was refused, the record with this start is another window: its end. */
  OtherWindow = 'otherWindow',
  /** A begin was refused, another attempt holds the window: its owner, leaseUntil, startedAt ('' when unknown). */
  Busy = 'busy',
  /** The command raised in Redis (in a batch, for that update alone): the message. */
  Error = 'error',
}

export type DecodedReply =
  | { code: LedgerReply.Applied }
  | { code: LedgerReply.Refused }
  | { code: LedgerReply.RetryRound; round: number }
  | { code: LedgerReply.Started; attempt?: number; replacesDone?: { result: unknown } }
  | { code: LedgerReply.Done; result: unknown }
  | { code: LedgerReply.OtherWindow; end: number }
  | { code: LedgerReply.Busy; owner: string; leaseUntil?: number; startedAt?: number };

export { LedgerUpdateError };

/** A number sent as text; '' (or absent) when there is none. */
function optionalNumber(text: unknown): number | undefined {
  return text === undefined || text === null || text === '' ? undefined : Number(text);
}

/**
 * The one decoder of command replies. `command` names the update in the error an `Error` reply
 * becomes (e.g. `ledger update "markDone" of feedback-daily@1764547200000`).
 */
export function decodeReply(reply: unknown, command: string): DecodedReply {
  const [code, a, b, c] = (Array.isArray(reply) ? reply : []) as [unknown, unknown?, unknown?, unknown?];
  switch (code) {
    case LedgerReply.Applied:
      return { code };
    case LedgerReply.Refused:
      return { code };
    case LedgerReply.RetryRound:
      return { code, round: Number(a) };
    case LedgerReply.Started:
      return {
        code,
        ...(optionalNumber(a) !== undefined ? { attempt: optionalNumber(a) } : {}),
        ...(b !== undefined && b !== null ? { replacesDone: { result: JSON.parse(String(b)) as unknown } } : {}),
      };
    case LedgerReply.Done:
      return { code, result: JSON.parse(String(a)) as unknown };
    case LedgerReply.OtherWindow:
      return { code, end: Number(a) };
    case LedgerReply.Busy:
      return { code, owner: String(a ?? ''), leaseUntil: optionalNumber(b), startedAt: optionalNumber(c) };
    case LedgerReply.Error:
      throw new LedgerUpdateError(`${command} failed: ${String(a)}`);
    default:
      throw new LedgerUpdateError(`unexpected ledger answer ${JSON.stringify(reply)}`);
  }
}
