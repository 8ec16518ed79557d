import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { scrubFields, scrubText } from './secrets.js';

export type { Logger } from 'pino';

/** Paths pino censors in every log object, whatever the logging call site passes. */
const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'smtp',
  '*.smtp',
  'smtpUrl',
  '*.smtpUrl',
  'secretAccessKey',
  '*.secretAccessKey',
  'accessKeyId',
  '*.accessKeyId',
  'pgp_key',
  '*.pgp_key',
  '*.*.pgp_key',
  'pgpKey',
  '*.pgpKey',
];

export interface LoggerSettings {
  level?: string;
  /** Pretty output for people at a terminal; JSON everywhere else. */
  pretty?: boolean;
  /** Where lines go; default stdout. Commands whose stdout is data log to stderr (fd 2). */
  destination?: 1 | 2;
  /** Write here instead (tests capture lines this way). */
  stream?: DestinationStream;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const destination = settings.destination ?? 1;
  const pretty = settings.pretty ?? (destination === 1 ? process.stdout.isTTY : process.stderr.isTTY);
  const options: LoggerOptions = {
    level: settings.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '***' },
    serializers: {
      err: (err: unknown) => serializeError(err),
    },
    // Structured fields may carry a URL with a password ({ url }, a nested config object): every
    // string is scrubbed and secret-named keys are masked at any depth, in bindings too. The
    // redact paths above stay as the first line (exact keys, no copy).
    formatters: {
      log: (object) => scrubFields(object),
      bindings: (bindings) => scrubFields(bindings), // the root's; children: scrubChildBindings
    },
    hooks: {
      // Messages are free text and may quote a URL or header: scrub them too.
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? scrubText(a) : a));
        return method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  if (settings.stream) return scrubChildBindings(pino(options, settings.stream));
  if (pretty) {
    return scrubChildBindings(
      pino({
        ...options,
        transport: { target: 'pino-pretty', options: { destination, colorize: colorWanted(), translateTime: 'SYS:standard' } },
      }),
    );
  }
  return scrubChildBindings(pino(options, pino.destination({ fd: destination, sync: destination === 2 })));
}

/**
 * pino applies `formatters.bindings` to the root's bindings only; a child's (`log.child({ catalog
 * })`) are serialised as given. Children inherit from the root, so one override covers them all.
 */
function scrubChildBindings(root: Logger): Logger {
  const child = root.child;
  root.child = function scrubbedChild(this: Logger, bindings, options) {
    return child.call(this, scrubFields(bindings), options);
  } as Logger['child'];
  return root;
}

/** Colours at a terminal unless `NO_COLOR` is set to anything but the empty string (no-color.org). */
export function colorWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR === undefined || env.NO_COLOR === '';
}

/** A logger that writes nothing: tests and library callers that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) {
    // Call sites also log `err: { message }` objects; String() of those is "[object Object]".
    const message =
      err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string'
        ? (err as { message: string }).message
        : String(err);
    return { message: scrubText(message) };
  }
  const out: Record<string, unknown> = { type: err.name, message: scrubText(err.message) };
  for (const key of ['status', 'operation', 'code', 'oxCode', 'errorDesc', 'errorId', 'retryable'] as const) {
    const value = (err as unknown as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = value;
  }
  if (err.stack) out.stack = scrubText(err.stack);
  if (err.cause) out.cause = serializeError(err.cause);
  return out;
}
