import type { Command } from 'commander';

/**
 * Every command group registers itself here. One module per group:
 * feedback (export/raw/send/delete), ads, passwd-changes, sim, daemon (start/schedules/...).
 */
export function registerCommands(program: Command): void {
  void program;
}
