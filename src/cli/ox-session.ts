import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { OxClient } from '../ox/ox-client.js';
import { configFor } from './cli-support.js';

export interface OxSession {
  config: Config;
  ox: OxClient;
  log: Logger;
  /** Aborted on SIGINT/SIGTERM: the call stops, a half-written --output file is removed. */
  signal: AbortSignal;
}

/**
 * Runs a low-level command against OX: config as every command loads it, a logger on stderr
 * (stdout carries the data), one client that is closed afterwards so the process can exit.
 * `configFile` bypasses --config lookup for commands whose own --config means something else.
 */
export async function withOx<T>(
  command: Command,
  fn: (session: OxSession) => Promise<T>,
  configFile?: { file: string | undefined },
): Promise<T> {
  // Imported per call, not at start-up: undici, pino and zod cost more than `--help` should.
  const [{ loadConfig }, { createLogger }, { OxClient }] = await Promise.all([
    import('../config/load-config.js'),
    import('../log/logger.js'),
    import('../ox/ox-client.js'),
  ]);
  const config = configFile ? loadConfig({ file: configFile.file }) : await configFor(command);
  const log = createLogger({ level: config.logging.level, destination: 2 });
  const ox = new OxClient(config.ox, { log });
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => controller.abort(new Error(`interrupted by ${signal}`));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await fn({ config, ox, log, signal: controller.signal });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await ox.close();
  }
}

/** A line for people, on stderr. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}
