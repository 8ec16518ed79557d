import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { EXIT_FAILURE, InputError } from '../../errors.js';
import type { OxClient } from '../../ox/ox-client.js';
import type { ResellerPackageConfig } from '../../ox/types.js';
import { action } from '../cli-support.js';
import { say, withOx } from '../ox-session.js';
import { adsCommand } from './ads-group.js';

type Ids = { contextId?: string; userId?: string; name?: string; reseller?: string; package?: string };

interface AdOp {
  name: string;
  description: string;
  target: 'user' | 'name' | 'package';
  write: 'set' | 'delete';
}

const OPS: AdOp[] = [
  { name: 'set-user', description: "set a user's advertisement config (by context and user id)", target: 'user', write: 'set' },
  { name: 'delete-user', description: "remove a user's own advertisement config", target: 'user', write: 'delete' },
  { name: 'set-name', description: "set a user's advertisement config (by login name)", target: 'name', write: 'set' },
  { name: 'delete-name', description: "remove a user's own advertisement config (by login name)", target: 'name', write: 'delete' },
  { name: 'set-package', description: "set the config of a reseller's package", target: 'package', write: 'set' },
  { name: 'delete-package', description: "remove the config of a reseller's package", target: 'package', write: 'delete' },
];

/**
 * `ox-batch ads set-user|delete-user|set-name|delete-name|set-package|delete-package|set-reseller`:
 * one OX advertisement call each; the outcome (created/updated/deleted/nothing-to-delete, or the
 * per-package statuses) goes to stdout as JSON. OX has no GET: these writes are all there is.
 *
 * Here `--config` is the advertisement config (FILE, JSON text, or - for stdin), as OX's API
 * names it. The root program's `--config` (the ox-batch YAML) would swallow it wherever it
 * stands, so the command line is split at the subcommand: before it, --config is the YAML file;
 * after it, the advertisement config.
 */
export function registerAdsOpsCommands(program: Command): void {
  const ads = adsCommand(program);
  for (const op of OPS) {
    const command = ads.command(op.name).description(op.description);
    if (op.target === 'user') command.requiredOption('--context-id <id>', 'context id').requiredOption('--user-id <id>', 'user id');
    if (op.target === 'name')
      command.requiredOption('--context-id <id>', 'context id').requiredOption('--name <login>', "the user's login name");
    if (op.target === 'package')
      command
        .requiredOption('--reseller <name>', 'reseller name (empty means default)')
        .requiredOption('--package <name>', 'package name (empty means default)');
    command.option(
      '--config <file|json>',
      op.write === 'set' ? 'the advertisement config: a FILE, JSON text, or - for stdin (required)' : 'ignored for deletes',
    );
    command.action(
      action(async (ids: Ids, cmd: Command) => {
        if (op.target === 'name' && (ids.name ?? '').trim() === '')
          throw new InputError(`--name ${JSON.stringify(ids.name ?? '')}: expected a login name`);
        const split = splitConfigFlags(process.argv.slice(2), op.name);
        const config = op.write === 'set' ? readAdConfig(split.payload, '--config') : undefined;
        return withOx(
          cmd,
          async ({ ox }) => {
            const outcome = await runAdOp(ox, op, ids, config);
            process.stdout.write(`${JSON.stringify({ operation: op.name, ...describeIds(op, ids), outcome })}\n`);
            say(`${op.name}: ${outcome}`);
          },
          { file: split.yamlFile },
        );
      }),
    );
  }

  ads
    .command('set-reseller')
    .description("replace the configs of a reseller's packages in one call; config null deletes a package's config")
    .requiredOption('--reseller <name>', 'reseller name (empty means default)')
    .option('--config <file|json>', 'array [{"package": "gold", "config": {...}}, ...]: a FILE, JSON text, or - for stdin (required)')
    .action(
      action(async (options: { reseller: string }, cmd: Command) => {
        const split = splitConfigFlags(process.argv.slice(2), 'set-reseller');
        const entries = resellerEntries(readAdConfig(split.payload, '--config'));
        return withOx(
          cmd,
          async ({ ox }) => {
            const results = await ox.setResellerConfigs({ reseller: options.reseller, entries });
            const report = results.map((result, i) => ({ package: entries[i]?.package, ...result }));
            process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
            const errors = report.filter((entry) => entry.status === 'ERROR');
            for (const entry of errors) say(`package ${entry.package}: ERROR ${entry.error ?? '(no reason given)'}`);
            if (results.length !== entries.length) say(`OX answered ${results.length} statuses for ${entries.length} packages`);
            say(`set-reseller ${options.reseller}: ${summarize(report.map((e) => e.status))}`);
            return errors.length > 0 || results.length !== entries.length ? EXIT_FAILURE : undefined;
          },
          { file: split.yamlFile },
        );
      }),
    );
}

async function runAdOp(ox: OxClient, op: AdOp, ids: Ids, config: unknown) {
  switch (`${op.write}-${op.target}`) {
    case 'set-user':
      return ox.setUserConfig({ contextId: intArg(ids.contextId, '--context-id'), userId: intArg(ids.userId, '--user-id'), config });
    case 'delete-user':
      return ox.deleteUserConfig({ contextId: intArg(ids.contextId, '--context-id'), userId: intArg(ids.userId, '--user-id') });
    case 'set-name':
      return ox.setNameConfig({ contextId: intArg(ids.contextId, '--context-id'), name: ids.name!, config });
    case 'delete-name':
      return ox.deleteNameConfig({ contextId: intArg(ids.contextId, '--context-id'), name: ids.name! });
    case 'set-package':
      return ox.setPackageConfig({ reseller: ids.reseller!, package: ids.package!, config });
    default:
      return ox.deletePackageConfig({ reseller: ids.reseller!, package: ids.package! });
  }
}

function describeIds(op: AdOp, ids: Ids): Record<string, unknown> {
  if (op.target === 'user') return { contextId: Number(ids.contextId), userId: Number(ids.userId) };
  if (op.target === 'name') return { contextId: Number(ids.contextId), name: ids.name };
  return { reseller: ids.reseller, package: ids.package };
}

function intArg(value: string | undefined, flag: string): number {
  if (value === undefined || !/^\d+$/.test(value.trim()))
    throw new InputError(`${flag} ${JSON.stringify(value ?? '')}: expected a non-negative integer`);
  return Number(value.trim());
}

/**
 * Splits the command line at `ads <subcommand>`: `--config`/`-c` before it is the YAML config
 * file, after it the advertisement config. The last occurrence on each side wins.
 */
export function splitConfigFlags(args: string[], subcommand: string): { yamlFile?: string; payload?: string } {
  const at = args.findIndex((arg, i) => arg === 'ads' && args[i + 1] === subcommand);
  const boundary = at < 0 ? args.length : at + 2; // tokens from here on belong to the subcommand
  const result: { yamlFile?: string; payload?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    const flagAt = i;
    let value: string | undefined;
    if (arg === '--config' || arg === '-c') value = args[++i];
    else if (arg.startsWith('--config=')) value = arg.slice('--config='.length);
    else if (/^-c[^-]/.test(arg)) value = arg.slice(2);
    else continue;
    if (flagAt < boundary) result.yamlFile = value;
    else result.payload = value;
  }
  return result;
}

const LOOKS_LIKE_JSON = /^\s*([{["]|-?\d|true\s*$|false\s*$|null\s*$)/;

/** `--config` value: JSON text, `-` (stdin) or a file holding JSON. */
export function readAdConfig(value: string | undefined, flag: string): unknown {
  if (value === undefined) throw new InputError(`${flag} is required: the advertisement config as a FILE, JSON text, or - for stdin`);
  let text: string;
  let source: string;
  if (value === '-') {
    text = readFileSync(0, 'utf8');
    source = `${flag} - (stdin)`;
  } else if (LOOKS_LIKE_JSON.test(value)) {
    text = value;
    source = flag;
  } else {
    try {
      text = readFileSync(value, 'utf8');
    } catch (err) {
      throw new InputError(`${flag} ${value}: neither JSON nor a readable file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
        cause: err,
      });
    }
    source = `${flag} ${value}`;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InputError(`${source}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

function resellerEntries(value: unknown): ResellerPackageConfig[] {
  if (!Array.isArray(value)) throw new InputError('--config: set-reseller expects a JSON array [{"package": "...", "config": {...}}]');
  return value.map((entry, i) => {
    if (
      typeof entry !== 'object' ||
      entry === null ||
      Array.isArray(entry) ||
      typeof (entry as { package?: unknown }).package !== 'string'
    ) {
      throw new InputError(`--config [${i}]: expected {"package": "<name>", "config": <JSON or null>}`);
    }
    const e = entry as { package: string; config?: unknown };
    return { package: e.package, config: e.config === undefined ? null : e.config };
  });
}

function summarize(statuses: string[]): string {
  if (statuses.length === 0) return 'nothing to do';
  const counts = new Map<string, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${status.toLowerCase()}`).join(', ');
}
