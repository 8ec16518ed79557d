import type { Command } from 'commander';
import { EXIT_OK, InputError, exitCodeOf } from '../errors.js';
import type { Config } from '../config/schema.js';
import { scrubText } from '../log/secrets.js';

/** Global options every command sees (declared on the root program in main.ts). */
export interface GlobalOptions {
  config?: string;
}

/**
 * Loads the config the way every command does: --config, else OXB_CONFIG, then env. The loader
 * (zod, yaml) is imported here, not at start-up, so `--help` does not pay for it.
 */
export async function configFor(command: Command, overrides?: Record<string, unknown>): Promise<Config> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const { loadConfig } = await import('../config/load-config.js');
  return loadConfig({ file: globals.config, overrides });
}

/**
 * Wraps a command action: an error exits with its class's code (errors.ts: 2 for bad input or a
 * refusal, 1 for a server/network failure and anything else) and prints one scrubbed line to
 * stderr. Actions return an exit code or nothing.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let code: number;
    try {
      code = (await fn(...args)) ?? EXIT_OK;
    } catch (err) {
      code = reportError(err);
    }
    process.exitCode = code;
  };
}

/**
 * The one way a command gets what it needs: `load` imports what its group uses when the command
 * runs (not at start-up: `ox-batch --help` must not wait for BullMQ, the AWS SDK or luxon) and
 * the action is handed the result, so nothing can be used before it is loaded. Errors map to exit
 * codes as in `action`. Connections are built inside the action and closed when it ends
 * (`withOx`, the daemon commands' `withQueue`, `commandRedis`); a command that needs nothing but
 * an OX session (the `ads` writes) is a plain `action` around `withOx`.
 */
export function withRuntime<R, A extends unknown[]>(
  load: () => Promise<R>,
  fn: (runtime: R, ...args: A) => Promise<number | void> | number | void,
): (...args: A) => Promise<void> {
  return action(async (...args: A) => fn(await load(), ...args));
}

export function reportError(err: unknown): number {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ox-batch: ${scrubText(message).split('\n')[0]}\n`);
  if (process.env.OXB_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${scrubText(err.stack)}\n`);
  return exitCodeOf(err);
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--param key=value` pairs; values that parse as JSON (numbers, booleans, arrays) are taken as such. */
export function parseParams(pairs: string[] = []): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InputError(`--param ${JSON.stringify(pair)}: expected key=value`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    params[key] = value;
  }
  return params;
}
