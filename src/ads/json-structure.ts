/**
 * JSON.parse silently keeps the last of two equal keys. A catalog must not: a duplicated package
 * or user block is a mistake to report, not to resolve. This scanner walks JSON text that
 * JSON.parse already accepted, reports duplicate keys, and (when asked) the line of every value
 * so validation problems can name `catalog.json:12`. It allocates nothing per value unless lines
 * are asked for: a 100,000-user catalog is scanned on every sync.
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
  isObject: boolean;
  parent: Frame | undefined;
  /** This container's key or index in its parent. */
  slot: string | number | undefined;
  keys: Map<string, number> | undefined;
  index: number;
  key: string | undefined;
  expectKey: boolean;
}

const QUOTE = 34;
const BACKSLASH = 92;
const NEWLINE = 10;

function framePath(frame: Frame | undefined): Array<string | number> {
  const path: Array<string | number> = [];
  for (let f = frame; f; f = f.parent) if (f.slot !== undefined) path.push(f.slot);
  return path.reverse();
}

export function scanJsonStructure(text: string, options: { withLines?: boolean } = {}): JsonStructure {
  const duplicates: DuplicateKey[] = [];
  const lines = new Map<string, number>();
  const withLines = options.withLines === true;
  const root: Frame = { isObject: false, parent: undefined, slot: undefined, keys: undefined, index: 0, key: undefined, expectKey: false };
  let top: Frame = root;
  let line = 1;
  let i = 0;
  const length = text.length;

  const slotOf = (frame: Frame): string | number | undefined => (frame === root ? undefined : frame.isObject ? frame.key : frame.index);
  const recordLine = () => {
    if (!withLines) return;
    const path = framePath(top);
    const slot = slotOf(top);
    if (slot !== undefined) path.push(slot);
    lines.set(pathId(path), line);
  };

  while (i < length) {
    const code = text.charCodeAt(i);
    if (code === NEWLINE) {
      line += 1;
      i += 1;
    } else if (code === 32 || code === 9 || code === 13 || code === 58 /* : */) {
      i += 1;
    } else if (code === QUOTE) {
      let end = i + 1;
      let escaped = false;
      for (;;) {
        const c = text.charCodeAt(end);
        if (c === QUOTE) break;
        if (c === BACKSLASH) {
          escaped = true;
          end += 2;
        } else {
          end += 1;
        }
      }
      if (top.isObject && top.expectKey) {
        const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
        const firstLine = top.keys!.get(key);
        if (firstLine !== undefined) duplicates.push({ path: [...framePath(top), key], line, firstLine });
        else top.keys!.set(key, line);
        top.key = key;
        top.expectKey = false;
      } else {
        recordLine();
      }
      i = end + 1;
    } else if (code === 123 /* { */ || code === 91 /* [ */) {
      recordLine();
      const isObject = code === 123;
      top = {
        isObject,
        parent: top,
        slot: slotOf(top),
        keys: isObject ? new Map() : undefined,
        index: 0,
        key: undefined,
        expectKey: isObject,
      };
      i += 1;
    } else if (code === 125 /* } */ || code === 93 /* ] */) {
      top = top.parent ?? root;
      i += 1;
    } else if (code === 44 /* , */) {
      if (top.isObject) top.expectKey = true;
      else top.index += 1;
      i += 1;
    } else {
      // number, true, false, null
      recordLine();
      i += 1;
      while (i < length) {
        const c = text.charCodeAt(i);
        if (c === 44 || c === 93 || c === 125 || c === 32 || c === 10 || c === 13 || c === 9) break;
        i += 1;
      }
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
