import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Node, type Document } from 'yaml';
import { parse as parseCsv, CsvError } from 'csv-parse/sync';
import type { z } from 'zod';
import { InputError, type OxBatchErrorCode } from '../errors.js';
import { entryKey, oxName, type AdEntry, type Catalog } from './catalog.js';
import { catalogSchema, csvRowSchema, CSV_COLUMNS, type CatalogDocument } from './catalog-schema.js';
import { configHash } from './canonical-json.js';
import { lineOfOffset, pathId, scanJsonStructure, type JsonPath } from './json-structure.js';

export type CatalogFormat = 'yaml' | 'json' | 'csv';

/** The problems found in a catalog, each `file:line: path: what is wrong`. Nothing was applied. */
export class CatalogError extends InputError {
  override readonly code: OxBatchErrorCode = 'OXB_CATALOG_INVALID';
  readonly problems: string[];
  constructor(source: string, problems: string[], options?: { cause?: unknown }) {
    const shown = problems.slice(0, 5).join('; ');
    const more = problems.length > 5 ? `; … ${problems.length - 5} more` : '';
    super(
      `catalog ${source} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}, nothing applied): ${shown}${more}`,
      options,
    );
    this.problems = problems;
  }
}

export function formatOfLocation(location: string): CatalogFormat {
  let path = location;
  if (/^https?:\/\//i.test(location)) {
    try {
      path = new URL(location).pathname;
    } catch {
      // reported by the reader
    }
  }
  const lower = path.toLowerCase();
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.csv')) return 'csv';
  throw new InputError(`catalog ${location}: unknown format; the name must end in .yaml, .yml, .json or .csv`);
}

/**
 * A catalog entry before its hash: what the file declared, and where. `origin` is short
 * (`users[3]`, `resellers.acme.packages.gold`, `line 12`); tree formats keep the path so a line
 * is looked up only when a message needs one (a line for each of 100,000 entries would cost a
 * second JSON scan on every good run).
 */
type Declared = AdEntry & { path: JsonPath | undefined };

function packageEntry(reseller: string, name: string, config: unknown, origin: string, path: JsonPath | undefined): Declared {
  const target = { scope: 'package' as const, reseller: oxName(reseller), package: oxName(name) };
  return { scope: 'package', reseller: target.reseller, package: target.package, key: entryKey(target), config, hash: '', origin, path };
}

function userEntry(contextId: number, userId: number, config: unknown, origin: string, path: JsonPath | undefined): Declared {
  return { scope: 'user', contextId, userId, key: `user:${contextId}/${userId}`, config, hash: '', origin, path };
}

function nameEntry(contextId: number, login: string, config: unknown, origin: string, path: JsonPath | undefined): Declared {
  return { scope: 'name', contextId, login, key: entryKey({ scope: 'name', contextId, login }), config, hash: '', origin, path };
}

/**
 * Parses and validates a whole catalog. Problems are collected across the file (duplicate keys,
 * types, bad rows, duplicate entries) and thrown together as one CatalogError. Only broken
 * syntax, or a catalog whose structure is wrong, hides the later checks.
 */
export function parseCatalog(text: string, options: { source: string; format: CatalogFormat }): Catalog {
  const { source, format } = options;
  const problems: string[] = [];
  let entries: AdEntry[];
  if (format === 'csv') {
    entries = finishEntries(parseCsvCatalog(text, source, problems), source, () => undefined, problems);
  } else {
    const tree = format === 'json' ? readJson(text, source, problems) : readYaml(text, source, problems);
    const result = catalogSchema.safeParse(tree.value ?? {}, { error: requiredMessage });
    if (result.success) {
      entries = finishEntries(declaredFromDocument(result.data), source, tree.lineOf, problems);
    } else {
      for (const issue of result.error.issues) problems.push(describeIssue(source, issue, tree.lineOf));
      entries = [];
    }
  }
  if (problems.length > 0) throw new CatalogError(source, problems.sort(byLine));
  return { source, entries };
}

interface Tree {
  value: unknown;
  lineOf(path: JsonPath): number | undefined;
}

function readJson(text: string, source: string, problems: string[]): Tree {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    const message = (err as Error).message;
    const offset = /position (\d+)/.exec(message);
    const where = offset ? `:${lineOfOffset(text, Number(offset[1])).line}` : '';
    throw new CatalogError(source, [`${source}${where}: not valid JSON (${message})`], { cause: err });
  }
  for (const d of scanJsonStructure(text).duplicates) {
    problems.push(`${source}:${d.line}: ${formatPath(d.path)}: duplicate key (first at line ${d.firstLine})`);
  }
  let lines: Map<string, number> | undefined;
  return {
    value,
    lineOf(path) {
      // Only a broken catalog needs lines: scan a second time then, not on every good run.
      lines ??= scanJsonStructure(text, { withLines: true }).lines;
      for (let end = path.length; end >= 0; end -= 1) {
        const line = lines.get(pathId(path.slice(0, end)));
        if (line !== undefined) return line;
      }
      return undefined;
    },
  };
}

function readYaml(text: string, source: string, problems: string[]): Tree {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, lineCounter, prettyErrors: false });
  const described = doc.errors.map((e) => {
    const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line;
    const what =
      e.code === 'DUPLICATE_KEY'
        ? `duplicate key ${JSON.stringify(/^[^:\n]*/.exec(text.slice(e.pos[0]))![0].trim())}`
        : `not valid YAML (${e.message.split('\n')[0]})`;
    return `${source}${line ? `:${line}` : ''}: ${what}`;
  });
  // A duplicate key still leaves a readable document: go on and find the other problems too.
  if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) throw new CatalogError(source, described);
  problems.push(...described);
  const value = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  return { value, lineOf: (path) => yamlLine(doc, path, lineCounter) };
}

function yamlLine(doc: Document, path: JsonPath, lineCounter: LineCounter): number | undefined {
  let node: unknown = doc.contents;
  let offset = (node as Node | null)?.range?.[0];
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
      offset = (node as Node | null)?.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      offset = (node as Node | undefined)?.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

/** Zod's default for a missing key reads "expected object, received undefined". */
function requiredMessage(issue: { input?: unknown; code?: string }): string | undefined {
  return issue.input === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union') ? 'required' : undefined;
}

function describeIssue(source: string, issue: z.core.$ZodIssue, lineOf: (path: JsonPath) => number | undefined): string {
  const path = issue.path as JsonPath;
  const line = lineOf(path);
  const at = path.length > 0 ? ` ${formatPath(path)}:` : '';
  return `${source}${line !== undefined ? `:${line}` : ''}:${at} ${issue.message}`;
}

export function formatPath(path: JsonPath): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(segment)) text += text === '' ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

function declaredFromDocument(doc: CatalogDocument): Declared[] {
  const declared: Declared[] = [];
  for (const [reseller, { packages }] of Object.entries(doc.resellers)) {
    for (const [name, { config }] of Object.entries(packages)) {
      const path = ['resellers', reseller, 'packages', name];
      declared.push(packageEntry(reseller, name, config, formatPath(path), path));
    }
  }
  const users = doc.users;
  for (let index = 0; index < users.length; index += 1) {
    const user = users[index]!;
    const origin = `users[${index}]`;
    const path = ['users', index];
    declared.push(
      user.userId !== undefined
        ? userEntry(user.contextId, user.userId, user.config, origin, path)
        : nameEntry(user.contextId, user.login!, user.config, origin, path),
    );
  }
  return declared;
}

function parseCsvCatalog(text: string, source: string, problems: string[]): Declared[] {
  const body = text.replace(/^\uFEFF/, '');
  const headerLine = body.slice(0, body.search(/\r?\n|$/));
  // Spreadsheets in much of Europe save with semicolons; the header says which one was used.
  const delimiter = headerLine.includes(';') && !headerLine.includes(',') ? ';' : ',';
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parseCsv(body, {
      delimiter,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      comment: '#',
      comment_no_infix: true,
    }) as unknown as typeof records;
  } catch (err) {
    const line = err instanceof CsvError ? (err as CsvError & { lines?: number }).lines : undefined;
    throw new CatalogError(source, [`${source}${line ? `:${line}` : ''}: not valid CSV (${(err as Error).message})`], { cause: err });
  }
  if (records.length === 0) return [];
  const [header, ...rows] = records;
  const columns = header!.record.map((name) => name.trim().toLowerCase());
  const missing = CSV_COLUMNS.filter((c) => !columns.includes(c));
  const unknown = columns.filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c));
  const headerProblems: string[] = [];
  if (missing.length > 0)
    headerProblems.push(
      `${source}:${header!.info.lines}: header: missing column(s) ${missing.join(', ')} (expected ${CSV_COLUMNS.join(',')})`,
    );
  if (unknown.length > 0) headerProblems.push(`${source}:${header!.info.lines}: header: unknown column(s) ${unknown.join(', ')}`);
  if (headerProblems.length > 0) throw new CatalogError(source, headerProblems);

  // Row by row, so that duplicates among the good rows are found next to the bad rows.
  const declared: Declared[] = [];
  for (const { record, info } of rows) {
    if (record.length !== columns.length) {
      problems.push(`${source}:${info.lines}: row has ${record.length} fields, the header has ${columns.length}`);
      continue;
    }
    const cells: Record<string, string> = {};
    columns.forEach((column, i) => {
      cells[column] = record[i]!;
    });
    cells.scope = cells.scope!.trim().toLowerCase();
    const result = csvRowSchema.safeParse(cells, { error: requiredMessage });
    if (!result.success) {
      for (const issue of result.error.issues) {
        problems.push(`${source}:${info.lines}:${issue.path.length > 0 ? ` ${formatPath(issue.path as JsonPath)}:` : ''} ${issue.message}`);
      }
      continue;
    }
    const row = result.data;
    const origin = `line ${info.lines}`;
    if (row.scope === 'package') declared.push(packageEntry(row.reseller, row.package, row.config, origin, undefined));
    else if (row.scope === 'user') declared.push(userEntry(row.context_id, row.user_id, row.config, origin, undefined));
    else declared.push(nameEntry(row.context_id, row.login, row.config, origin, undefined));
  }
  return declared;
}

function byLine(a: string, b: string): number {
  const line = (s: string) => Number(/:(\d+):/.exec(s)?.[1] ?? 0);
  return line(a) - line(b);
}

/** Rejects entries that target the same thing twice (also "" next to "default"); adds hashes. */
function finishEntries(
  declared: Declared[],
  source: string,
  lineOf: (path: JsonPath) => number | undefined,
  problems: string[],
): AdEntry[] {
  const where = (entry: Declared) => {
    const line = entry.path ? lineOf(entry.path) : undefined;
    if (line !== undefined) return `${source}:${line}`;
    return entry.path ? `${source} ${entry.origin}` : `${source}:${entry.origin.slice('line '.length)}`;
  };
  const seen = new Map<string, Declared>();
  for (const entry of declared) {
    const first = seen.get(entry.key);
    if (first) problems.push(`${where(entry)}: duplicate entry ${entry.key} (first declared at ${where(first)})`);
    else seen.set(entry.key, entry);
    entry.hash = configHash(entry.config);
  }
  if (problems.length > 0) return [];
  for (const entry of declared) entry.path = undefined;
  return declared;
}
