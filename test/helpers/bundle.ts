/**
 * A TypeScript entry point (the CLI, a test daemon) bundled once per test process with esbuild
 * (the compiler tsx uses; packages stay external), so each spawn starts plain node on one file.
 * `node --import tsx` compiles the sources again in every child: about 1.5–2 CPU s more per
 * spawn than the bundle, which over the suite's hundreds of spawns was minutes of CPU on the
 * 2-core CI machine. The bundle lives below node_modules/.cache (so the external packages
 * resolve) and is removed when the test file is done.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const bundles = new Map<string, Promise<string>>();
const dirs: string[] = [];
const removeBundles = () => {
  bundles.clear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
};
// When the file's tests are done (vitest ends its workers without an 'exit' event), and as a
// last resort at exit.
afterAll(removeBundles);
process.once('exit', removeBundles);

/** The path of `entry` (absolute, a .ts file) bundled to one .mjs file, built on first use. */
export function bundled(entry: string): Promise<string> {
  let bundle = bundles.get(entry);
  if (!bundle) {
    const dir = join(ROOT, 'node_modules', '.cache', `oxb-test-${randomUUID().slice(0, 8)}`);
    dirs.push(dir);
    const outfile = join(dir, basename(entry).replace(/\.ts$/, '.mjs'));
    bundle = build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
    }).then(() => outfile);
    bundles.set(entry, bundle);
  }
  return bundle;
}

/** The CLI (`src/cli/main.ts`) bundled from the current sources. */
export function bundledCli(): Promise<string> {
  return bundled(join(ROOT, 'src', 'cli', 'main.ts'));
}
