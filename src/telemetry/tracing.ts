/**
 * OpenTelemetry traces along the path of a window: the tick that queues it, the enqueue (a root
 * span per window, linked to the tick, so every window is one trace of its own), BullMQ's
 * producer and worker spans (its `telemetry` option, `bullmq-otel`), the job with the schedule
 * and window as attributes, every OX request (undici instrumentation), every Redis command
 * (ioredis instrumentation), and the archive writes and mails (spans here, around the store and
 * the mailer: the AWS SDK and nodemailer have no undici requests to instrument).
 *
 * Off unless the standard OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set; then the
 * SDK's own variables apply (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_*,
 * OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf by default, or http/json). Without it nothing of
 * the SDK is loaded, and the helpers below cost one property read.
 */
import { createRequire } from 'node:module';
import { context, trace, SpanKind, SpanStatusCode, ROOT_CONTEXT, type Attributes, type Span } from '@opentelemetry/api';
import type { Telemetry } from 'bullmq';
import type { Logger } from '../log/logger.js';
import { toolVersion } from '../version.js';

export const TRACER_NAME = 'ox-batch';

let telemetry: Telemetry | undefined;
let shutdownHook: (() => Promise<void>) | undefined;

export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export function tracingOn(): boolean {
  return telemetry !== undefined;
}

/** BullMQ's `telemetry` option for Queues and Workers: present only while tracing is on. */
export function bullmqTelemetry(): { telemetry?: Telemetry } {
  return telemetry ? { telemetry } : {};
}

/**
 * Starts the SDK when the environment asks for it (idempotent). Returns whether tracing is on.
 * Call it before the first Redis connection is made: ioredis is patched when it is loaded here.
 */
export async function startTracing(options: { env?: NodeJS.ProcessEnv; log?: Logger } = {}): Promise<boolean> {
  const env = options.env ?? process.env;
  if (telemetry) return true;
  if (!tracingWanted(env)) return false;
  const [
    { NodeTracerProvider },
    { BatchSpanProcessor },
    { resourceFromAttributes },
    { registerInstrumentations },
    { UndiciInstrumentation },
    { IORedisInstrumentation },
    { BullMQOtel },
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-undici'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('bullmq-otel'),
  ]);
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  const exporter =
    protocol === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'ox-batch', 'service.version': toolVersion() }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new UndiciInstrumentation(),
      // Commands outside a traced operation (BullMQ's polling, the lock renewals) would be
      // thousands of root spans a minute: only commands inside a window's trace are kept.
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  // ESM imports of a CommonJS package do not pass through require hooks: load ioredis once
  // through require, so the instrumentation patches the (shared) module before any client is made.
  createRequire(import.meta.url)('ioredis');
  telemetry = new BullMQOtel({ tracerName: TRACER_NAME, version: toolVersion() });
  shutdownHook = () => provider.shutdown();
  options.log?.info(
    { protocol, endpoint: redactEndpoint(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || '') },
    'OpenTelemetry tracing on',
  );
  return true;
}

/** Flushes and stops the exporter (a daemon's or CLI command's last step). */
export async function stopTracing(): Promise<void> {
  const hook = shutdownHook;
  shutdownHook = undefined;
  telemetry = undefined;
  await hook?.().catch(() => undefined);
}

function redactEndpoint(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

const tracer = () => trace.getTracer(TRACER_NAME, toolVersion());

/** The attributes every span of a window carries. */
export function windowAttributes(scheduleId: string, job: string, window?: { start: number; end: number }): Attributes {
  return {
    'oxb.schedule': scheduleId,
    'oxb.job': job,
    ...(window ? { 'oxb.window.start': new Date(window.start).toISOString(), 'oxb.window.end': new Date(window.end).toISOString() } : {}),
  };
}

/**
 * Runs `fn` (putting a window on the queue) inside a new root span: the window's own trace, which
 * BullMQ carries on to the worker. The span that was active (the tick's) is linked, not the parent.
 */
export function inWindowTrace<T>(
  scheduleId: string,
  job: string,
  window: { start: number; end: number },
  fn: () => Promise<T>,
): Promise<T> {
  if (!telemetry) return fn();
  const parent = trace.getActiveSpan()?.spanContext();
  const span = tracer().startSpan(
    `window ${scheduleId}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: windowAttributes(scheduleId, job, window),
      ...(parent ? { links: [{ context: parent }] } : {}),
    },
    ROOT_CONTEXT,
  );
  return finish(span, () => context.with(trace.setSpan(ROOT_CONTEXT, span), fn));
}

/** Adds the schedule and window to the span BullMQ's worker runs the job in. */
export function annotateActiveSpan(attributes: Attributes): void {
  if (telemetry) trace.getActiveSpan()?.setAttributes(attributes);
}

/** A child span around `fn` (archive writes, SMTP), when tracing is on. */
export function inSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!telemetry) return fn();
  const span = tracer().startSpan(name, { kind: SpanKind.CLIENT, attributes });
  return finish(span, () => context.with(trace.setSpan(context.active(), span), fn));
}

async function finish<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message?.split('\n')[0] });
    throw err;
  } finally {
    span.end();
  }
}
