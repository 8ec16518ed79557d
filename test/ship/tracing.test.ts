/**
 * Traces of a real `ox-batch start` process, received by a real OTLP/HTTP endpoint the test
 * starts: each window one trace (tick linked, enqueue, BullMQ worker, OX requests, Redis
 * commands, archive writes, SMTP) with the schedule and window as attributes; nothing sent
 * unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracingWanted } from '../../src/telemetry/tracing.js';
import { listeningUrl, stopCli } from '../cli/cli-kit.js';
import { REDIS_URL, deleteKeys, waitFor } from '../daemon/helpers.js';
import { startSmtpCapture, type SmtpCapture } from '../delivery/helpers/smtp-capture.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';
import { processWorld } from './process-world.js';

const DAY = 86_400_000;

describe('OpenTelemetry traces through a real daemon (OTLP/HTTP protobuf receiver)', () => {
  const world = processWorld('traces');
  const today = Math.floor(Date.now() / DAY) * DAY;
  let receiver: OtlpReceiver;
  let smtp: SmtpCapture;
  let config = '';

  beforeAll(async () => {
    await world.ready();
    receiver = await startOtlpReceiver();
    smtp = await startSmtpCapture();
    const sim = world.start([
      'sim',
      '--port',
      '0',
      '--feedback-rows',
      '300',
      '--from',
      new Date(today - 3 * DAY).toISOString(),
      '--to',
      new Date(today).toISOString(),
    ]);
    const simUrl = await waitFor(() => /^(http:\/\/\S+)$/m.exec(sim.output())?.[1], 'simulator URL', 20_000);
    config = join(world.dir, 'config.yaml');
    writeFileSync(
      config,
      [
        `ox: { url: "${simUrl}", user: oxadmin, password: secret }`,
        `redis: { url: "${REDIS_URL}", prefix: "${world.prefix}" }`,
        'http: { host: 127.0.0.1, port: 0 }',
        'logging: { level: info }',
        `archive: { kind: fs, dir: "${join(world.dir, 'archive')}" }`,
        `mail: { smtp: "${smtp.url}", from: "ox-batch@example.com" }`,
        'schedules:',
        `  export-daily: { job: feedback.export, every: 2s, tz: UTC, window: 1d, lag: 0, startAt: "${new Date(today - 2 * DAY).toISOString()}", params: { deliver: [archive, mail], mailTo: ["team@example.com"] } }`,
        '',
      ].join('\n'),
    );
  }, 60_000);

  afterAll(async () => {
    await world.close();
    await receiver?.close();
    await smtp?.close();
  });

  it('is off unless the OTLP endpoint is set', async () => {
    expect(tracingWanted({})).toBe(false);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint })).toBe(true);
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SDK_DISABLED: 'true' })).toBe(false);
    // A daemon told to trace, but with the SDK disabled, sends nothing while it exports.
    const quiet = world.start(['--config', config, 'start'], {
      REDIS_URL,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_SDK_DISABLED: 'true',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OXB_REDIS_PREFIX: `${world.prefix}-quiet`,
      OXB_ARCHIVE_DIR: join(world.dir, 'quiet-archive'),
    });
    await waitFor(() => listeningUrl(quiet.output()), 'quiet daemon', 30_000);
    await waitFor(() => smtp.messages.length >= 2, 'the quiet daemon exported and mailed both windows', 30_000);
    await stopCli([quiet]);
    await deleteKeys(world.redis, `${world.prefix}-quiet`);
    expect(receiver.requests).toEqual([]);
    smtp.messages.length = 0;
  }, 60_000);

  it('sends one trace per window: tick link, enqueue, worker, OX HTTP, Redis, archive and SMTP, with schedule and window', async () => {
    const daemon = world.start(['--config', config, 'start'], {
      REDIS_URL,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'ox-batch-test',
    });
    await waitFor(() => listeningUrl(daemon.output()), 'daemon HTTP server', 30_000);
    const roots = () => receiver.spans.filter((s) => s.name === 'window export-daily');
    const inTrace = (root: ReceivedSpan) => receiver.spans.filter((s) => s.traceId === root.traceId);
    const complete = (root: ReceivedSpan) => {
      const names = inTrace(root).map((s) => s.name);
      return names.some((n) => n.startsWith('smtp send')) && names.some((n) => n.startsWith('archive put fs'));
    };
    await waitFor(() => roots().length >= 2 && roots().every(complete), 'two complete window traces', 60_000, 200);
    await stopCli([daemon]);

    const windows = roots();
    expect(new Set(windows.map((r) => r.traceId)).size).toBe(windows.length);
    expect(windows.map((r) => r.attributes['oxb.window.start']).sort()).toEqual([
      new Date(today - 2 * DAY).toISOString(),
      new Date(today - DAY).toISOString(),
    ]);
    expect(receiver.requests.every((r) => r.contentType === 'application/x-protobuf')).toBe(true);
    for (const root of windows) {
      const spans = inTrace(root);
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      expect(root.parentSpanId, 'the window span is the root of its trace').toBe('');
      expect(root.service).toBe('ox-batch-test');
      expect(root.attributes).toMatchObject({ 'oxb.schedule': 'export-daily', 'oxb.job': 'feedback.export' });
      // Linked to the tick that queued it (the startup catch-up's or a trigger's), in another trace.
      const tick = receiver.spans.find((s) => s.spanId === root.links[0]?.spanId);
      expect(tick?.name).toBe('tick export-daily');
      expect(tick?.traceId).not.toBe(root.traceId);
      expect(tick?.attributes['oxb.schedule']).toBe('export-daily');
      // Every other span descends from the root.
      for (const span of spans) {
        let node: ReceivedSpan | undefined = span;
        for (let depth = 0; node && node !== root && depth < 20; depth++) node = byId.get(node.parentSpanId);
        expect(node, `${span.name} descends from the window span`).toBe(root);
      }
      const worker = spans.find((s) => s.scope === 'ox-batch' && s.name.startsWith('process'));
      expect(worker?.attributes).toMatchObject({
        'oxb.schedule': 'export-daily',
        'oxb.window.start': root.attributes['oxb.window.start'],
        'oxb.window.end': root.attributes['oxb.window.end'],
      });
      const ox = spans.filter((s) => s.scope.includes('undici'));
      expect(ox.length).toBeGreaterThan(0);
      expect(ox.some((s) => String(s.attributes['url.full']).includes('/userfeedback/v1/export/'))).toBe(true);
      expect(spans.some((s) => s.scope.includes('ioredis'))).toBe(true);
      expect(spans.find((s) => s.name === 'archive put fs')?.attributes['oxb.archive.key']).toMatch(/^export-daily\//);
      expect(spans.find((s) => s.name === 'smtp send')?.attributes['oxb.mail.recipients']).toBe(1);
      // No credential in any attribute.
      expect(JSON.stringify(spans)).not.toMatch(/secret|oxadmin:/);
    }
  }, 120_000);
});
