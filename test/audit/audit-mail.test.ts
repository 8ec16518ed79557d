/**
 * The password audit mail: `ox-batch run passwd.audit` (a CLI process) mails the summary with the
 * flagged changes first, as an HTML table and as text, the CSV report attached; and, seeded, no
 * client id, name or address (they come from whoever changed the password) can add markup.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DomUtils, parseDocument } from 'htmlparser2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditHtmlRenderer, flaggedFirst } from '../../src/audit/audit-mail.js';
import type { AuditSummary } from '../../src/audit/audit-report.js';
import type { AuditRow } from '../../src/audit/flag-changes.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { deleteKeys, plainRedis, REDIS_URL, testPrefix } from '../daemon/helpers.js';
import { startSmtpCapture, type SmtpCapture } from '../delivery/helpers/smtp-capture.js';

const H = 3_600_000;
const S = Date.UTC(2026, 10, 1);
const SEED = Number(process.env.FC_SEED ?? 1414);

describe('the password audit mail (CLI run, smtp-server)', () => {
  let sim: OxSimulator;
  let smtp: SmtpCapture;
  let bundle: Awaited<ReturnType<typeof bundleCli>>;
  let dir: string;
  const prefix = testPrefix();
  const redis = plainRedis();
  let run: Awaited<ReturnType<typeof runCli>>;

  beforeAll(async () => {
    [sim, smtp, bundle] = await Promise.all([
      OxSimulator.start({ credentials: { contextAdmins: { 10: { user: 'admin10', password: 'p10' } } } }),
      startSmtpCapture(),
      bundleCli(),
    ]);
    const add = (userId: number, date: number, client_id: string, client_address: string) =>
      sim.addPasswordChange({ contextId: 10, userId, date, client_id, client_address });
    add(1, S + 1 * H, 'open-xchange-appsuite', '192.0.2.7');
    add(1, S + 9 * H, 'provisioning-api', '192.0.2.8');
    add(2, S + 2 * H, 'open-xchange-appsuite', '198.51.100.23');
    add(3, S + 3 * H, '<script>alert(1)</script>', '203.0.113.66');
    dir = mkdtempSync(join(tmpdir(), 'oxbt-audit-mail-'));
    const configFile = join(dir, 'ox-batch.yaml');
    writeFileSync(
      configFile,
      [
        `ox: { url: "${sim.url}", admin: { contexts: { "10": { user: admin10, password: p10 } } }, retry: { attempts: 2, baseDelayMs: 1ms, maxDelayMs: 5ms } }`,
        `redis: { url: "${REDIS_URL}", prefix: ${prefix} }`,
        `archive: { kind: fs, dir: "${join(dir, 'archive')}" }`,
        `mail: { smtp: "${smtp.url}", from: "ox-batch@example.com" }`,
        'logging: { level: warn }',
      ].join('\n'),
    );
    run = await runCli(
      bundle.entry,
      [
        '--config',
        configFile,
        'run',
        'passwd.audit',
        '--start',
        '2026-11-01T00:00:00Z',
        '--end',
        '2026-11-02T00:00:00Z',
        '--param',
        'users=10/1,10/2,10/3',
        '--param',
        'deliver=archive,mail',
        '--param',
        'mailTo=security@example.com',
        '--param',
        'maxChanges=1',
      ],
      { OX_USER: 'oxadmin', OX_PASSWORD: 'secret' },
    );
  }, 120_000);
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
    await sim?.close();
    await smtp?.close();
    bundle?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the flagged changes first in an HTML table and in the text part, the report attached', async () => {
    expect(run.code, run.stderr).toBe(0);
    const [mail] = await smtp.parsed();
    expect(mail!.subject).toBe('OX password changes 2026-11-01T00:00:00.000Z to 2026-11-02T00:00:00.000Z: 4 changes, 3 flagged');
    const document = parseDocument(mail!.html as string);
    const table = DomUtils.findAll((e) => e.name === 'table' && (e.attribs.class ?? '').split(' ').includes('grid'), document.children)[0]!;
    const rows = DomUtils.findAll((e) => e.name === 'tr', [table])
      .slice(1)
      .map((tr) => ({
        flagged: (tr.attribs.class ?? '') === 'flagged',
        cells: DomUtils.findAll((e) => e.name === 'td', [tr]).map((td) => DomUtils.textContent(td)),
      }));
    // maxChanges 1: both changes of 10/1 are a burst, 10/3 used an unknown client; 10/2 is fine and comes last.
    expect(rows).toEqual([
      { flagged: true, cells: ['10/1', '2026-11-01 01:00:00', 'open-xchange-appsuite', 'App Suite UI', '192.0.2.7', 'burst'] },
      { flagged: true, cells: ['10/1', '2026-11-01 09:00:00', 'provisioning-api', 'Provisioning API', '192.0.2.8', 'burst'] },
      { flagged: true, cells: ['10/3', '2026-11-01 03:00:00', '<script>alert(1)</script>', '', '203.0.113.66', 'unknown-client'] },
      { flagged: false, cells: ['10/2', '2026-11-01 02:00:00', 'open-xchange-appsuite', 'App Suite UI', '198.51.100.23', ''] },
    ]);
    expect(DomUtils.findAll((e) => e.name === 'script', document.children)).toEqual([]);
    expect(mail!.text).toContain('Flagged rows:  3 (users with flagged changes: 2)');
    expect(mail!.text).toContain(
      'Flagged changes:\n  10/1  2026-11-01T01:00:00.000Z  open-xchange-appsuite (App Suite UI)  from 192.0.2.7  [burst]',
    );
    expect(mail!.text).toContain('10/3  2026-11-01T03:00:00.000Z  <script>alert(1)</script>  from 203.0.113.66  [unknown-client]');
    expect(mail!.attachments.map((a) => a.filename)).toEqual(['passwd-changes_20261101T000000Z_20261102T000000Z.csv']);
    expect(mail!.attachments[0]!.content.toString('utf8').split('\r\n')).toHaveLength(6); // header, 4 rows, final CRLF
  });
});

describe('the password audit HTML escapes every cell (seeded)', () => {
  it('no client id, name or address adds an element, and each cell reads back as written', async () => {
    const render = await auditHtmlRenderer();
    const hostile = fc.string({
      unit: fc.oneof(
        fc.constantFrom('<', '>', '&', '"', "'", '<script>', '</td>', '<img src=x onerror=alert(1)>', '<!--'),
        fc.string({ minLength: 1, maxLength: 1, unit: 'grapheme' }),
      ),
      maxLength: 40,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            client_id: hostile,
            client_name: hostile,
            client_address: hostile,
            flag: fc.constantFrom('', 'burst', 'unknown-client;burst'),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (changes) => {
          const rows: AuditRow[] = changes.map((c, i) => ({ context_id: 10, user_id: i, date: '2026-11-01T01:00:00.000Z', ...c }));
          const summary: AuditSummary = {
            usersChecked: rows.length,
            usersFailed: 0,
            changes: rows.length,
            flaggedRows: rows.filter((r) => r.flag).length,
            flaggedUsers: 0,
            mayBeMissing: [],
            failures: [],
          };
          const html = render(rows, summary, {
            title: 'audit',
            window: { start: 'a', end: 'b' },
            file: { filename: 'r.csv', bytes: 1, sha256: 'x' },
          });
          const document = parseDocument(html);
          const names = new Set(DomUtils.findAll(() => true, document.children).map((e) => e.name));
          for (const name of names)
            expect(['html', 'head', 'meta', 'title', 'body', 'table', 'tr', 'td', 'th', 'div', 'h1', 'h2', 'p', 'b']).toContain(name);
          const table = DomUtils.findAll(
            (e) => e.name === 'table' && (e.attribs.class ?? '').split(' ').includes('grid'),
            document.children,
          )[0]!;
          const cells = DomUtils.findAll((e) => e.name === 'tr', [table])
            .slice(1)
            .map((tr) => DomUtils.findAll((e) => e.name === 'td', [tr]).map((td) => DomUtils.textContent(td)));
          expect(cells.map((c) => [c[2], c[3], c[4]])).toEqual(
            flaggedFirst(rows).map((r) => [r.client_id, r.client_name, r.client_address]),
          );
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  }, 180_000); // 100 juice renders: seconds on a quiet machine, a minute on a loaded one
});
