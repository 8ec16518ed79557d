import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import type { PasswordChange } from '../../ox/types.js';
import { withRuntime } from '../cli-support.js';
import { withOx } from '../ox-session.js';

/** What the command uses, imported when it runs: luxon (the table's dates) is not loaded for `--help`. */
async function loadPasswdChangesRuntime() {
  const { DateTime } = await import('luxon');
  return { DateTime };
}

const SORT = /^-?(date|client_id)(,-?(date|client_id))*$/;

/**
 * `ox-batch passwd-changes`: one user's password-change history, with the context admin's
 * credentials (ox.admin.contexts.<id>, else ox.admin.user). JSON array on stdout; --format table
 * for people (dates in the configured zone).
 */
export function registerPasswdChangesCommand(program: Command): void {
  program
    .command('passwd-changes')
    .description("a user's password-change history (OX keeps the last few per user)")
    .requiredOption('--context-id <id>', 'context id')
    .requiredOption('--user-id <id>', 'user id')
    .option('--limit <n>', 'at most N entries (after sorting)')
    .option('--sort <fields>', 'comma list of date, client_id; - prefix for descending', '-date')
    .option('--format <format>', 'json or table', 'json')
    .action(
      withRuntime(
        loadPasswdChangesRuntime,
        async (
          { DateTime },
          options: { contextId: string; userId: string; limit?: string; sort: string; format: string },
          command: Command,
        ) => {
          const contextId = positiveInt(options.contextId, '--context-id', 0);
          const userId = positiveInt(options.userId, '--user-id', 0);
          const limit = options.limit === undefined ? undefined : positiveInt(options.limit, '--limit', 1);
          if (!SORT.test(options.sort))
            throw new InputError(
              `--sort ${JSON.stringify(options.sort)}: expected a comma list of date, client_id (- prefix for descending)`,
            );
          if (options.format !== 'json' && options.format !== 'table')
            throw new InputError(`--format ${JSON.stringify(options.format)}: expected json or table`);
          await withOx(command, async ({ config, ox }) => {
            const changes = await ox.passwordChanges({ contextId, userId, limit, sort: options.sort });
            process.stdout.write(
              options.format === 'table' ? table(changes, config.timezone, DateTime) : `${JSON.stringify(changes, null, 2)}\n`,
            );
          });
        },
      ),
    );
}

function positiveInt(value: string, flag: string, min: number): number {
  const text = value.trim();
  if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new InputError(`${flag} ${JSON.stringify(value)}: expected an integer >= ${min}`);
  }
  return Number(text);
}

/** `DateTime` is passed in: luxon is imported only when a table is asked for. */
function table(changes: PasswordChange[], zone: string, DateTime: typeof import('luxon').DateTime): string {
  const rows = [['date', 'client', 'client_id', 'address']].concat(
    changes.map((c) => [
      DateTime.fromMillis(c.date, { zone }).toFormat('yyyy-MM-dd HH:mm:ss ZZ'),
      c.client_name ?? '',
      c.client_id,
      c.client_address,
    ]),
  );
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return `${rows
    .map((row) =>
      row
        .map((cell, col) => cell.padEnd(widths[col]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n${changes.length === 0 ? '(no password changes)\n' : ''}`;
}
