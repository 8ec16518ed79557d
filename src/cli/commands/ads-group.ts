import type { Command } from 'commander';

/**
 * The one `ads` command group. Two modules attach subcommands to it (the low-level writes in
 * ads-ops.ts, the catalog sync's plan/apply), so whoever registers first creates it.
 */
export function adsCommand(program: Command): Command {
  const existing = program.commands.find((command) => command.name() === 'ads');
  if (existing) return existing;
  return program
    .command('ads')
    .description('advertisement configs: single writes (set-user, set-package, ...) and catalog sync (plan, apply)');
}
