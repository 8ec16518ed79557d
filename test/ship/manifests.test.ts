/**
 * The deployment files are only worth something if they agree with the program: every manifest
 * parses, kustomize's references resolve, probes and ports exist in the daemon, every secret maps
 * to a config variable, the ConfigMap's config passes the real loader, and Grafana queries only
 * metrics that /metrics registers.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ENV_KEYS, loadConfig, packageRoot } from '../../src/config/load-config.js';
import { findJobKind, jobKinds } from '../../jobs/index.js';
import { resolveSchedules } from '../../src/queue/schedules.js';
import { RUNTIME_NODE_FLAGS } from '../../bench/export.js';

const root = packageRoot();
const k8sDir = join(root, 'deploy', 'kubernetes');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes manifests parsed from YAML; the assertions check their shape
type Doc = Record<string, any>;

function readDocs(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { uniqueKeys: true });
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
  }
  return docs.map((d) => d.toJS() as Doc).filter((d) => d !== null);
}

const manifestFiles = readdirSync(k8sDir).filter((f) => f.endsWith('.yaml'));
const docsByFile = new Map(manifestFiles.map((f) => [f, readDocs(join(k8sDir, f))]));
const all = [...docsByFile.entries()].flatMap(([file, docs]) => docs.map((doc) => ({ file, doc })));
const kustomization = docsByFile.get('kustomization.yaml')![0]!;
const byKind = (kind: string) => all.filter((e) => e.doc.kind === kind).map((e) => e.doc);
const deployment = byKind('Deployment')[0]!;
const cronJob = byKind('CronJob')[0]!;
const secret = byKind('Secret')[0]!;
const service = byKind('Service')[0]!;
const pdb = byKind('PodDisruptionBudget')[0]!;
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers[0];
const configFile = join(k8sDir, 'config.yaml');
const clusterConfig = loadConfig({ file: configFile, env: { REDIS_URL: 'redis://redis.example:6379' } });
const defaults = loadConfig({ env: {} });
const envNames = new Set(ENV_KEYS.map((k) => k.env));

function quantityBytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`unexpected quantity ${q}`);
  return Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] as 'Ki' | 'Mi' | 'Gi'] ?? 1);
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Checks one pod spec's credentials: NAME_FILE → a mounted Secret key → a config variable. */
function checkSecretWiring(spec: Doc, where: string): void {
  const c = spec.containers[0];
  const volumes = new Map<string, Doc>(spec.volumes.map((v: Doc) => [v.name, v]));
  const secretMounts = c.volumeMounts.filter((m: Doc) => volumes.get(m.name)?.secret);
  expect(secretMounts.length, `${where}: a Secret volume is mounted`).toBeGreaterThan(0);
  const secretKeys = new Set(Object.keys(secret.stringData));
  for (const env of c.env as Doc[]) {
    if (!env.name.endsWith('_FILE')) continue;
    const name = env.name.slice(0, -'_FILE'.length);
    expect(envNames.has(name), `${where}: ${env.name} is not a config variable (ENV_KEYS)`).toBe(true);
    const mount = secretMounts.find((m: Doc) => dirname(env.value) === m.mountPath);
    expect(mount, `${where}: ${env.name}=${env.value} is not inside a mounted Secret`).toBeTruthy();
    expect(volumes.get(mount.name)!.secret.secretName).toBe(secret.metadata.name);
    expect(secretKeys.has(basename(env.value)), `${where}: Secret key ${basename(env.value)} missing`).toBe(true);
  }
  for (const v of volumes.values()) {
    if (v.configMap) {
      expect(kustomization.configMapGenerator.map((g: Doc) => g.name)).toContain(v.configMap.name);
    }
  }
  for (const m of c.volumeMounts as Doc[]) expect(volumes.has(m.name), `${where}: volume ${m.name}`).toBe(true);
  const configEnv = (c.env as Doc[]).find((e) => e.name === 'OXB_CONFIG');
  const configMount = c.volumeMounts.find((m: Doc) => volumes.get(m.name)?.configMap);
  expect(configEnv?.value).toBe(`${configMount.mountPath}/config.yaml`);
  expect(spec.securityContext.runAsNonRoot).toBe(true);
  expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
  // The spool must be writable with a read-only root filesystem.
  expect(c.volumeMounts.some((m: Doc) => m.mountPath === clusterConfig.spool.dir && volumes.get(m.name)?.emptyDir)).toBe(true);
}

describe('Kubernetes manifests', () => {
  it('parse, and every kustomization reference exists', () => {
    expect(manifestFiles.length).toBeGreaterThanOrEqual(7);
    for (const resource of kustomization.resources as string[]) {
      expect(existsSync(join(k8sDir, resource)), resource).toBe(true);
    }
    for (const generator of kustomization.configMapGenerator as Doc[]) {
      for (const file of generator.files as string[]) expect(existsSync(join(k8sDir, file)), file).toBe(true);
    }
    for (const { file, doc } of all) {
      if (file === 'kustomization.yaml' || file === 'config.yaml') continue;
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.metadata?.name, file).toBeTruthy();
    }
    // The example Secret must never be applied by the base: it would overwrite real credentials.
    expect(kustomization.resources).not.toContain('secret.example.yaml');
    const kinds = all.map((e) => e.doc.kind);
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'CronJob', 'Secret', 'ServiceAccount'])
      expect(kinds).toContain(kind);
  });

  it('probe paths, ports and scrape annotations match the daemon', () => {
    const server = readFileSync(join(root, 'src', 'http', 'http-server.ts'), 'utf8');
    for (const path of ['/healthz', '/readyz', '/metrics']) expect(server, `http-server.ts serves ${path}`).toContain(`'${path}'`);

    const ports = container.ports as Doc[];
    const http = ports.find((p) => p.name === 'http')!;
    expect(http.containerPort).toBe(defaults.http.port);
    expect(http.containerPort).toBe(clusterConfig.http.port);
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      expect(ports.map((p) => p.name)).toContain(probe.httpGet.port);
    }
    // Scrape annotations on the pods only: on the Service too, annotation discovery scrapes each pod twice.
    const annotations = deployment.spec.template.metadata.annotations;
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(Number(annotations['prometheus.io/port'])).toBe(http.containerPort);
    expect(annotations['prometheus.io/path']).toBe('/metrics');
    expect(Object.keys(service.metadata.annotations ?? {}).filter((k) => k.startsWith('prometheus.io/'))).toEqual([]);
    expect(service.spec.ports[0].targetPort).toBe('http');
    expect(service.spec.ports[0].port).toBe(http.containerPort);

    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${http.containerPort}$`, 'm'));
    expect(dockerfile).toMatch(/^ENTRYPOINT \["ox-batch"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["start"\]$/m);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(podSpec.securityContext.runAsUser).toBe(1000);
  });

  it('selectors of the Service and the PodDisruptionBudget select the daemon pods', () => {
    const labels = deployment.spec.template.metadata.labels;
    expect(matches(deployment.spec.selector.matchLabels, labels)).toBe(true);
    expect(matches(service.spec.selector, labels)).toBe(true);
    expect(matches(pdb.spec.selector.matchLabels, labels)).toBe(true);
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
  });

  it('every credential comes from the Secret through NAME_FILE and names a config variable', () => {
    for (const key of Object.keys(secret.stringData)) {
      expect(envNames.has(key), `Secret key ${key} is not in ENV_KEYS`).toBe(true);
      expect(
        (container.env as Doc[]).some((e) => e.name === `${key}_FILE`),
        `Deployment reads ${key}_FILE`,
      ).toBe(true);
    }
    // No credential as a plain value in the pod spec.
    for (const env of container.env as Doc[]) {
      expect(['OX_PASSWORD', 'OX_ADMIN_PASSWORD', 'REDIS_URL', 'SMTP_URL', 'UI_PASSWORD', 'S3_SECRET_ACCESS_KEY']).not.toContain(env.name);
    }
    checkSecretWiring(podSpec, 'Deployment');
    checkSecretWiring(cronJob.spec.jobTemplate.spec.template.spec, 'CronJob');
  });

  it('the ConfigMap config passes the real loader and its schedules name registered jobs', () => {
    expect(clusterConfig.redis.prefix).toMatch(/^\{.+\}$/);
    expect(clusterConfig.archive.kind).toBe('s3');
    expect(Object.keys(clusterConfig.schedules).length).toBeGreaterThan(0);
    for (const [id, schedule] of Object.entries(clusterConfig.schedules)) {
      expect(findJobKind(schedule.job), `schedule ${id}: job ${schedule.job} is registered in jobs/index.ts`).toBeTruthy();
    }
    // The daemon's own validation: cron, zone, window, and every schedule's params by its job's schema.
    expect(resolveSchedules(clusterConfig, jobKinds).map((s) => s.id)).toEqual(Object.keys(clusterConfig.schedules));
    const cronArgs = cronJob.spec.jobTemplate.spec.template.spec.containers[0].args as string[];
    expect(cronArgs[0]).toBe('run');
    expect(Object.keys(clusterConfig.schedules)).toContain(cronArgs[1]);
  });

  it('drain grace and resources fit the daemon', () => {
    const graceMs = podSpec.terminationGracePeriodSeconds * 1000;
    expect(graceMs).toBeGreaterThan(clusterConfig.worker.shutdownGraceMs + clusterConfig.worker.closeTimeoutMs);
    expect(graceMs).toBeGreaterThan(defaults.worker.shutdownGraceMs + defaults.worker.closeTimeoutMs);
    const { requests, limits } = container.resources;
    expect(quantityBytes(requests.memory)).toBeLessThanOrEqual(quantityBytes(limits.memory));
    // `npm run bench` (bench/results.json): the request covers the highest peak RSS of one export
    // process, the limit the configured concurrency of them on the shared ~130 MB process base.
    const exportBench = (
      JSON.parse(readFileSync(join(packageRoot(), 'bench', 'results.json'), 'utf8')) as { export: { scenarios: { maxRssBytes: number }[] } }
    ).export;
    const peak = Math.max(...exportBench.scenarios.map((scenario) => scenario.maxRssBytes));
    expect(peak).toBeGreaterThan(50 * 1024 ** 2);
    expect(quantityBytes(requests.memory)).toBeGreaterThanOrEqual(peak);
    expect(quantityBytes(limits.memory)).toBeGreaterThanOrEqual(130 * 1024 ** 2 + clusterConfig.worker.concurrency * 35 * 1024 ** 2);
    const heap = /--max-old-space-size=(\d+)/.exec((container.env as Doc[]).find((e) => e.name === 'NODE_OPTIONS')!.value)!;
    expect(Number(heap[1]) * 1024 ** 2).toBeLessThan(quantityBytes(limits.memory));
  });

  it('runs with the V8 flags the export benchmark measured its memory figures with', () => {
    const podOptions = (container.env as Doc[]).find((e) => e.name === 'NODE_OPTIONS')!.value as string;
    const imageOptions = /^ENV .*NODE_OPTIONS=(\S+)/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1] ?? '';
    expect(RUNTIME_NODE_FLAGS.length).toBeGreaterThan(0);
    for (const flag of RUNTIME_NODE_FLAGS) {
      expect(podOptions.split(/\s+/)).toContain(flag);
      expect(imageOptions.split(/\s+/)).toContain(flag);
    }
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(join(root, 'deploy', 'grafana', 'ox-batch.json'), 'utf8')) as Doc;
  const panels = (dashboard.panels as Doc[]).filter((p) => p.type !== 'row');
  const exprs = panels.flatMap((p) => (p.targets as Doc[]).map((t) => t.expr as string));
  const queried = new Set(exprs.flatMap((e) => e.match(/\boxb_[a-z_]+/g) ?? []).map((m) => m.replace(/_(bucket|sum|count)$/, '')));
  // The label `job` is Prometheus' own scrape label: ours is `kind`.
  it('filters on the job kind label, never on the scrape label job', () => {
    for (const expr of exprs) expect(expr, expr).not.toMatch(/\bjob\b/);
    const variables = (dashboard.templating.list as Doc[]).map((v) => v.name);
    expect(variables).toContain('kind');
    expect(variables).not.toContain('job');
  });

  it('parses, and every panel queries Prometheus', () => {
    expect(dashboard.uid).toBe('ox-batch');
    expect(panels.length).toBeGreaterThanOrEqual(10);
    for (const panel of panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      expect(panel.datasource.type).toBe('prometheus');
    }
    const ids = (dashboard.panels as Doc[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('queries only metrics registered in src/http/metrics.ts, and covers the contract', () => {
    const metricsSource = readFileSync(join(root, 'src', 'http', 'metrics.ts'), 'utf8');
    for (const name of queried) {
      expect(metricsSource, `${name} is registered in src/http/metrics.ts`).toMatch(new RegExp(`['"\`]${name}['"\`]`));
    }
    for (const name of [
      'oxb_job_runs_total',
      'oxb_job_duration_seconds',
      'oxb_ox_requests_total',
      'oxb_ox_request_duration_seconds',
      'oxb_schedule_watermark_lag_seconds',
      'oxb_schedule_failed_windows',
      'oxb_queue_jobs',
      'oxb_job_rows_total',
      'oxb_job_bytes_total',
    ]) {
      expect(queried.has(name), `dashboard shows ${name}`).toBe(true);
    }
  });
});

describe('config/schedules.example.yaml', () => {
  it('has an example schedule for every job kind, valid for the daemon (params included)', () => {
    const config = loadConfig({ file: join(root, 'config', 'schedules.example.yaml'), env: {} });
    const schedules = resolveSchedules(config, jobKinds);
    expect(new Set(schedules.map((s) => s.kind.name))).toEqual(new Set(jobKinds.map((k) => k.name)));
    const files = schedules
      .flatMap((s) => Object.values(s.params as Record<string, unknown>))
      .filter((v): v is string => typeof v === 'string' && v.startsWith('config/'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(existsSync(join(root, file)), file).toBe(true);
  });
});
