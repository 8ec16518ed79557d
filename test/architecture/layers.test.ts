/**
 * The layers of src/ point one way: this reads the real imports of every file and the layer order
 * written in docs/architecture.md ("## Layers"), and names each import that points upward.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readImports } from './imports.js';
import { layerViolations, parseLayerPlan, placeOf, sourceFiles, sourceImports, type ImportEdge, type LayerPlan } from './layers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const plan = parseLayerPlan(readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8'));

describe('the layers of src/', () => {
  it('keep the order the architecture gives: time, redis, ledger, ox, delivery, queue, http, cli', () => {
    const names = plan.layers.map((l) => l.name);
    const fixed = ['time', 'redis', 'ledger', 'ox', 'delivery', 'queue', 'http', 'cli'];
    expect(names.filter((n) => fixed.includes(n))).toEqual(fixed);
    expect(names.at(-1)).toBe('cli');
  });

  it('hold every file of src/', () => {
    const files = sourceFiles(join(ROOT, 'src')).map((f) => relative(ROOT, f).split('\\').join('/'));
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => placeOf(f, plan) === undefined)).toEqual([]);
  });

  it('are never imported upward, and sim/, demo/ and jobs/ only by a composition root', () => {
    const edges = sourceImports(ROOT);
    // The scanner sees the imports it should (a scanner that found none would pass vacuously).
    expect(edges.length).toBeGreaterThan(500);
    expect(edges).toContainEqual({
      from: 'src/http/metrics.ts',
      line: expect.any(Number),
      specifier: '../queue/observer.js',
      to: 'src/queue/observer.ts',
    });
    expect(edges).toContainEqual({
      from: 'src/cli/commands/daemon.ts',
      line: expect.any(Number),
      specifier: '../../../jobs/index.js',
      to: 'jobs/index.ts',
    });
    expect(layerViolations(edges, plan)).toEqual([]);
  });
});

describe('the layer check', () => {
  const synthetic: LayerPlan = {
    layers: [
      { name: 'base', modules: ['src/errors.ts', 'src/log/'] },
      { name: 'time', modules: ['src/time/'] },
      { name: 'queue', modules: ['src/queue/'] },
      { name: 'cli', modules: ['src/cli/'] },
    ],
    apart: [{ name: 'sim', modules: ['src/sim/'] }],
    roots: [{ name: 'cli', modules: ['src/cli/'] }],
  };
  const edge = (from: string, specifier: string | undefined, to: string | undefined, line = 1): ImportEdge => ({
    from,
    line,
    specifier,
    to,
  });

  it('names the file, line and import of each violation', () => {
    expect(
      layerViolations(
        [
          edge('src/time/windows.ts', '../queue/schedules.js', 'src/queue/schedules.ts', 7),
          edge('src/queue/tick.ts', '../sim/ox-simulator.js', 'src/sim/ox-simulator.ts', 3),
          edge('src/queue/attempt.ts', '../../jobs/index.js', 'jobs/index.ts', 9),
          edge('src/queue/attempt.ts', undefined, undefined, 11),
          edge('src/http/metrics.ts', '../queue/observer.js', 'src/queue/observer.ts'),
          edge('src/time/windows.ts', '../config/schema.js', 'src/config/schema.ts', 2),
        ],
        synthetic,
      ),
    ).toEqual([
      "src/time/windows.ts:7 imports '../queue/schedules.js': src/queue/ is in layer queue, above src/time/ in layer time",
      "src/queue/tick.ts:3 imports '../sim/ox-simulator.js': src/sim/ stands apart, and only a composition root imports it",
      "src/queue/attempt.ts:9 imports '../../jobs/index.js': only a composition root imports the job registry; hand the job kinds in instead",
      'src/queue/attempt.ts:11 imports a computed module name: name the module, so its layer can be checked',
      'src/http/metrics.ts is in no layer: add its module to the Layers tables of docs/architecture.md',
      "src/time/windows.ts:2 imports '../config/schema.js' (src/config/schema.ts), which is in no layer: add its module to the Layers tables of docs/architecture.md",
    ]);
  });

  it('lets a module import its own layer, lower ones and packages; a root the registry and what stands apart', () => {
    expect(
      layerViolations(
        [
          edge('src/queue/tick.ts', './enqueue.js', 'src/queue/enqueue.ts'),
          edge('src/queue/tick.ts', '../time/windows.js', 'src/time/windows.ts'),
          edge('src/queue/tick.ts', '../errors.js', 'src/errors.ts'),
          edge('src/queue/tick.ts', 'bullmq', undefined),
          edge('src/cli/commands/sim.ts', '../../sim/ox-simulator.js', 'src/sim/ox-simulator.ts'),
          edge('src/cli/commands/daemon.ts', '../../../jobs/index.js', 'jobs/index.ts'),
          edge('src/sim/ox-simulator.ts', '../log/logger.js', 'src/log/logger.ts'),
          edge('src/sim/ox-simulator.ts', '../queue/queues.js', 'src/queue/queues.ts'),
        ],
        synthetic,
      ),
    ).toEqual([]);
  });

  it('reads the layer order from the Layers section of the document', () => {
    const doc = [
      '# x',
      '## Layers',
      'text',
      '| Layer (bottom first) | Modules | What |',
      '|---|---|---|',
      '| base | `src/errors.ts` `src/log/` | a |',
      '| queue | `src/queue/` | b |',
      '',
      '| Apart | Modules | Started by |',
      '|---|---|---|',
      '| sim | `src/sim/` | c |',
      '',
      '| Composition root | Modules |',
      '|---|---|',
      '| cli | `src/cli/` |',
      '## Next',
      '| Layer | `src/other/` | ignored |',
    ].join('\n');
    expect(parseLayerPlan(doc)).toEqual({
      layers: [
        { name: 'base', modules: ['src/errors.ts', 'src/log/'] },
        { name: 'queue', modules: ['src/queue/'] },
      ],
      apart: [{ name: 'sim', modules: ['src/sim/'] }],
      roots: [{ name: 'cli', modules: ['src/cli/'] }],
    });
  });
});

describe('readImports', () => {
  it('finds every form of import, and none inside strings, comments, templates or regular expressions', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      "import './side-effect.js';",
      'import {',
      '  c,',
      "} from './c.js';",
      "export { d } from './d.js';",
      "export type { E } from './e.js';",
      "export * from './f.js';",
      "export * as g from './g.js';",
      'export const h = 1;',
      "// import('./commented.js')",
      "/* import { x } from './block-comment.js'; */",
      'const quote = /[\'"]/; const s = "import(\'./in-string.js\')";',
      "const t = `x ${`import('./in-template.js')`} y ${h / 2} import('./template-text.js')`;",
      "const lazy = await import('./lazy.js');",
      "let kind: typeof import('./type-query.js').Kind;",
      'const computed = await import(name);',
      'const meta = import.meta.url;',
      "const ratio = h / 2 / 3; const fromRequire = require('./required.js');",
      "const type = 4; const half = type / 2; const re = typeof /'/; function f() { return /'/.test(s); }",
      "const afterRegex = import('./after-regex.js');",
    ].join('\n');
    expect(readImports(text)).toEqual([
      { specifier: './a.js', form: 'import', line: 1 },
      { specifier: '../b.js', form: 'import', line: 2 },
      { specifier: './side-effect.js', form: 'import', line: 3 },
      { specifier: './c.js', form: 'import', line: 4 },
      { specifier: './d.js', form: 'export-from', line: 7 },
      { specifier: './e.js', form: 'export-from', line: 8 },
      { specifier: './f.js', form: 'export-from', line: 9 },
      { specifier: './g.js', form: 'export-from', line: 10 },
      { specifier: './lazy.js', form: 'dynamic', line: 16 },
      { specifier: './type-query.js', form: 'dynamic', line: 17 },
      { specifier: undefined, form: 'dynamic', line: 18 },
      { specifier: './required.js', form: 'require', line: 20 },
      { specifier: './after-regex.js', form: 'dynamic', line: 22 },
    ]);
  });
});
