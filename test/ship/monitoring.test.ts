/**
 * Monitoring as shipped: the alert rules pass `promtool check rules` and their unit tests
 * (`promtool test rules`), the PrometheusRule carries the same rules, the ServiceMonitor scrapes
 * the Service, and what Grafana and the rules query exists — names and labels — in the /metrics
 * output of a real `ox-batch start` process exporting from the simulator.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { runChild } from '../helpers/child.js';
import { listeningUrl } from '../cli/cli-kit.js';
import { processWorld } from './process-world.js';
import { REDIS_URL, ROOT, waitFor } from '../daemon/helpers.js';

const PROMTOOL = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
const RULES = join(ROOT, 'deploy', 'prometheus', 'ox-batch.rules.yaml');
const COMPONENT = join(ROOT, 'deploy', 'kubernetes', 'components', 'monitoring');
const DAY = 86_400_000;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- monitoring manifests parsed from YAML; the assertions check their shape
type Doc = Record<string, any>;
const yamlDoc = (file: string) => parseYaml(readFileSync(file, 'utf8')) as Doc;

function promtool(...args: string[]) {
  if (!existsSync(PROMTOOL)) throw new Error(`${PROMTOOL} missing: apt-get install -y prometheus (.ci/run does it in CI)`);
  return runChild(PROMTOOL, args, { cwd: join(ROOT, 'deploy', 'prometheus'), timeoutMs: 25_000 }).then((result) => {
    if (result.code !== 0)
      throw new Error(
        `promtool ${args.join(' ')} exited ${result.code}${result.timedOut ? ' (timed out)' : ''}:\n${result.stderr}${result.stdout}`,
      );
    return result;
  });
}

describe('alert rules', () => {
  it('pass promtool check rules', async () => {
    const { stdout } = await promtool('check', 'rules', 'ox-batch.rules.yaml');
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass their promtool unit tests (each alert fires when it should, and not before)', async () => {
    const { stdout, stderr } = await promtool('test', 'rules', 'ox-batch.rules.test.yaml');
    expect(`${stdout}${stderr}`).toMatch(/SUCCESS/);
    const tested = new Set(
      [...readFileSync(join(ROOT, 'deploy', 'prometheus', 'ox-batch.rules.test.yaml'), 'utf8').matchAll(/alertname: (\w+)/g)].map(
        (m) => m[1],
      ),
    );
    for (const rule of yamlDoc(RULES).groups.flatMap((g: Doc) => g.rules as Doc[]))
      expect(tested.has(rule.alert), `${rule.alert} has a unit test`).toBe(true);
  });

  it('a broken rule fails promtool (the check can fail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oxb-rules-'));
    try {
      writeFileSync(
        join(dir, 'bad.yaml'),
        'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: max by (schedule (oxb_schedule_overdue_windows)\n',
      );
      await expect(promtool('check', 'rules', join(dir, 'bad.yaml'))).rejects.toThrow(/parse error|unclosed/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kustomize component deploy/kubernetes/components/monitoring', () => {
  const kustomization = yamlDoc(join(COMPONENT, 'kustomization.yaml'));
  const rule = yamlDoc(join(COMPONENT, 'prometheusrule.yaml'));
  const monitor = yamlDoc(join(COMPONENT, 'servicemonitor.yaml'));
  const base = (name: string) =>
    parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'kubernetes', name), 'utf8')).map((d) => d.toJS() as Doc);

  it('is a Component whose resources exist', () => {
    expect(kustomization.kind).toBe('Component');
    for (const file of kustomization.resources as string[]) expect(existsSync(join(COMPONENT, file)), file).toBe(true);
  });

  it('ships the rules file as a PrometheusRule, unchanged (npm run generate)', () => {
    expect(rule.kind).toBe('PrometheusRule');
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.spec.groups).toEqual(yamlDoc(RULES).groups);
  });

  it('has a ServiceMonitor that selects the Service and scrapes its http port at /metrics', () => {
    const service = base('service.yaml')[0]!;
    expect(monitor.kind).toBe('ServiceMonitor');
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels as Record<string, string>))
      expect(service.metadata.labels[k], k).toBe(v);
    expect(service.spec.ports.map((p: Doc) => p.name)).toContain(monitor.spec.endpoints[0].port);
    expect(monitor.spec.endpoints[0].path).toBe('/metrics');
  });

  it('removes the pod scrape annotations it replaces, from the Deployment that has them', () => {
    const deployment = base('deployment.yaml')[0]!;
    const patch = (kustomization.patches as Doc[])[0]!;
    expect(patch.target).toEqual({ kind: 'Deployment', name: deployment.metadata.name });
    const ops = parseYaml(patch.patch) as Doc[];
    expect(ops).toEqual([{ op: 'remove', path: '/spec/template/metadata/annotations' }]);
    expect(Object.keys(deployment.spec.template.metadata.annotations)).toEqual([
      'prometheus.io/scrape',
      'prometheus.io/port',
      'prometheus.io/path',
    ]);
  });
});

/** `name{a="1",b="2"} 3` lines of a Prometheus text exposition. */
function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Metric names and the labels a PromQL expression uses on them (selectors and by/without). */
function usedIn(expr: string): Array<{ name: string; labels: string[] }> {
  const grouping = [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) =>
    m[1]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  return [...expr.matchAll(/\b(oxb_\w+)(?:\{([^}]*)\})?/g)].map((m) => ({
    name: m[1]!,
    labels: [...grouping.filter((l) => l !== 'le'), ...[...(m[2] ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!)],
  }));
}

describe('/metrics of a real daemon process, exporting from the simulator', () => {
  const world = processWorld('monitoring');
  const { prefix, dir } = world;
  const start = (args: string[], env: Record<string, string>) => world.start(args, env);
  let metricsUrl = '';
  let text = '';
  const today = Math.floor(Date.now() / DAY) * DAY;

  beforeAll(async () => {
    await world.ready();
    const sim = start(
      [
        'sim',
        '--port',
        '0',
        '--feedback-rows',
        '400',
        '--from',
        new Date(today - 6 * DAY).toISOString(),
        '--to',
        new Date(today).toISOString(),
      ],
      {},
    );
    const simUrl = await waitFor(() => /^(http:\/\/\S+)$/m.exec(sim.output())?.[1], 'simulator URL', 20_000);
    const iso = (t: number) => new Date(t).toISOString();
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        `ox: { url: "${simUrl}", user: oxadmin, password: secret }`,
        `redis: { url: "${REDIS_URL}", prefix: "${prefix}" }`,
        'http: { host: 127.0.0.1, port: 0 }',
        `archive: { kind: fs, dir: "${join(dir, 'archive')}" }`,
        'schedules:',
        `  export-daily: { job: feedback.export, every: 2s, tz: UTC, window: 1d, lag: 0, startAt: "${iso(today - 3 * DAY)}", params: { deliver: [archive] } }`,
        // Paused since five days: its closed windows are owed, and those older than a day overdue.
        `  stuck-daily: { job: feedback.export, every: 60s, tz: UTC, window: 1d, lag: 0, paused: true, startAt: "${iso(today - 5 * DAY)}", params: { contextGroup: other, deliver: [archive] } }`,
        // No export archives this feed: every run is refused.
        '  purge-nowhere: { job: feedback.purge, every: 2s, params: { contextGroup: nowhere, retention: 1d } }',
        '',
      ].join('\n'),
    );
    const daemon = start(['--config', join(dir, 'config.yaml'), 'start'], { LOG_LEVEL: 'info' });
    metricsUrl = `${await waitFor(() => listeningUrl(daemon.output()), 'daemon HTTP server', 30_000)}/metrics`;
    text = await waitFor(
      async () => {
        const body = await (await fetch(metricsUrl)).text();
        const all = samples(body);
        const done = all.find((s) => s.name === 'oxb_job_runs_total' && s.labels.schedule === 'export-daily' && s.labels.result === 'done');
        const refused = all.find((s) => s.name === 'oxb_schedule_last_run_failed' && s.labels.schedule === 'purge-nowhere');
        return done?.value === 3 && refused ? body : undefined;
      },
      'three exported windows and a refused purge in /metrics',
      60_000,
      500,
    );
  }, 120_000);

  afterAll(() => world.close());

  it('has every metric and label that the Grafana dashboard and the alert rules query', () => {
    const all = samples(text);
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'ox-batch.json'), 'utf8')) as Doc;
    const exprs = [
      ...(dashboard.panels as Doc[]).flatMap((p) => ((p.targets ?? []) as Doc[]).map((t) => t.expr as string)),
      ...(dashboard.templating.list as Doc[]).filter((v) => v.definition).map((v) => v.definition as string),
      ...yamlDoc(RULES).groups.flatMap((g: Doc) => (g.rules as Doc[]).map((r) => r.expr as string)),
    ];
    const label = /label_values\((\w+),\s*(\w+)\)/;
    let checked = 0;
    for (const expr of exprs) {
      const uses = label.test(expr) ? [{ name: label.exec(expr)![1]!, labels: [label.exec(expr)![2]!] }] : usedIn(expr);
      for (const use of uses) {
        const series = all.filter((s) => s.name === use.name || s.name === `${use.name}_bucket`);
        expect(series.length, `${use.name} (from ${expr}) is in /metrics`).toBeGreaterThan(0);
        for (const l of use.labels)
          expect(
            series.some((s) => l in s.labels),
            `${use.name} has label ${l} (from ${expr})`,
          ).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('names the job kind `kind`, never `job`, and has no doubled process_ names', () => {
    const all = samples(text);
    expect(all.filter((s) => 'job' in s.labels)).toEqual([]);
    expect(text).not.toMatch(/oxb_process_process_|oxb_process_nodejs_/);
    expect(text).toMatch(/^oxb_process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^oxb_nodejs_eventloop_lag_seconds /m);
    expect(all.find((s) => s.name === 'oxb_job_rows_total' && s.labels.schedule === 'export-daily')?.labels.kind).toBe('feedback.export');
  });

  it('says which version runs', () => {
    const info = samples(text).filter((s) => s.name === 'oxb_build_info');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(info).toEqual([{ name: 'oxb_build_info', labels: { version: pkg.version, node: process.versions.node }, value: 1 }]);
  });

  it('counts overdue windows: closed, not done, and older than end + lag + alertAfter', () => {
    const gauge = (schedule: string) =>
      samples(text).find((s) => s.name === 'oxb_schedule_overdue_windows' && s.labels.schedule === schedule)?.value;
    // stuck-daily: five closed days since startAt, none done; the newest closed one is within its
    // alertAfter (one day), the four before it are overdue.
    expect(gauge('stuck-daily')).toBe(4);
    expect(gauge('export-daily')).toBe(0);
    expect(gauge('purge-nowhere')).toBe(0);
  });

  it('reports the refused purge', () => {
    const failed = samples(text).filter((s) => s.name === 'oxb_schedule_last_run_failed');
    expect(failed).toEqual([
      { name: 'oxb_schedule_last_run_failed', labels: { schedule: 'purge-nowhere', kind: 'feedback.purge', reason: 'refused' }, value: 1 },
    ]);
  });
});
