import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { auditUserHistory, historyMayBeTruncated, OX_CLIENT_IDS } from '../../src/audit/flag-changes.js';
import { reportRows, summarize, summaryText, writeReportCsv } from '../../src/audit/audit-report.js';

const H = 3_600_000;
const start = Date.UTC(2026, 10, 1);
const window = { start, end: start + 24 * H };
const rules = { knownClients: new Set(OX_CLIENT_IDS), maxChanges: 2, historySize: 10 };
const change = (date: number, client_id = 'open-xchange-appsuite') => ({
  date,
  client_id,
  client_address: '192.0.2.7',
  ...(client_id === 'open-xchange-appsuite' ? { client_name: 'App Suite UI' } : {}),
});

describe('auditUserHistory', () => {
  it('keeps entries in [start, end): the start instant in, the end instant out', () => {
    const audit = auditUserHistory(
      { contextId: 1, userId: 2 },
      [change(window.end), change(window.start), change(window.start - 1)],
      window,
      rules,
    );
    expect(audit.rows.map((r) => r.date)).toEqual(['2026-11-01T00:00:00.000Z']);
    expect(audit.rows[0]).toEqual({
      context_id: 1,
      user_id: 2,
      date: '2026-11-01T00:00:00.000Z',
      client_id: 'open-xchange-appsuite',
      client_name: 'App Suite UI',
      client_address: '192.0.2.7',
      flag: '',
    });
  });

  it('flags unknown clients and bursts above maxChanges', () => {
    const history = [change(start + 3 * H), change(start + 2 * H, 'evil-bot'), change(start + H)];
    const audit = auditUserHistory({ contextId: 1, userId: 2 }, history, window, rules);
    expect(audit.rows.map((r) => r.flag)).toEqual(['burst', 'unknown-client;burst', 'burst']);
    expect(audit.flaggedRows).toBe(3);
    const calm = auditUserHistory({ contextId: 1, userId: 2 }, history.slice(0, 2), window, rules);
    expect(calm.rows.map((r) => r.flag)).toEqual(['unknown-client', '']);
  });

  it('warns when a full history begins inside or after the window', () => {
    const full = Array.from({ length: 10 }, (_, i) => change(start + i * H));
    expect(historyMayBeTruncated(full, window, 10)).toBe(true);
    expect(historyMayBeTruncated(full.slice(1), window, 10)).toBe(false);
    expect(historyMayBeTruncated([...full.slice(1), change(start - 1)], window, 10)).toBe(false);
    expect(
      historyMayBeTruncated(
        full.map((c) => ({ ...c, date: c.date + 48 * H })),
        window,
        10,
      ),
    ).toBe(true);
  });
});

describe('report', () => {
  it('writes RFC 4180 CSV with the agreed columns and a formula guard', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oxbt-audit-'));
    try {
      const a = auditUserHistory(
        { contextId: 2, userId: 1 },
        [change(start + H, '=cmd|calc'), change(start + 2 * H, 'a "quoted", client')],
        window,
        rules,
      );
      const b = auditUserHistory({ contextId: 1, userId: 9 }, [change(start + 5 * H)], window, rules);
      const path = join(dir, 'r.csv');
      await writeReportCsv(reportRows([a, b]), path);
      const text = await readFile(path, 'utf8');
      expect(text.split('\r\n')[0]).toBe('context_id,user_id,date,client_id,client_name,client_address,flag');
      expect(text).toContain('"a ""quoted"", client"');
      expect(text.endsWith('\r\n')).toBe(true);
      const records = parse(text, { columns: true }) as Record<string, string>[];
      expect(records.map((r) => `${r.context_id}/${r.user_id}`)).toEqual(['1/9', '2/1', '2/1']);
      expect(records[1]!.client_id).toBe("'=cmd|calc");
      expect(records[1]!.flag).toBe('unknown-client');

      const empty = join(dir, 'e.csv');
      await writeReportCsv([], empty);
      expect(await readFile(empty, 'utf8')).toBe('context_id,user_id,date,client_id,client_name,client_address,flag\r\n');

      const summary = summarize([a, b], [{ contextId: 3, userId: 4, status: 404, reason: 'user or context not found' }]);
      expect(summary).toMatchObject({ usersChecked: 2, usersFailed: 1, changes: 3, flaggedRows: 2, flaggedUsers: 1 });
      const mail = summaryText(summary, window, 'passwd-daily');
      expect(mail).toContain('Users checked: 2 of 3');
      expect(mail).toContain('Changes found: 3');
      expect(mail).toContain('Flagged rows:  2');
      expect(mail).toContain('3/4: HTTP 404 user or context not found');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
