import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { Config } from '../../config/schema.js';
import { EXIT_FAILURE, InputError, RefusedError } from '../../errors.js';
import { sendFailures, sentRecipients } from '../../ox/ox-answers.js';
import type { FeedbackQuery, RawFeedbackRecord, SendRecipient } from '../../ox/types.js';
import { collect, withRuntime } from '../cli-support.js';
import { say, withOx } from '../ox-session.js';
import { outputTarget } from '../write-output.js';
import { MAX_DIGEST_COMMENTS } from '../../digest/comment-picker.js';

/** What the feedback commands use, imported when one runs: luxon is not loaded for `--help`. */
async function loadFeedbackRuntime() {
  const { isoUtc, parseInstant } = await import('../../time/parse-time.js');
  return { isoUtc, parseInstant };
}

type FeedbackRuntime = Awaited<ReturnType<typeof loadFeedbackRuntime>>;

/** `feedback digest` also needs the digest modules. */
async function loadDigestRuntime() {
  const [time, digest, digestTable] = await Promise.all([
    loadFeedbackRuntime(),
    import('../../digest/digest-accumulator.js'),
    import('../../digest/digest-table.js'),
  ]);
  return { ...time, digest, digestTable };
}

interface WindowOptions {
  contextGroup: string;
  type: string;
  start?: string;
  end?: string;
}

/**
 * `ox-batch feedback export|raw|send|digest|delete`: OX's exportuserfeedback / senduserfeedback /
 * deleteuserfeedback, with half-open windows typed as dates, retries, safe output files and a
 * confirmation before deleting; `digest` summarises a range as the export mails do.
 */
export function registerFeedbackCommands(program: Command): void {
  const feedback = program.command('feedback').description('export, mail or delete user feedback on the OX server (one call each)');

  withWindow(feedback.command('export'))
    .description("OX's CSV export, bytes untouched (BOM, quoted cells, lone-CR rows)")
    .option('-d, --delimiter <char>', 'column delimiter (OX uses the first character)', ';')
    .option('-o, --output <file>', 'write to FILE (created only when complete), - for stdout', '-')
    .option('-f, --force', 'overwrite an existing --output file')
    .action(
      withRuntime(
        loadFeedbackRuntime,
        async (runtime, options: WindowOptions & { delimiter: string; output: string; force?: boolean }, command: Command) => {
          const target = outputTarget(options.output, options.force === true);
          await withOx(command, async ({ config, ox, signal }) => {
            const query = { ...windowQuery(runtime, options, config), signal };
            const csv = await ox.exportCsv({ ...query, delimiter: options.delimiter });
            const { bytes } = await target.write(csv);
            say(`exported ${describeQuery(runtime, query)}: ${bytes} bytes to ${target.description}`);
          });
        },
      ),
    );

  withWindow(feedback.command('raw'))
    .description("OX's raw export as a JSON array (one object per line)")
    .option('-o, --output <file>', 'write to FILE (created only when complete), - for stdout', '-')
    .option('-f, --force', 'overwrite an existing --output file')
    .action(
      withRuntime(loadFeedbackRuntime, async (runtime, options: WindowOptions & { output: string; force?: boolean }, command: Command) => {
        const target = outputTarget(options.output, options.force === true);
        await withOx(command, async ({ config, ox, signal }) => {
          const query = { ...windowQuery(runtime, options, config), signal };
          let rows = 0;
          const counted = (async function* (): AsyncGenerator<RawFeedbackRecord> {
            for await (const record of ox.exportRaw(query)) {
              rows++;
              yield record;
            }
          })();
          await target.write(jsonArrayLines(counted));
          say(`exported ${describeQuery(runtime, query)}: ${rows} records to ${target.description}`);
        });
      }),
    );

  withWindow(feedback.command('send'))
    .description('let OX mail the CSV export to recipients (OX reports per recipient what it did)')
    .requiredOption('-r, --recipient <recipient>', '"Name <a@example.com>" or a@example.com; repeatable', collect, [])
    .option('--pgp-key <address=file>', 'encrypt for this recipient with the ASCII-armoured key in FILE; repeatable', collect, [])
    .option('-S, --subject <text>', 'mail subject (OX default: User Feedback Report from/to <date>)')
    .option('-b, --body <text>', 'mail text')
    .option('--compress', 'attach the CSV gzip-compressed')
    .action(
      withRuntime(
        loadFeedbackRuntime,
        async (
          runtime,
          options: WindowOptions & { recipient: string[]; pgpKey: string[]; subject?: string; body?: string; compress?: boolean },
          command: Command,
        ) => {
          // requiredOption is satisfied by the [] default, so an absent --recipient is caught here.
          if (options.recipient.length === 0)
            throw new InputError('--recipient is required: "Name <a@example.com>" or a@example.com, repeatable');
          const recipients = withPgpKeys(options.recipient.map(parseRecipient), options.pgpKey);
          return withOx(command, async ({ config, ox, signal }) => {
            const query = { ...windowQuery(runtime, options, config), signal };
            const result = await ox.sendFeedback({
              ...query,
              recipients,
              subject: options.subject,
              body: options.body,
              compress: options.compress === true,
            });
            process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
            if (result.message) say(`OX: ${result.message}`);
            const sent = sentRecipients(result);
            if (sent.length > 0) say(`OX mailed ${describeQuery(runtime, query)} to ${sent.join(', ')}`);
            const failures = sendFailures(result);
            for (const failure of failures) say(`NOT mailed to ${failure.address}: ${failure.reason}`);
            if (failures.length > 0) return EXIT_FAILURE;
            if (!result.message && sent.length === 0) {
              say('OX mailed nobody (empty answer)');
              return EXIT_FAILURE;
            }
            return undefined;
          });
        },
      ),
    );

  withWindow(feedback.command('digest'))
    .description("the feedback digest of any range, straight from OX's raw export: scores, NPS, apps, clients, comments")
    .option('--json', 'print the digest as JSON (the `digest` of a job result, without the comparison)')
    .option('--comments <n>', 'comments worth reading to show (0-50)', '5')
    .action(
      withRuntime(loadDigestRuntime, async (runtime, options: WindowOptions & { json?: boolean; comments: string }, command: Command) => {
        const comments = Number(options.comments);
        if (!/^\d+$/.test(options.comments) || comments > MAX_DIGEST_COMMENTS) {
          throw new InputError(`--comments ${JSON.stringify(options.comments)}: expected a whole number from 0 to ${MAX_DIGEST_COMMENTS}`);
        }
        await withOx(command, async ({ config, ox, signal }) => {
          const query = { ...windowQuery(runtime, options, config), signal };
          const { digest, digestTable } = runtime;
          const accumulator = new digest.DigestAccumulator(options.type, { comments });
          for await (const record of ox.exportRaw(query)) accumulator.addRecord(record);
          const figures = accumulator.figures();
          const window =
            query.start !== undefined && query.end !== undefined
              ? { window: { start: runtime.isoUtc(Number(query.start)), end: runtime.isoUtc(Number(query.end)) } }
              : {};
          const result = { ...window, contextGroup: options.contextGroup, ...figures };
          process.stdout.write(
            options.json ? `${JSON.stringify(result, null, 2)}\n` : digestTable.digestTable(result, describeQuery(runtime, query)),
          );
        });
      }),
    );

  withWindow(feedback.command('delete'))
    .description('delete feedback in [start, end) on the OX server; asks first on a terminal')
    .option('-y, --yes', 'do not ask (required when not on a terminal)')
    .option('--dry-run', 'count the rows the window holds (streams the raw export) and delete nothing')
    .action(
      withRuntime(loadFeedbackRuntime, async (runtime, options: WindowOptions & { yes?: boolean; dryRun?: boolean }, command: Command) => {
        if (options.end === undefined)
          throw new InputError('feedback delete: --end is required (deleting everything up to now by accident is not an option)');
        await withOx(command, async ({ config, ox, signal }) => {
          const query = { ...windowQuery(runtime, options, config), signal };
          if (options.dryRun) {
            let rows = 0;
            for await (const _record of ox.exportRaw(query)) rows++;
            process.stdout.write(
              `${JSON.stringify({ dryRun: true, rows, contextGroup: query.contextGroup, type: query.type, start: query.start ?? null, end: query.end })}\n`,
            );
            say(`dry run: ${rows} rows of ${describeQuery(runtime, query)} would be deleted; nothing deleted`);
            return;
          }
          const what = `delete ${describeQuery(runtime, query)} on ${ox.baseUrl}`;
          if (!options.yes) {
            if (!process.stdin.isTTY) throw new RefusedError(`refusing to ${what} without --yes (not a terminal)`);
            if (!(await confirm(`${what}? This cannot be undone. Type "yes": `, signal)))
              throw new RefusedError('not confirmed; nothing deleted');
          }
          const result = await ox.deleteFeedback(query);
          process.stdout.write(`${JSON.stringify(result)}\n`);
          say(`deleted ${describeQuery(runtime, query)}${result.message ? ` (OX: ${result.message})` : ''}`);
        });
      }),
    );
}

function withWindow(command: Command): Command {
  return command
    .option('-g, --context-group <group>', 'context group (the global DB the feedback is in)', 'default')
    .option('-t, --type <type>', 'feedback type: star-rating-v1, nps-v1', 'star-rating-v1')
    .option('-s, --start <time>', 'from this instant, inclusive: ISO date (midnight in the configured zone), ISO date-time, or epoch ms')
    .option('-e, --end <time>', 'until this instant, exclusive (same formats)');
}

function windowQuery(runtime: FeedbackRuntime, options: WindowOptions, config: Config): FeedbackQuery {
  const start = options.start === undefined ? undefined : instant(runtime, options.start, '--start', config.timezone);
  const end = options.end === undefined ? undefined : instant(runtime, options.end, '--end', config.timezone);
  if (start !== undefined && end !== undefined && end < start) {
    throw new InputError(`--end ${options.end} is before --start ${options.start}`);
  }
  return { contextGroup: options.contextGroup, type: options.type, start, end };
}

/** 10-11 digits: epoch SECONDS (2001..5138), as OX's own tools take them; we take milliseconds. */
const LOOKS_LIKE_SECONDS = /^\s*\d{10,11}\s*$/;

function instant(runtime: FeedbackRuntime, value: string, flag: string, zone: string): number {
  if (LOOKS_LIKE_SECONDS.test(value)) {
    throw new InputError(
      `${flag} ${value.trim()}: looks like seconds since the epoch (OX's own tools take seconds); ox-batch takes milliseconds (${value.trim()}000) or an ISO date`,
    );
  }
  return runtime.parseInstant(value, zone, flag);
}

function describeQuery(runtime: FeedbackRuntime, query: FeedbackQuery): string {
  const from = query.start === undefined || query.start === 0 ? 'the beginning' : runtime.isoUtc(Number(query.start));
  const to = query.end === undefined ? 'now' : runtime.isoUtc(Number(query.end));
  return `${query.type} feedback of context group ${query.contextGroup} from ${from} to ${to} (exclusive)`;
}

const NAMED_ADDRESS = /^\s*"?([^"<>]*?)"?\s*<([^<>\s]+@[^<>\s]+)>\s*$/;
const BARE_ADDRESS = /^\s*([^\s<>@]+@[^\s<>@]+)\s*$/;

export function parseRecipient(text: string): SendRecipient {
  const named = NAMED_ADDRESS.exec(text);
  if (named) return named[1] ? { address: named[2]!, displayName: named[1] } : { address: named[2]! };
  const bare = BARE_ADDRESS.exec(text);
  if (bare) return { address: bare[1]! };
  throw new InputError(`--recipient ${JSON.stringify(text)}: expected "Name <a@example.com>" or a@example.com`);
}

function withPgpKeys(recipients: SendRecipient[], pairs: string[]): SendRecipient[] {
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InputError(`--pgp-key ${JSON.stringify(pair)}: expected address=FILE`);
    const address = pair.slice(0, eq);
    const file = pair.slice(eq + 1);
    const recipient = recipients.find((r) => r.address.toLowerCase() === address.toLowerCase());
    if (!recipient) throw new InputError(`--pgp-key ${address}: not one of the --recipient addresses`);
    let key: string;
    try {
      key = readFileSync(file, 'utf8');
    } catch (err) {
      throw new InputError(`--pgp-key ${address}=${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    }
    if (!key.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----'))
      throw new InputError(`--pgp-key ${address}=${file}: not an ASCII-armoured PGP public key`);
    recipient.pgp_key = key;
  }
  return recipients;
}

async function* jsonArrayLines(records: AsyncIterable<unknown>): AsyncGenerator<string> {
  let first = true;
  yield '[';
  for await (const record of records) {
    yield `${first ? '\n' : ',\n'}${JSON.stringify(record)}`;
    first = false;
  }
  yield first ? ']\n' : '\n]\n';
}

function confirm(question: string, signal: AbortSignal): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => rl.close(), { once: true });
    // Ctrl-C and Ctrl-D at the prompt mean no; the first answer wins.
    rl.on('SIGINT', () => {
      process.stderr.write('\n');
      rl.close();
    });
    rl.on('close', () => resolve(false));
    rl.question(question, (answer) => {
      resolve(answer.trim().toLowerCase() === 'yes');
      rl.close();
    });
  });
}
