/**
 * What a test of real ox-batch processes needs: its own Redis prefix, a scratch folder, the CLI
 * bundle, and the processes it started (`sim`, `start`), all removed again by `close`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli, spawnCli, stopCli, type CliProcess } from '../cli/cli-kit.js';
import { deleteKeys, plainRedis, testPrefix } from '../daemon/helpers.js';

export function processWorld(name: string) {
  const prefix = testPrefix();
  const redis = plainRedis();
  const dir = mkdtempSync(join(tmpdir(), `oxb-${name}-`));
  const children: CliProcess[] = [];
  let cli: { entry: string; dispose(): void } | undefined;
  return {
    prefix,
    redis,
    dir,
    /** Builds the CLI bundle (call in beforeAll). */
    async ready(): Promise<string> {
      cli = await bundleCli();
      return cli.entry;
    },
    get entry(): string {
      if (!cli) throw new Error('processWorld: call ready() first');
      return cli.entry;
    },
    start(args: string[], env: Record<string, string> = {}): CliProcess {
      const started = spawnCli(this.entry, args, { HOME: dir, ...env });
      children.push(started);
      return started;
    },
    async close(): Promise<void> {
      await stopCli(children);
      cli?.dispose();
      await deleteKeys(redis, prefix);
      await redis.quit();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
