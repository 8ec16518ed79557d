import type { Command } from 'commander';
import { registerFeedbackCommands } from './feedback.js';
import { registerAdsOpsCommands } from './ads-ops.js';
import { registerAdsSyncCommands } from './ads-sync.js';
import { registerPasswdChangesCommand } from './passwd-changes.js';
import { registerDaemonCommands } from './daemon.js';
import { registerSimCommand } from './sim.js';

/**
 * Every command group registers itself here. One module per group:
 * feedback (export/raw/send/delete), ads, passwd-changes, sim, daemon (start/schedules/...).
 */
export function registerCommands(program: Command): void {
  void program;
  registerFeedbackCommands(program);
  registerAdsOpsCommands(program);
  registerAdsSyncCommands(program);
  registerPasswdChangesCommand(program);
  registerDaemonCommands(program);
  registerSimCommand(program);
}
