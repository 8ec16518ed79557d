import type { Command } from 'commander';
import { InputError, RefusedError } from '../../errors.js';
import type { AdsPlan, planCounts as PlanCounts } from '../../ads/plan.js';
import type { AdsSyncResult } from '../../ads/sync-ads.js';
import type { EntryFailure } from '../../ads/apply-plan.js';
import { configFor, withRuntime } from '../cli-support.js';
import { commandRedis, unlessRedisFails } from '../command-redis.js';
import { adsCommand } from './ads-group.js';

interface SyncOptions {
  catalog: string;
  full?: boolean;
  allowMassDelete?: boolean;
  json?: boolean;
  limit: string;
}

/**
 * What plan/apply run on, handed to them by `withRuntime` when a command runs, not imported at
 * start-up (the services pull in the AWS SDK, nodemailer and ioredis, which `ox-batch --help`
 * must not wait for).
 */
async function loadAdsSyncRuntime() {
  const [
    { createLogger },
    { createServices },
    { CatalogError },
    { assertPlanIsSafe, deleteGuard, planCounts },
    { AdsSyncIncompleteError, planFromCatalog, syncAds },
  ] = await Promise.all([
    import('../../log/logger.js'),
    import('../../services.js'),
    import('../../ads/parse-catalog.js'),
    import('../../ads/plan.js'),
    import('../../ads/sync-ads.js'),
  ]);
  return {
    createLogger,
    createServices,
    CatalogError,
    assertPlanIsSafe,
    deleteGuard,
    planCounts,
    AdsSyncIncompleteError,
    planFromCatalog,
    syncAds,
  };
}

const CATALOG_HELP = 'catalog: FILE, s3://bucket/key or http(s)://… ending in .yaml, .yml, .json or .csv';

/**
 * `ox-batch ads plan|apply --catalog F`: the catalog sync by hand. `plan` shows what would be
 * sent and changes nothing; `apply` sends it (what the `ads.sync` job does on a schedule).
 */
export function registerAdsSyncCommands(program: Command): void {
  const ads = adsCommand(program);

  ads
    .command('plan')
    .description('compare a catalog with what was last applied: counts and changed entries (changes nothing)')
    .requiredOption('--catalog <location>', CATALOG_HELP)
    .option('--full', 'plan a full re-apply (every entry is sent again)')
    .option(
      '--allow-mass-delete',
      'do not flag an empty catalog, one deleting every entry, or one deleting more than ads.maxDeleteCount and ads.maxDeleteFraction',
    )
    .option('--json', 'print the plan as JSON')
    .option('--limit <n>', 'changed entries listed in the table (0: all)', '50')
    .action(
      withRuntime(loadAdsSyncRuntime, async (runtime, options: SyncOptions, command: Command) => {
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 0)
          throw new InputError(`--limit ${JSON.stringify(options.limit)}: expected a whole number, 0 for all`);
        const { createLogger, createServices, CatalogError, assertPlanIsSafe, deleteGuard, planCounts, planFromCatalog } = runtime;
        const config = await configFor(command);
        const log = createLogger({ level: config.logging.level, destination: 2 });
        const redis = await commandRedis(config.redis.url);
        const services = createServices(config, { log, redis: redis.redis });
        try {
          const plan = await explainCatalogProblems(CatalogError, () =>
            unlessRedisFails(
              redis.ready,
              planFromCatalog({ catalog: options.catalog, full: options.full }, { config, redis: services.redis, log }),
            ),
          );
          process.stdout.write(
            options.json ? `${JSON.stringify(planJson(plan, planCounts), null, 2)}\n` : planTable(plan, limit, planCounts),
          );
          try {
            assertPlanIsSafe(plan, deleteGuard(config.ads, options.allowMassDelete));
          } catch (err) {
            if (!(err instanceof RefusedError)) throw err;
            process.stderr.write(`ox-batch: apply would refuse this plan: ${err.message}\n`);
            return err.exitCode;
          }
        } finally {
          await services.close();
          await redis.close();
        }
      }),
    );

  ads
    .command('apply')
    .description('send what changed in a catalog to OX (one PUT per reseller, one request per user) and record it')
    .requiredOption('--catalog <location>', CATALOG_HELP)
    .option('--full', 're-send every entry, not only changed ones (repairs drift: OX cannot be read back)')
    .option(
      '--allow-mass-delete',
      'apply an empty catalog, one deleting every entry, or one deleting more than ads.maxDeleteCount and ads.maxDeleteFraction',
    )
    .option('--json', 'print the result as JSON')
    .action(
      withRuntime(loadAdsSyncRuntime, async (runtime, options: SyncOptions, command: Command) => {
        const { createLogger, createServices, CatalogError, AdsSyncIncompleteError, syncAds } = runtime;
        const config = await configFor(command);
        const log = createLogger({ level: config.logging.level, destination: 2 });
        const redis = await commandRedis(config.redis.url);
        const services = createServices(config, { log, redis: redis.redis });
        const interrupt = new AbortController();
        const onSignal = () => interrupt.abort(new Error('interrupted'));
        process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
        try {
          let result: AdsSyncResult;
          let code = 0;
          try {
            result = await explainCatalogProblems(CatalogError, () =>
              unlessRedisFails(
                redis.ready,
                syncAds({ catalog: options.catalog, full: options.full, allowMassDelete: options.allowMassDelete }, services.ox, {
                  config,
                  redis: services.redis,
                  log,
                  signal: interrupt.signal,
                  onProgress: progressLine(),
                }),
              ),
            );
          } catch (err) {
            if (!(err instanceof AdsSyncIncompleteError)) throw err;
            result = err.result;
            code = err.exitCode;
          }
          process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : resultTable(result));
          if (result.applied && result.applied.failed > 0) printFailures(result.applied.failures, result.applied.failed);
          return code;
        } finally {
          process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
          await services.close();
          await redis.close();
        }
      }),
    );
}

/** A CatalogError's one-line message names the first problems; a person fixing the file wants all. */
async function explainCatalogProblems<T>(
  CatalogError: typeof import('../../ads/parse-catalog.js').CatalogError,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CatalogError) {
      for (const problem of err.problems) process.stderr.write(`  ${problem}\n`);
    }
    throw err;
  }
}

function progressLine(): ((p: { done: number; total: number; failed: number }) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return ({ done, total, failed }) => {
    const now = Date.now();
    if (now - last < 1000 && done < total) return;
    last = now;
    process.stderr.write(`\r  sent ${done}/${total} entries${failed > 0 ? `, ${failed} failed` : ''}   ${done >= total ? '\n' : ''}`);
  };
}

function planJson(plan: AdsPlan, planCounts: typeof PlanCounts) {
  const entry = (e: { key: string; origin: string }) => ({ key: e.key, origin: e.origin });
  return {
    catalog: plan.source,
    full: plan.full,
    counts: planCounts(plan),
    create: plan.creates.map(entry),
    update: plan.updates.map(entry),
    delete: plan.deletes.map((d) => ({ key: d.key })),
  };
}

function planTable(plan: AdsPlan, limit: number, planCounts: typeof PlanCounts): string {
  const counts = planCounts(plan);
  const lines = [
    `catalog ${plan.source}: ${counts.desired} entries; ${counts.known} known from earlier syncs${plan.full ? '; --full: every entry is sent' : ''}`,
    '',
    ...table([
      ['ACTION', 'COUNT'],
      ['create', counts.create],
      ['update', counts.update],
      ['delete', counts.delete],
      ['unchanged', counts.unchanged],
      ['to send', counts.toSend],
    ]),
  ];
  const changes = [
    ...plan.creates.map((e) => ['create', e.key, e.origin]),
    ...plan.updates.map((e) => ['update', e.key, e.origin]),
    ...plan.deletes.map((d) => ['delete', d.key, '(removed from the catalog)']),
  ];
  if (changes.length > 0) {
    const shown = limit > 0 ? changes.slice(0, limit) : changes;
    lines.push('', ...table([['ACTION', 'ENTRY', 'DECLARED AT'], ...shown]));
    if (shown.length < changes.length) lines.push(`… ${changes.length - shown.length} more (--limit 0 lists all, --json prints all)`);
  } else {
    lines.push('', 'nothing to change');
  }
  return `${lines.join('\n')}\n`;
}

function resultTable(result: AdsSyncResult): string {
  const applied = result.applied;
  if (!applied) return `catalog ${result.catalog}: dry run, nothing sent\n`;
  const seconds = applied.durationMs / 1000;
  const lines = [
    `catalog ${result.catalog}: ${applied.requests} OX requests in ${seconds.toFixed(1)} s${result.full ? ' (--full)' : ''}`,
    '',
    ...table([
      ['RESULT', 'COUNT'],
      ['created', applied.created],
      ['updated', applied.updated],
      ['deleted', applied.deleted],
      ['re-applied', applied.reapplied],
      ['unchanged', result.full ? 0 : result.plan.unchanged],
      ['failed', applied.failed],
    ]),
  ];
  return `${lines.join('\n')}\n`;
}

function printFailures(failures: EntryFailure[], total: number): void {
  process.stderr.write(`ox-batch: ${total} entries failed; they stay pending and are sent again by the next sync:\n`);
  for (const f of failures.slice(0, 20)) process.stderr.write(`  ${f.action} ${f.key}${f.origin ? ` (${f.origin})` : ''}: ${f.error}\n`);
  if (total > 20) process.stderr.write(`  … ${total - 20} more (--json lists the first ${failures.length})\n`);
}

function table(rows: Array<Array<string | number>>): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => String(row[column] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, column) => {
        const text = String(cell);
        return typeof cell === 'number' ? text.padStart(widths[column]!) : text.padEnd(widths[column]!);
      })
      .join('  ')
      .trimEnd(),
  );
}
