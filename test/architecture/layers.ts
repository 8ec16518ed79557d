/**
 * The layer order of `src/` as docs/architecture.md ("## Layers") writes it, and the check of an
 * import graph against it. The document is the one place the order lives: this file only reads it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { readImports } from './imports.js';

export interface Group {
  name: string;
  /** Repo-relative: a folder ends with `/` (`src/log/`), a file does not (`src/errors.ts`). */
  modules: string[];
}

export interface LayerPlan {
  /** Bottom first. */
  layers: Group[];
  /** Not layers: they may import any layer; only the composition roots import them. */
  apart: Group[];
  /** The modules that import the job registry (`jobs/`) and what stands apart. */
  roots: Group[];
}

/** One import: `from` and `to` repo-relative (`to` resolved to the .ts file), or `to` a package. */
export interface ImportEdge {
  from: string;
  line: number;
  specifier: string | undefined;
  to: string | undefined;
}

function tables(section: string): Array<{ header: string; rows: string[][] }> {
  const found: Array<{ header: string; rows: string[][] }> = [];
  let current: { header: string; rows: string[][] } | undefined;
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (!current) {
      current = { header: cells[0] ?? '', rows: [] };
      found.push(current);
    } else if (!/^-+$/.test(cells[0] ?? '')) {
      current.rows.push(cells);
    }
  }
  return found;
}

/** Reads the "## Layers" section of a Markdown document. */
export function parseLayerPlan(markdown: string): LayerPlan {
  const start = markdown.search(/^## Layers$/m);
  if (start < 0) throw new Error('no "## Layers" section');
  const rest = markdown.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const groups = (header: RegExp): Group[] => {
    const table = tables(section).find((t) => header.test(t.header));
    if (!table) throw new Error(`the Layers section has no table headed ${header}`);
    return table.rows.map((row) => ({ name: row[0]!, modules: [...row[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!) }));
  };
  return { layers: groups(/^Layer/), apart: groups(/^Apart/), roots: groups(/^Composition root/) };
}

function contains(module: string, path: string): boolean {
  return module.endsWith('/') ? path.startsWith(module) : path === module;
}

type Place = { kind: 'layer'; index: number; name: string; module: string } | { kind: 'apart'; name: string; module: string };

/** The layer (or the group standing apart) of a repo-relative path; undefined when none. */
export function placeOf(path: string, plan: LayerPlan): Place | undefined {
  for (const [index, layer] of plan.layers.entries()) {
    const module = layer.modules.find((m) => contains(m, path));
    if (module) return { kind: 'layer', index, name: layer.name, module };
  }
  for (const group of plan.apart) {
    const module = group.modules.find((m) => contains(m, path));
    if (module) return { kind: 'apart', name: group.name, module };
  }
  return undefined;
}

/** What in `edges` breaks the plan, one sentence each naming the file, line and import. */
export function layerViolations(edges: readonly ImportEdge[], plan: LayerPlan): string[] {
  const problems: string[] = [];
  const isRoot = (path: string) => plan.roots.some((r) => r.modules.some((m) => contains(m, path)));
  for (const edge of edges) {
    const where = `${edge.from}:${edge.line}`;
    const from = placeOf(edge.from, plan);
    if (!from) {
      problems.push(`${edge.from} is in no layer: add its module to the Layers tables of docs/architecture.md`);
      continue;
    }
    if (edge.specifier === undefined) {
      problems.push(`${where} imports a computed module name: name the module, so its layer can be checked`);
      continue;
    }
    if (edge.to === undefined) continue; // a package or a Node.js built-in
    const quoted = `'${edge.specifier}'`;
    if (!edge.to.startsWith('src/')) {
      if (edge.to.startsWith('jobs/') && isRoot(edge.from)) continue;
      problems.push(
        edge.to.startsWith('jobs/')
          ? `${where} imports ${quoted}: only a composition root imports the job registry; hand the job kinds in instead`
          : `${where} imports ${quoted}, outside src/`,
      );
      continue;
    }
    const to = placeOf(edge.to, plan);
    if (!to) {
      problems.push(
        `${where} imports ${quoted} (${edge.to}), which is in no layer: add its module to the Layers tables of docs/architecture.md`,
      );
    } else if (to.kind === 'apart') {
      if (from.kind === 'layer' && !isRoot(edge.from))
        problems.push(`${where} imports ${quoted}: ${to.module} stands apart, and only a composition root imports it`);
    } else if (from.kind === 'layer' && to.index > from.index) {
      problems.push(`${where} imports ${quoted}: ${to.module} is in layer ${to.name}, above ${from.module} in layer ${from.name}`);
    }
  }
  return problems;
}

/** Every .ts file under `dir`, as paths joined onto it. */
export function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The imports of every .ts file under `root/src`, relative specifiers resolved to repo paths. */
export function sourceImports(root: string): ImportEdge[] {
  return sourceFiles(join(root, 'src')).flatMap((file) => {
    const from = relative(root, file).split('\\').join('/');
    return readImports(readFileSync(file, 'utf8')).map((ref) => ({
      from,
      line: ref.line,
      specifier: ref.specifier,
      to: ref.specifier?.startsWith('.') ? posix.normalize(posix.join(dirname(from), ref.specifier)).replace(/\.js$/, '.ts') : undefined,
    }));
  });
}
