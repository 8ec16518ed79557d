/**
 * The watched users of a password-change audit: an inline list in the schedule, or a file
 * (YAML, JSON or CSV of contextId,userId) on disk or in S3. Security teams maintain these lists
 * by hand or export them from a SIEM, so the parser is lenient about shape (objects, pairs,
 * "ctx/user" strings, CSV with or without header) and strict about values: a bad entry is an
 * InputError naming the source, the line or index and the value.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseYaml } from 'yaml';
import { InputError } from '../errors.js';

export interface WatchedUser {
  contextId: number;
  userId: number;
}

/** `12/3`, `12:3`, or several of them separated by commas or whitespace. */
const INLINE_TEXT = /^\s*\d+\s*[/:]\s*\d+(\s*[,;\s]\s*\d+\s*[/:]\s*\d+)*\s*$/;
const PAIR_TEXT = /^\s*(\d+)\s*[/:]\s*(\d+)\s*$/;

const CONTEXT_NAMES = ['contextid', 'context_id', 'context', 'cid', 'ctx'];
const USER_NAMES = ['userid', 'user_id', 'user', 'uid'];

/** True when a `users` param names a file (path or s3:// URL) rather than listing users. */
export function isUserFileReference(value: unknown): value is string {
  return typeof value === 'string' && !INLINE_TEXT.test(value);
}

/** Users given inline: an array of entries, or a string like `12/3, 12/4`. */
export function parseInlineUsers(value: unknown, source = 'param users'): WatchedUser[] {
  if (typeof value === 'string') {
    if (!INLINE_TEXT.test(value)) throw new InputError(`${source}: "${value}" is neither a file nor a list like 12/3,12/4`);
    return dedupe(
      value
        .split(/[,;\s]+/)
        .filter(Boolean)
        .map((text, i) => entryFrom(text, `${source}[${i}]`)),
    );
  }
  if (!Array.isArray(value)) throw new InputError(`${source}: expected a list of users or a file name, got ${describe(value)}`);
  return dedupe(value.map((entry, i) => entryFrom(entry, `${source}[${i}]`)));
}

/** A users file's text, by its extension (`.yaml`/`.yml`, `.json`, `.csv`; else sniffed). */
export function parseUserFile(text: string, name: string): WatchedUser[] {
  const lower = name.toLowerCase().replace(/\?.*$/, '');
  const source = `users file ${name}`;
  if (lower.endsWith('.csv')) return parseCsvUsers(text, source);
  if (lower.endsWith('.json')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new InputError(`${source}: not valid JSON (${(err as Error).message})`, { cause: err });
    }
    return fromDocument(doc, source);
  }
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return fromDocument(parseYamlDoc(text, source), source);
  // No telling extension: a document that starts like YAML/JSON structure, else CSV.
  const first = text.replace(/^\uFEFF/, '').trimStart();
  if (first.startsWith('[') || first.startsWith('{') || first.startsWith('-') || /^users\s*:/.test(first)) {
    return fromDocument(parseYamlDoc(text, source), source);
  }
  return parseCsvUsers(text, source);
}

function parseYamlDoc(text: string, source: string): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw new InputError(`${source}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

function fromDocument(doc: unknown, source: string): WatchedUser[] {
  const list = Array.isArray(doc) ? doc : (doc as { users?: unknown } | null)?.users;
  if (!Array.isArray(list)) throw new InputError(`${source}: expected a list of users (or a mapping with a "users" list)`);
  return dedupe(list.map((entry, i) => entryFrom(entry, `${source} entry ${i + 1}`)));
}

function parseCsvUsers(text: string, source: string): WatchedUser[] {
  let records: string[][];
  try {
    records = parseCsv(text, {
      bom: true,
      comment: '#',
      skip_empty_lines: true,
      trim: true,
      relax_column_count: true,
      delimiter: [',', ';', '\t'],
    }) as string[][];
  } catch (err) {
    throw new InputError(`${source}: not valid CSV (${(err as Error).message})`, { cause: err });
  }
  if (records.length === 0) return [];
  let contextCol = 0;
  let userCol = 1;
  let firstLine = 0;
  const header = records[0]!.map((cell) => cell.toLowerCase());
  if (header.some((cell) => !/^\d+$/.test(cell))) {
    contextCol = header.findIndex((cell) => CONTEXT_NAMES.includes(cell));
    userCol = header.findIndex((cell) => USER_NAMES.includes(cell));
    if (contextCol < 0 || userCol < 0)
      throw new InputError(`${source} line 1: expected a header with contextId and userId columns, got "${records[0]!.join(',')}"`);
    firstLine = 1;
  }
  const users: WatchedUser[] = [];
  for (let i = firstLine; i < records.length; i += 1) {
    const row = records[i]!;
    const where = `${source} record ${i + 1}`;
    users.push({ contextId: idFrom(row[contextCol], where, 'contextId'), userId: idFrom(row[userCol], where, 'userId') });
  }
  return dedupe(users);
}

function entryFrom(entry: unknown, where: string): WatchedUser {
  if (typeof entry === 'string') {
    const m = PAIR_TEXT.exec(entry);
    if (!m) throw new InputError(`${where}: "${entry}" is not a user (expected contextId/userId like 12/3)`);
    return { contextId: idFrom(m[1], where, 'contextId'), userId: idFrom(m[2], where, 'userId') };
  }
  if (Array.isArray(entry)) {
    if (entry.length !== 2) throw new InputError(`${where}: expected [contextId, userId], got ${describe(entry)}`);
    return { contextId: idFrom(entry[0], where, 'contextId'), userId: idFrom(entry[1], where, 'userId') };
  }
  if (typeof entry === 'object' && entry !== null) {
    const o = entry as Record<string, unknown>;
    const context = pick(o, CONTEXT_NAMES);
    const user = pick(o, USER_NAMES);
    return { contextId: idFrom(context, where, 'contextId'), userId: idFrom(user, where, 'userId') };
  }
  throw new InputError(`${where}: expected {contextId, userId}, got ${describe(entry)}`);
}

function pick(o: Record<string, unknown>, names: readonly string[]): unknown {
  for (const [key, value] of Object.entries(o)) if (names.includes(key.toLowerCase())) return value;
  return undefined;
}

function idFrom(value: unknown, where: string, field: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new InputError(`${where}: ${field} ${describe(value)} is not a positive integer`);
  return n;
}

function dedupe(users: WatchedUser[]): WatchedUser[] {
  const seen = new Set<string>();
  return users.filter((u) => {
    const key = `${u.contextId}/${u.userId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function describe(value: unknown): string {
  if (value === undefined) return '(missing)';
  const text = typeof value === 'string' ? `"${value}"` : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
