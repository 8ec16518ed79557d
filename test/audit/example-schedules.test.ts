import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { passwdAudit } from '../../jobs/passwd-audit.js';
import { feedbackPurge } from '../../jobs/feedback-purge.js';
import { parseUserFile } from '../../src/audit/user-list.js';

describe('shipped examples', () => {
  it('config/schedules.example.yaml has valid params for passwd.audit and feedback.purge', async () => {
    const doc = parseYaml(await readFile('config/schedules.example.yaml', 'utf8')) as {
      schedules: Record<string, { job: string; params: unknown }>;
    };
    const audit = Object.values(doc.schedules).find((s) => s.job === 'passwd.audit');
    const purge = Object.values(doc.schedules).find((s) => s.job === 'feedback.purge');
    expect(passwdAudit.params.parse(audit!.params)).toMatchObject({ maxChanges: 3, deliver: ['archive', 'mail'] });
    expect(feedbackPurge.params.parse(purge!.params)).toMatchObject({ retention: 30 * 86_400_000, allowUnarchived: false });
  });

  it('config/watched-users.example.csv is a valid users file', async () => {
    const users = parseUserFile(await readFile('config/watched-users.example.csv', 'utf8'), 'config/watched-users.example.csv');
    expect(users.length).toBeGreaterThan(0);
    expect(users[0]).toEqual({ contextId: 1, userId: 3 });
  });
});
