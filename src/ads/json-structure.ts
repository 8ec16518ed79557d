/**
 * JSON.parse silently keeps the last of two equal keys. A catalog must not: a duplicated package
 * or user block is a mistake to report, not to resolve. This scanner walks JSON text that
 * JSON.parse already accepted, reports duplicate keys, and (when asked) the line of every value
 * so validation problems can name `catalog.json:12`.
 */

export type JsonPath = ReadonlyArray<string | number>;

export interface DuplicateKey {
  path: JsonPath;
  line: number;
  firstLine: number;
}

export interface JsonStructure {
  duplicates: DuplicateKey[];
  /** Line (1-based) of the value at a path, keyed by `pathId(path)`; empty unless `withLines`. */
  lines: Map<string, number>;
}

export function pathId(path: JsonPath): string {
  return JSON.stringify(path);
}

interface Frame {
  kind: 'object' | 'array';
  path: Array<string | number>;
  keys: Map<string, number> | undefined;
  index: number;
  key: string | undefined;
  expectKey: boolean;
}

export function scanJsonStructure(text: string, options: { withLines?: boolean } = {}): JsonStructure {
  const duplicates: DuplicateKey[] = [];
  const lines = new Map<string, number>();
  const stack: Frame[] = [];
  let line = 1;
  let i = 0;

  const valuePath = (): Array<string | number> | undefined => {
    const top = stack[stack.length - 1];
    if (!top) return [];
    if (top.kind === 'array') return [...top.path, top.index];
    return top.key === undefined ? undefined : [...top.path, top.key];
  };
  const onValue = (): Array<string | number> => {
    const path = valuePath() ?? [];
    if (options.withLines) lines.set(pathId(path), line);
    return path;
  };

  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\n') {
      line += 1;
      i += 1;
    } else if (ch === ' ' || ch === '\t' || ch === '\r') {
      i += 1;
    } else if (ch === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        const firstLine = top.keys!.get(key);
        if (firstLine !== undefined) duplicates.push({ path: [...top.path, key], line, firstLine });
        else top.keys!.set(key, line);
        top.key = key;
        top.expectKey = false;
      } else {
        onValue();
      }
      i = end + 1;
    } else if (ch === '{' || ch === '[') {
      const path = onValue();
      stack.push({ kind: ch === '{' ? 'object' : 'array', path, keys: ch === '{' ? new Map() : undefined, index: 0, key: undefined, expectKey: ch === '{' });
      i += 1;
    } else if (ch === '}' || ch === ']') {
      stack.pop();
      i += 1;
    } else if (ch === ',') {
      const top = stack[stack.length - 1];
      if (top?.kind === 'array') top.index += 1;
      else if (top) top.expectKey = true;
      i += 1;
    } else if (ch === ':') {
      i += 1;
    } else {
      // number, true, false, null
      onValue();
      while (i < text.length && !',]}\n\r\t '.includes(text[i]!)) i += 1;
    }
  }
  return { duplicates, lines };
}

/** Line and column (1-based) of a character offset. */
export function lineOfOffset(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i += 1) {
    if (text.charCodeAt(i) === 10) {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}
