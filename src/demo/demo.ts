/**
 * `npm run demo`: a full ox-batch run on one machine with nothing but Redis. An OX simulator
 * (60 days of feedback, ad users, password histories), an SMTP catcher writing .eml files, the fs
 * archive, and the daemon in this process with config/schedules.example.yaml — then the steps an
 * operator takes: backfill a week of daily exports, purge by retention behind the archive guard,
 * sync advertisements from the catalog, audit yesterday's password changes. Prints a summary with
 * the paths to look at. `--keep` leaves everything running (dashboard, metrics) until Ctrl-C.
 */
import '../v8-settings.js';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Command } from 'commander';
import { DateTime } from 'luxon';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { loadConfig, packageRoot } from '../config/load-config.js';
import { scrubText, safeUrl } from '../log/secrets.js';
import { Daemon } from '../daemon/daemon.js';
import { jobKinds } from '../../jobs/index.js';
import { ScheduleState } from '../queue/schedule-state.js';
import { lastClosedWindow } from '../time/windows.js';
import { startMailCatcher, type MailCatcher } from './mail-catcher.js';
import { DEMO_ZONE, FEEDBACK_DAYS, startDemoWorld, type DemoWorld } from './demo-world.js';

/** The largest `lag` of config/schedules.example.yaml's daily schedules. */
const DEMO_LAG_MS = 30 * 60_000;
import { backfill, runOnce, type FinishedJob } from './drive-daemon.js';
import { countArchive, formatSummary, type DemoSummary } from './demo-summary.js';
import { deleteKeysWithPrefix as deleteKeys } from '../redis/keys.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../errors.js';

const MARKER = '.ox-batch-demo';

interface DemoPaths {
  root: string;
  mail: string;
  archive: string;
  work: string;
  spool: string;
  log: string;
  summary: string;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function demoPaths(): DemoPaths {
  const root = packageRoot();
  const base = process.env.OXB_DEMO_DIR ?? join(root, 'var');
  const work = join(base, 'demo');
  return {
    root,
    mail: join(base, 'mail'),
    archive: join(base, 'archive'),
    work,
    spool: join(work, 'spool'),
    log: join(work, 'daemon.log'),
    summary: join(work, 'summary.json'),
  };
}

/** Redis is the one thing the demo needs from outside: check it first and say how to get one. */
async function checkRedis(url: string): Promise<string | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 3_000,
    retryStrategy: () => null,
  });
  let lastError: string | undefined;
  client.on('error', (err: Error) => {
    lastError = err.message;
  });
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (err) {
    return scrubText(lastError ?? (err as Error).message);
  } finally {
    client.disconnect();
  }
}

/** Only folders the demo itself wrote (they carry a marker) are removed. */
async function cleanFolder(dir: string): Promise<string | undefined> {
  if (existsSync(dir)) {
    const entries = await readdir(dir);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      return `${dir} holds files the demo did not write; move them away, or set OXB_DEMO_DIR to another folder`;
    }
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MARKER), 'written by npm run demo; removed by its next run\n');
  return undefined;
}

/** The daemon's JSON log goes to a file: the terminal shows the demo's own lines. */
function fileLogger(file: string): Logger {
  return pino(
    {
      level: 'info',
      redact: { paths: ['password', '*.password', 'authorization', '*.authorization', 'smtp', '*.smtp'], censor: '***' },
      hooks: {
        logMethod(args, method) {
          return method.apply(this, args.map((a) => (typeof a === 'string' ? scrubText(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    pino.destination({ dest: file, sync: true, mkdir: true }),
  );
}

function shown(path: string): string {
  const root = packageRoot();
  return path === root ? '.' : path.startsWith(`${root}/`) ? relative(root, path) : path;
}

function day(ms: number): string {
  return DateTime.fromMillis(ms, { zone: DEMO_ZONE }).toISODate()!;
}

function rowsOf(jobs: FinishedJob[]): number {
  return jobs.reduce((sum, j) => sum + (typeof j.result?.rows === 'number' ? j.result.rows : 0), 0);
}

function failuresOf(jobs: FinishedJob[]): FinishedJob[] {
  return jobs.filter((j) => j.status !== 'done' && j.status !== 'skipped');
}

async function main(): Promise<number> {
  const program = new Command('demo')
    .description('Run ox-batch end to end against a local OX simulator; needs Redis (REDIS_URL)')
    .option('--keep', 'leave the simulator, the daemon and the dashboard running until Ctrl-C')
    .exitOverride();
  try {
    program.parse(process.argv);
  } catch {
    return EXIT_USAGE;
  }
  const keep = program.opts<{ keep?: boolean }>().keep === true;
  const started = Date.now();
  const paths = demoPaths();
  process.chdir(paths.root); // the example config names config/… paths relative to the package
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const prefix = process.env.OXB_DEMO_PREFIX || 'oxb-demo';

  const redisProblem = await checkRedis(redisUrl);
  if (redisProblem !== undefined) {
    process.stderr.write(
      [
        `ox-batch demo: Redis does not answer at ${safeUrl(redisUrl)} (${redisProblem}).`,
        'The demo needs a Redis server and nothing else. Start one, e.g.:',
        '  docker run -d --name ox-batch-redis -p 6379:6379 redis:7',
        '  or on Debian/Ubuntu: sudo apt-get install redis-server   (listens on 127.0.0.1:6379)',
        'or point REDIS_URL at one:  REDIS_URL=redis://host:6379 npm run demo',
        '',
      ].join('\n'),
    );
    return EXIT_FAILURE;
  }

  for (const dir of [paths.mail, paths.archive, paths.work]) {
    const problem = await cleanFolder(dir);
    if (problem) {
      process.stderr.write(`ox-batch demo: ${problem}\n`);
      return EXIT_USAGE;
    }
  }
  await mkdir(paths.spool, { recursive: true });
  const admin = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  admin.on('error', () => undefined);
  await deleteKeys(admin, prefix);

  const now = Date.now();
  // "Today" is the day after the last one that has closed (end + the example schedules' largest
  // lag, 30 m): shortly after midnight yesterday is still open and would be refused.
  const today = lastClosedWindow('1d', DEMO_ZONE, now, DEMO_LAG_MS).end;
  const dayBefore = (ms: number, days: number) => DateTime.fromMillis(ms, { zone: DEMO_ZONE }).minus({ days }).toMillis();
  const weekAgo = dayBefore(today, 7);
  const yesterday = dayBefore(today, 1);

  let mail: MailCatcher | undefined;
  let world: DemoWorld | undefined;
  let daemon: Daemon | undefined;
  const stopAll = async () => {
    await daemon?.stop({ graceMs: 5_000 }).catch(() => undefined);
    await world?.sim.close().catch(() => undefined);
    await mail?.close().catch(() => undefined);
    admin.disconnect();
  };

  try {
    say(`ox-batch demo: Redis ${safeUrl(redisUrl)} (prefix ${prefix}), files under ${shown(join(paths.work, '..'))}/`);
    mail = await startMailCatcher(paths.mail);
    world = await startDemoWorld({
      now,
      smtpUrl: mail.url,
      catalog: 'config/catalog.example.yaml',
      watchedUsers: 'config/watched-users.example.csv',
    });
    say(
      `  OX simulator    ${world.sim.url}  ${world.feedbackRows} feedback rows over ${FEEDBACK_DAYS} days from ${day(world.dataStart)}, ${world.watchedUsers} watched users, ${world.catalogUsers} ad users`,
    );
    say(`  SMTP catcher    ${mail.url}  → ${shown(paths.mail)}/*.eml`);

    const config = loadConfig({
      file: 'config/schedules.example.yaml',
      env: {},
      overrides: {
        timezone: DEMO_ZONE,
        ox: { url: world.sim.url, user: 'oxadmin', password: 'secret', admin: { user: 'oxadminmaster', password: 'master' } },
        redis: { url: redisUrl, prefix },
        http: { host: '127.0.0.1', port: keep ? Number(process.env.OXB_HTTP_PORT || 9464) : 0 },
        ui: { user: 'demo', password: 'demo', allowActions: false },
        archive: { kind: 'fs', dir: paths.archive },
        spool: { dir: paths.spool },
        mail: { smtp: mail.url, from: 'ox-batch demo <ox-batch@demo.invalid>' },
        worker: { concurrency: 4, shutdownGraceMs: 5_000, backoffMs: 1_000 },
        // The archive guards the purge from the first day OX holds feedback.
        schedules: { 'feedback-daily': { startAt: day(world.dataStart) } },
      },
    });
    // The demo drives every step itself: the schedules' own triggers stay paused until --keep.
    const state = new ScheduleState(admin, prefix);
    for (const id of Object.keys(config.schedules)) await state.setPaused(id, true);
    const log = fileLogger(paths.log);
    try {
      daemon = await Daemon.start({ config, kinds: jobKinds, log, connectTimeoutMs: 5_000 });
    } catch (err) {
      if (!keep || !/EADDRINUSE/.test(String((err as Error).message))) throw err;
      daemon = await Daemon.start({ config, kinds: jobKinds, log, port: 0, connectTimeoutMs: 5_000 });
    }
    say(`  daemon          config/schedules.example.yaml: ${daemon.schedules.map((s) => s.id).join(', ')}; log ${shown(paths.log)}`);

    // 1. A week of daily exports: archived, verified, mailed once each.
    // Day by day, as the schedule runs them: each mail's digest compares with the days before.
    const week: FinishedJob[] = [];
    for (let from = weekAgo; from < today; from = dayBefore(from, -1))
      week.push(...(await backfill(daemon, 'feedback-daily', from, dayBefore(from, -1))));
    say(
      `1 backfill feedback-daily ${day(weekAgo)} .. ${day(yesterday)}: ${week.length} windows, ${rowsOf(week)} rows, ${failuresOf(week).length} failed`,
    );

    // 2. The purge refuses while older feedback is not archived …
    const before = world.sim.feedbackCount();
    const refused = await runOnce(daemon, 'feedback-purge', Date.now());
    const refusal = refused.status === 'done' ? undefined : (refused.reason ?? 'refused').replace(/^\S*Error: /, '');
    say(`2 purge feedback-purge (retention 30d) before the history is archived: ${refusal ? `refused — ${refusal}` : 'ran (unexpected)'}`);
    // … so archive the history (archive only, no mails), then purge again.
    const history = await backfill(daemon, 'feedback-daily', world.dataStart, weekAgo, { params: { deliver: ['archive'] } });
    say(
      `  archive history ${day(world.dataStart)} .. ${day(dayBefore(weekAgo, 1))}: ${history.length} windows (archive only), ${rowsOf(history)} rows, ${failuresOf(history).length} failed`,
    );
    const purge = await runOnce(daemon, 'feedback-purge', Date.now());
    const after = world.sim.feedbackCount();
    say(
      `  purge again: ${purge.status === 'done' ? `deleted feedback before ${purge.result?.cutoff} — ${before - after} rows gone, ${after} remain` : `failed — ${purge.reason}`}`,
    );

    // 3. Advertisement sync from the example catalog.
    const ads = await runOnce(daemon, 'ads-sync', Date.now());
    const applied = ads.result?.applied as { created: number; updated: number; deleted: number; failed: number } | undefined;
    say(
      `3 ads-sync config/catalog.example.yaml: ${ads.status === 'done' && applied ? `created ${applied.created}, updated ${applied.updated}, deleted ${applied.deleted}, failed ${applied.failed}` : `failed — ${ads.reason}`}`,
    );

    // 4. Yesterday's password changes of the watched users.
    const [audit] = await backfill(daemon, 'passwd-audit', yesterday, today);
    say(
      `4 passwd-audit ${day(yesterday)}: ${audit?.status === 'done' ? `${audit.result.usersChecked} users, ${audit.result.changes} changes, ${audit.result.flaggedRows} flagged` : `failed — ${audit?.reason}`}`,
    );

    const archive = await countArchive(paths.archive);
    const mails = (await readdir(paths.mail)).filter((f) => f.endsWith('.eml')).sort();
    const summary: DemoSummary = {
      ok: failuresOf([...week, ...history, purge, ads, ...(audit ? [audit] : [])]).length === 0,
      durationMs: Date.now() - started,
      prefix,
      paths: { archive: paths.archive, mail: paths.mail, log: paths.log },
      windows: {
        schedule: 'feedback-daily',
        zone: DEMO_ZONE,
        from: day(weekAgo),
        to: day(yesterday),
        done: week.filter((j) => j.status === 'done').length,
        rows: rowsOf(week),
        keys: week.map((j) => j.result?.archive?.key).filter((k): k is string => typeof k === 'string'),
        historyDone: history.filter((j) => j.status === 'done').length,
        historyRows: rowsOf(history),
      },
      files: archive,
      mails: { count: mails.length, files: mails },
      purge: {
        refusedFirst: refusal !== undefined,
        refusal,
        cutoff: purge.result?.cutoff,
        retention: purge.result?.retention,
        limitedBy: purge.result?.limitedBy,
        rowsBefore: before,
        rowsDeleted: before - after,
        rowsLeft: after,
        guardWatermark: purge.result?.guard?.watermark,
      },
      ads: { catalog: 'config/catalog.example.yaml', ...(applied ?? {}), ...(ads.status === 'done' ? {} : { error: ads.reason }) },
      audit:
        audit?.status === 'done'
          ? {
              window: day(yesterday),
              usersChecked: audit.result.usersChecked,
              changes: audit.result.changes,
              flaggedRows: audit.result.flaggedRows,
              key: audit.result.archive?.key,
            }
          : { window: day(yesterday), error: audit?.reason },
    };
    await writeFile(paths.summary, `${JSON.stringify(summary, null, 2)}\n`);
    say('');
    say(formatSummary(summary, paths.root));

    if (keep) {
      for (const id of Object.keys(config.schedules)) await state.setPaused(id, false);
      const url = daemon.http!.url;
      say('');
      say('Running (--keep); the schedules tick on their own now. Ctrl-C stops everything.');
      say(`  dashboard  ${url}/ui/   (login demo / demo)`);
      say(`  metrics    ${url}/metrics    health ${url}/healthz  ${url}/readyz`);
      say(`  OX sim     ${world.sim.url}    SMTP ${mail.url}`);
      say(
        `  CLI        REDIS_URL=${safeUrl(redisUrl)} OXB_REDIS_PREFIX=${prefix} OX_URL=${world.sim.url} node dist/src/cli/main.js --config config/schedules.example.yaml status`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      say('stopping…');
    }
    await stopAll();
    return summary.ok ? EXIT_OK : EXIT_FAILURE;
  } catch (err) {
    process.stderr.write(`ox-batch demo: failed: ${scrubText((err as Error).message)}\n  daemon log: ${paths.log}\n`);
    await stopAll();
    return EXIT_FAILURE;
  }
}

const code = await main();
// Pooled sockets and timers of the libraries must not keep a finished demo alive.
setTimeout(() => process.exit(code), 200).unref();
process.exitCode = code;
