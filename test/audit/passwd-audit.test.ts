import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse/sync';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/connection.js';
import { loadConfig } from '../../src/config/load-config.js';
import type { ArchiveConfig, Config } from '../../src/config/schema.js';
import { createServices, type ClosableServices } from '../../src/services.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { executeManualAttempt } from '../../src/queue/attempt.js';
import { passwdAudit } from '../../jobs/passwd-audit.js';
import { loadWatchedUsers } from '../../src/audit/read-user-source.js';
import { InputError } from '../../src/errors.js';
import { deleteKeys, plainRedis, REDIS_URL, testPrefix } from '../daemon/helpers.js';
import { startS3, type TestS3 } from '../delivery/helpers/s3-server.js';
import { startSmtpCapture, type SmtpCapture } from '../delivery/helpers/smtp-capture.js';

const H = 3_600_000;
const S = Date.UTC(2026, 10, 1);
const E = S + 24 * H;
const WINDOW = { start: S, end: E };
const KEY = 'passwd-daily/audit/passwd-changes/2026/11/01/passwd-changes_20261101T000000Z_20261102T000000Z.csv';

/** 10/1 normal with boundary entries, 10/2 burst + unknown client, 20/1 full history, 40/1 via master, 30/1 wrong credentials, 10/999 unknown. */
const USERS = ['10/1', '10/2', '20/1', '30/1', '40/1', '10/999'];

function seed(sim: OxSimulator): void {
  const add = (contextId: number, userId: number, date: number, client_id = 'open-xchange-appsuite', client_address = '192.0.2.7') =>
    sim.addPasswordChange({ contextId, userId, date, client_id, client_address });
  add(10, 1, S - 1);
  add(10, 1, S);
  add(10, 1, S + 5 * H, 'provisioning-api', '198.51.100.1');
  add(10, 1, E);
  add(10, 2, S + 1 * H);
  add(10, 2, S + 2 * H, 'evil-script', '203.0.113.66');
  add(10, 2, S + 3 * H);
  add(10, 2, S + 4 * H);
  for (let i = 0; i < 10; i += 1) add(20, 1, S + 6 * H + i * 600_000, 'OpenXchange.HTTPClient.OXAddIn', '192.0.2.20');
  add(30, 1, S + 7 * H);
  add(40, 1, S + 12 * H);
}

let redis: RedisClient;
let s3: TestS3;
beforeAll(async () => {
  redis = plainRedis();
  s3 = await startS3('oxbt-audit');
});
afterAll(async () => {
  await s3.close();
  redis.disconnect();
});

interface World {
  sim: OxSimulator;
  smtp: SmtpCapture;
  services: ClosableServices;
  config: Config;
  dir: string;
  prefix: string;
}

async function startWorld(kind: 'fs' | 's3', extra: { oxRetry?: number } = {}): Promise<World> {
  const sim = await OxSimulator.start({
    credentials: {
      contextAdmins: {
        10: { user: 'admin10', password: 'p10' },
        20: { user: 'admin20', password: 'p20' },
        30: { user: 'admin30', password: 'right' },
      },
      master: { user: 'oxadminmaster', password: 'master' },
    },
  });
  seed(sim);
  const smtp = await startSmtpCapture();
  const prefix = testPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'oxbt-audit-'));
  const archive: Partial<ArchiveConfig> = kind === 's3' ? s3.archiveConfig({ prefix: '' }) : { kind: 'fs', dir };
  const config = loadConfig({
    env: {},
    overrides: {
      ox: {
        url: sim.url,
        admin: {
          user: 'oxadminmaster',
          password: 'master',
          contexts: {
            10: { user: 'admin10', password: 'p10' },
            20: { user: 'admin20', password: 'p20' },
            30: { user: 'admin30', password: 'wrong' },
          },
        },
        retry: { attempts: extra.oxRetry ?? 2, baseDelayMs: 10, maxDelayMs: 20 },
      },
      redis: { url: REDIS_URL, prefix },
      archive: kind === 's3' ? { ...archive, prefix } : archive,
      mail: { smtp: smtp.url, from: 'ox-batch@example.com' },
      passwd: { concurrency: 3, historySize: 10 },
    },
  });
  const services = createServices(config, { log: pino({ level: 'silent' }), redis });
  return { sim, smtp, services, config, dir, prefix };
}

async function stopWorld(world: World | undefined): Promise<void> {
  if (!world) return;
  await world.services.close();
  await deleteKeys(redis, world.prefix);
  await world.smtp.close();
  await world.sim.close();
  await rm(world.dir, { recursive: true, force: true });
}

describe.each(['fs', 's3'] as const)('passwd.audit with a %s archive', (kind) => {
  let world: World | undefined;
  afterEach(async () => {
    await stopWorld(world);
    world = undefined;
  });

  const audit = (params: Record<string, unknown> = {}, options: { force?: boolean } = {}) =>
    executeManualAttempt({
      kind: passwdAudit,
      services: world!.services,
      scheduleId: 'passwd-daily',
      window: WINDOW,
      params: { users: USERS, deliver: 'archive,mail', mailTo: 'security@example.com', maxChanges: 3, ...params },
      ...options,
    });

  it('reports the window per user with flags, failures and truncation, archived and mailed once', async () => {
    world = await startWorld(kind);
    const outcome = await audit();
    expect(outcome.status, outcome.reason).toBe('done');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the job result and manifest are JSON; the assertions check their shape
    const result = outcome.result as Record<string, any>;
    expect(result).toMatchObject({
      usersChecked: 4,
      usersFailed: 2,
      changes: 17,
      flaggedRows: 14,
      flaggedUsers: 2,
      mayBeMissing: ['20/1'],
      rows: 17,
    });
    expect(result.failures).toEqual([
      expect.objectContaining({ contextId: 30, userId: 1, status: 401 }),
      expect.objectContaining({ contextId: 10, userId: 999, status: 404 }),
    ]);
    expect(result.archive.key).toBe(`${kind === 's3' ? `${world.prefix}/` : ''}${KEY}`);

    // Per-context credentials went to OX: admin10 for context 10, the master for context 40.
    const passwdRequests = world.sim.requests.filter((r) => r.path.includes('passwd-changes'));
    expect(passwdRequests).toHaveLength(6);
    expect(passwdRequests.every((r) => r.query.sort === '-date')).toBe(true);
    expect(passwdRequests.find((r) => r.path.includes('/contexts/40/'))!.status).toBe(200);
    expect(passwdRequests.find((r) => r.path.includes('/contexts/30/'))!.status).toBe(401);

    // The archived report and its manifest.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the manifest is JSON; the assertions check its shape
    const manifest = await world.services.archive.readJson<Record<string, any>>(result.archive.manifestKey);
    expect(manifest).toMatchObject({
      schedule: 'passwd-daily',
      type: 'passwd-changes',
      job: 'passwd.audit',
      rows: 17,
      sha256: result.sha256,
      window: { start: '2026-11-01T00:00:00.000Z', end: '2026-11-02T00:00:00.000Z' },
    });
    expect(manifest!.summary).toMatchObject({ usersFailed: 2, flaggedRows: 14 });
    expect(await world.services.archive.verify(result.archive.key, { bytes: result.bytes, sha256: result.sha256 })).toMatchObject({
      ok: true,
    });

    // The mail: summary text and the same CSV attached.
    const [mail] = await world.smtp.parsed();
    expect(world.smtp.messages).toHaveLength(1);
    expect(mail!.subject).toBe('OX password changes 2026-11-01T00:00:00.000Z to 2026-11-02T00:00:00.000Z: 17 changes, 14 flagged');
    expect(mail!.text).toContain('Users checked: 4 of 6');
    expect(mail!.text).toContain('Changes found: 17');
    expect(mail!.text).toContain('Flagged rows:  14');
    expect(mail!.text).toMatch(/Changes may be missing .* for: 20\/1/);
    expect(mail!.text).toMatch(/30\/1: HTTP 401 /);
    expect(mail!.text).toMatch(/10\/999: HTTP 404 /);
    const attachment = mail!.attachments[0]!;
    expect(attachment.filename).toBe('passwd-changes_20261101T000000Z_20261102T000000Z.csv');
    const csv = attachment.content.toString('utf8');
    if (kind === 'fs') expect(await readFile(join(world.dir, KEY), 'utf8')).toBe(csv);
    expect(csv.startsWith('context_id,user_id,date,client_id,client_name,client_address,flag\r\n')).toBe(true);
    const rows = parse(csv, { columns: true }) as Array<Record<string, string>>;
    expect(rows).toHaveLength(17);
    const user101 = rows.filter((r) => r.context_id === '10' && r.user_id === '1');
    expect(user101.map((r) => [r.date, r.client_id, r.client_name, r.flag])).toEqual([
      ['2026-11-01T00:00:00.000Z', 'open-xchange-appsuite', 'App Suite UI', ''],
      ['2026-11-01T05:00:00.000Z', 'provisioning-api', 'Provisioning API', ''],
    ]);
    const user102 = rows.filter((r) => r.context_id === '10' && r.user_id === '2');
    expect(user102.map((r) => r.flag)).toEqual(['burst', 'unknown-client;burst', 'burst', 'burst']);
    expect(user102[1]).toMatchObject({ client_id: 'evil-script', client_name: '', client_address: '203.0.113.66' });
    expect(rows.filter((r) => r.context_id === '40')).toEqual([expect.objectContaining({ user_id: '1', flag: '' })]);

    // A forced re-run rewrites nothing new and mails nobody twice.
    const again = await audit({}, { force: true });
    expect(again.status, again.reason).toBe('done');
    expect(world.smtp.messages).toHaveLength(1);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the job result is JSON; the assertion checks its shape
    expect((again.result as Record<string, any>).mail[0]).toMatchObject({ accepted: [], alreadyMailed: ['security@example.com'] });
  });
});

describe('passwd.audit failure handling and user sources', () => {
  let world: World | undefined;
  afterEach(async () => {
    await stopWorld(world);
    world = undefined;
  });

  it('fails when every watched user failed, and when OX is down', async () => {
    world = await startWorld('fs', { oxRetry: 1 });
    let outcome = await executeManualAttempt({
      kind: passwdAudit,
      services: world.services,
      scheduleId: 'passwd-daily',
      window: WINDOW,
      params: { users: '30/1,10/999' },
    });
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/every watched user failed \(2\).*30\/1: HTTP 401/);
    expect(world.smtp.messages).toHaveLength(0);
    expect(await world.services.ledger.getWindow({ scheduleId: 'passwd-daily', ...WINDOW })).toMatchObject({ state: 'failed' });

    world.sim.setFaults({ errorRate: 1, errorStatus: 503, pathPrefix: '/admin/' });
    outcome = await executeManualAttempt({
      kind: passwdAudit,
      services: world.services,
      scheduleId: 'passwd-daily',
      window: WINDOW,
      params: { users: '10/1,10/2' },
    });
    expect(outcome.status).toBe('failed');
    expect(outcome.reason).toMatch(/503/);
  });

  it('reads the watched users from a local YAML or CSV file and from s3://', async () => {
    world = await startWorld('fs');
    const yamlFile = join(world.dir, 'watched.yaml');
    await writeFile(yamlFile, 'users:\n  - { contextId: 10, userId: 1 }\n  - [40, 1]\n');
    const outcome = await executeManualAttempt({
      kind: passwdAudit,
      services: world.services,
      scheduleId: 'passwd-file',
      window: WINDOW,
      params: { users: yamlFile },
    });
    expect(outcome.status, outcome.reason).toBe('done');
    expect(outcome.result).toMatchObject({ usersChecked: 2, changes: 3, usersFailed: 0 });

    const client = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: `${world.prefix}/watched.csv`, Body: 'contextId,userId\r\n10,2\r\n20,1\r\n' }),
    );
    client.destroy();
    const s3Settings = s3.archiveConfig();
    expect(await loadWatchedUsers(`s3://${s3.bucket}/${world.prefix}/watched.csv`, s3Settings)).toEqual([
      { contextId: 10, userId: 2 },
      { contextId: 20, userId: 1 },
    ]);
    await expect(loadWatchedUsers(`s3://${s3.bucket}/${world.prefix}/nope.csv`, s3Settings)).rejects.toThrow(/no such object/);
    await expect(loadWatchedUsers(join(world.dir, 'missing.yaml'), s3Settings)).rejects.toThrow(/missing\.yaml: cannot be read \(ENOENT\)/);
    // Credentials S3 refuses: no retry can fix that, so it is an input error naming the file (never the secret).
    const denied = loadWatchedUsers(`s3://${s3.bucket}/${world.prefix}/watched.csv`, {
      ...s3Settings,
      accessKeyId: 'NOT-S3RVER',
      secretAccessKey: 'wrong-secret',
    });
    await expect(denied).rejects.toThrow(InputError);
    await expect(denied).rejects.toThrow(/watched\.csv: S3 refused access/);
    await expect(denied).rejects.not.toThrow(/wrong-secret/);
  });
});
