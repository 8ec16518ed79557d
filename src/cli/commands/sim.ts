import type { Command } from 'commander';
import { InputError } from '../../errors.js';
import { safeUrl } from '../../log/secrets.js';
import type { FaultOptions, SimCredentials, SimulatorOptions } from '../../sim/ox-simulator.js';
import { KNOWN_FEEDBACK_TYPES } from '../../sim/feedback-fields.js';
import { collect, withRuntime } from '../cli-support.js';

/** What `ox-batch sim` uses, imported when it runs: nodemailer and the rest must not slow down `--help`. */
async function loadSimRuntime() {
  const [{ OxSimulator }, { parseInstant }] = await Promise.all([import('../../sim/ox-simulator.js'), import('../../time/parse-time.js')]);
  return { OxSimulator, parseInstant };
}

interface SimCliOptions {
  port: string;
  host: string;
  feedbackRows?: string;
  from?: string;
  to?: string;
  seed: string;
  contextGroup: string;
  type: string;
  zone: string;
  fixture?: string;
  restUser: string;
  restPassword: string;
  rest: boolean;
  masterUser: string;
  masterPassword: string;
  master: boolean;
  contextAdmin?: string[];
  smtp?: string;
  users?: string;
  contexts: string;
  historySize: string;
  legacyDeleteProse?: boolean;
  legacySendProse?: boolean;
  latencyMs?: string;
  errorRate?: string;
  errorStatus?: string;
  retryAfter?: string;
  loginPageFor?: string;
}

/**
 * `ox-batch sim`: a local OX App Suite stand-in that answers the 11 REST operations like a real
 * server (quirks included), for trying ox-batch without an OX and for benchmarks.
 * Prints its base URL on stdout and runs until SIGINT/SIGTERM.
 */
export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('run the OX simulator (all 11 REST operations, OX quirks, synthetic data) until Ctrl-C')
    .option('--port <port>', 'port to listen on (0 = any free port)', '8009')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--feedback-rows <n>', 'generate N synthetic rows of each --type (streamed, never held in memory)')
    .option('--from <T>', 'first synthetic feedback time (ISO 8601 or epoch ms; default 30 days ago)')
    .option('--to <T>', 'end of synthetic feedback, exclusive (default now)')
    .option('--seed <n>', 'seed of the synthetic data', '1')
    .option('--context-group <name>', 'context group of the synthetic feedback', 'default')
    .option('--type <types>', 'feedback type(s) of the synthetic feedback: star-rating-v1, nps-v1 or both (comma list)', 'star-rating-v1')
    .option('--zone <zone>', 'zone for dates without offset in --from/--to', 'UTC')
    .option('--fixture <file>', 'load exact feedback, users, password changes, credentials from JSON')
    .option('--rest-user <user>', 'REST basic-auth user (/userfeedback, /advertisement)', 'oxadmin')
    .option('--rest-password <password>', 'REST basic-auth password', 'secret')
    .option('--no-rest', 'no REST credentials configured: every feedback/advertisement call answers 403')
    .option('--master-user <user>', 'master admin user (passwd-changes override)', 'oxadminmaster')
    .option('--master-password <password>', 'master admin password', 'master')
    .option('--no-master', 'disable the master admin override')
    .option('--context-admin <cid=user:password>', 'context admin credentials (repeatable)', collect)
    .option('--smtp <url>', 'SMTP server `send` mails through, e.g. smtp://127.0.0.1:2525 (absent: send fails FEEDBACK-0007)')
    .option('--users <n>', 'generate N users per context with password-change histories')
    .option('--contexts <n>', 'contexts for --users', '1')
    .option('--history-size <n>', 'password changes kept per user', '10')
    .option('--legacy-delete-prose', 'answer delete with the early text/plain prose')
    .option('--legacy-send-prose', 'answer send with the older prose message')
    .option('--latency-ms <ms>', 'fault: delay every answer')
    .option('--error-rate <share>', 'fault: share 0..1 of requests answered with --error-status')
    .option('--error-status <status>', 'fault: 500, 502, 503, 504 or 429', '503')
    .option('--retry-after <seconds>', 'fault: Retry-After sent with 429/503')
    .option(
      '--login-page-for <method>',
      'fault: answer every request of this method (e.g. DELETE) with a 200 HTML login page, like an SSO proxy in front of OX',
    )
    .action(
      withRuntime(loadSimRuntime, async ({ OxSimulator, parseInstant }, options: SimCliOptions) => {
        // Every argument is checked before the server starts, so bad input exits 2 at once.
        const simOptions = simulatorOptions(options);
        const now = Date.now();
        const from = options.from === undefined ? now - 30 * 86_400_000 : parseInstant(options.from, options.zone, '--from');
        const to = options.to === undefined ? now : parseInstant(options.to, options.zone, '--to');
        if ((options.feedbackRows !== undefined || options.users !== undefined) && !(to > from)) {
          throw new InputError(`--to ${JSON.stringify(options.to ?? 'now')}: must be after --from`);
        }
        const seed = integer(options.seed, '--seed', 0);
        const rows = options.feedbackRows === undefined ? undefined : integer(options.feedbackRows, '--feedback-rows', 0);
        const users = options.users === undefined ? undefined : integer(options.users, '--users', 0);
        const contexts = integer(options.contexts, '--contexts', 1);
        const types = feedbackTypes(options.type);

        const sim = await OxSimulator.start(simOptions).catch((err: NodeJS.ErrnoException) => {
          // A port that is taken or privileged is the caller's choice to fix: input, not a failure.
          if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
            throw new InputError(`--host ${options.host} --port ${options.port}: cannot listen (${err.code})`);
          }
          throw err;
        });
        for (const type of rows === undefined ? [] : types)
          sim.generateFeedback({ rows: rows!, from, to, seed, contextGroup: options.contextGroup, type });
        if (users !== undefined) sim.generatePasswordHistories({ contexts, usersPerContext: users, from, to, seed });
        process.stdout.write(`${sim.url}\n`);
        process.stderr.write(
          `ox-batch sim: OX simulator at ${sim.url} (feedback rows: ${types.map((type) => `${type} ${sim.feedbackCount({ contextGroup: options.contextGroup, type })}`).join(', ')}` +
            `${options.smtp ? `, mails via ${safeUrl(options.smtp)}` : ''}); Ctrl-C stops it\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await sim.close();
      }),
    );
}

function feedbackTypes(list: string): string[] {
  const types = [
    ...new Set(
      list
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = types.find((t) => !(KNOWN_FEEDBACK_TYPES as readonly string[]).includes(t));
  if (types.length === 0 || unknown !== undefined) {
    throw new InputError(`--type ${JSON.stringify(list)}: expected ${KNOWN_FEEDBACK_TYPES.join(', ')} or a comma list of them`);
  }
  return types;
}

function simulatorOptions(o: SimCliOptions): SimulatorOptions {
  const contextAdmins: Record<string, { user: string; password: string }> = {};
  for (const entry of o.contextAdmin ?? []) {
    const m = /^(\d+)=([^:]+):(.*)$/.exec(entry);
    if (!m) throw new InputError(`--context-admin ${JSON.stringify(entry.replace(/:.*/, ':***'))}: expected <contextId>=<user>:<password>`);
    contextAdmins[m[1]!] = { user: m[2]!, password: m[3]! };
  }
  const credentials: SimCredentials = {
    rest: o.rest ? { user: o.restUser, password: o.restPassword } : null,
    master: o.master ? { user: o.masterUser, password: o.masterPassword } : null,
    contextAdmins,
  };
  const options: SimulatorOptions = {
    host: o.host,
    port: integer(o.port, '--port', 0),
    credentials,
    historySize: integer(o.historySize, '--history-size', 1),
    legacy: { deleteProse: !!o.legacyDeleteProse, sendProse: !!o.legacySendProse },
  };
  if (o.smtp !== undefined) options.smtpUrl = o.smtp;
  if (o.fixture !== undefined) options.fixture = o.fixture;
  const faults: FaultOptions = {};
  if (o.latencyMs !== undefined) faults.latencyMs = integer(o.latencyMs, '--latency-ms', 0);
  if (o.errorRate !== undefined) {
    const rate = Number(o.errorRate);
    if (!(rate >= 0 && rate <= 1)) throw new InputError(`--error-rate ${JSON.stringify(o.errorRate)}: expected a number within 0..1`);
    faults.errorRate = rate;
    const status = Number(o.errorStatus);
    if (![500, 502, 503, 504, 429].includes(status))
      throw new InputError(`--error-status ${JSON.stringify(o.errorStatus)}: expected 500, 502, 503, 504 or 429`);
    faults.errorStatus = status as FaultOptions['errorStatus'];
  }
  if (o.retryAfter !== undefined) faults.retryAfterSeconds = integer(o.retryAfter, '--retry-after', 0);
  if (o.loginPageFor !== undefined) {
    const method = o.loginPageFor.toUpperCase();
    if (!['GET', 'PUT', 'POST', 'DELETE'].includes(method))
      throw new InputError(`--login-page-for ${JSON.stringify(o.loginPageFor)}: expected GET, PUT, POST or DELETE`);
    // Only this method gets the page; a latency or error share given as well still applies to it alone.
    Object.assign(faults, { loginPage: true, method });
  }
  if (Object.keys(faults).length > 0) options.faults = faults;
  return options;
}

function integer(value: string, flag: string, min: number): number {
  const text = value.trim();
  if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new InputError(`${flag} ${JSON.stringify(value)}: expected an integer >= ${min}`);
  }
  return Number(text);
}
