/**
 * The OX side of the demo: a simulator holding 60 days of synthetic feedback, the users the
 * advertisement catalog names, and password histories of the watched users — including a few
 * changes that the audit must flag (an unknown client, a burst).
 */
import { DateTime } from 'luxon';
import { OxSimulator } from '../sim/ox-simulator.js';
import { loadCatalog } from '../ads/catalog-source.js';
import { parseUserFile } from '../audit/user-list.js';
import { readFile } from 'node:fs/promises';

export const DEMO_ZONE = 'Europe/Berlin';
export const FEEDBACK_DAYS = 60;
const ROWS_PER_DAY = 240;
const DAY_MS = 86_400_000;

export interface DemoWorld {
  sim: OxSimulator;
  /** Midnight (Berlin) 60 days ago: the first feedback. */
  dataStart: number;
  feedbackRows: number;
  watchedUsers: number;
  catalogUsers: number;
}

export async function startDemoWorld(options: {
  now: number;
  smtpUrl: string;
  catalog: string;
  watchedUsers: string;
  port?: number;
}): Promise<DemoWorld> {
  const { now } = options;
  const today = DateTime.fromMillis(now, { zone: DEMO_ZONE }).startOf('day');
  const dataStart = today.minus({ days: FEEDBACK_DAYS }).toMillis();
  const sim = await OxSimulator.start({ smtpUrl: options.smtpUrl, ...(options.port ? { port: options.port } : {}) });

  const feedbackRows = ROWS_PER_DAY * FEEDBACK_DAYS;
  sim.generateFeedback({ rows: feedbackRows, from: dataStart, to: now, seed: 2026 });

  // Users the catalog addresses by login must exist in OX for /advertisement/v1/config/name.
  const catalog = await loadCatalog(options.catalog);
  let nextUserId = 100;
  let catalogUsers = 0;
  for (const entry of catalog.entries) {
    if (entry.scope !== 'name') continue;
    sim.addUser({ contextId: entry.contextId, userId: nextUserId++, login: entry.login });
    catalogUsers += 1;
  }

  // Password histories of the watched users over the last two weeks (a few changes a day).
  const users = parseUserFile(await readFile(options.watchedUsers, 'utf8'), options.watchedUsers);
  const contexts = new Set(users.map((u) => u.contextId));
  const usersPerContext = Math.max(...users.map((u) => u.userId)) - 2;
  sim.generatePasswordHistories({ contexts: contexts.size, usersPerContext, from: now - 14 * DAY_MS, to: now, seed: 7 });
  const yesterday = today.minus({ days: 1 }).toMillis();
  const first = users[0]!;
  const second = users[1] ?? first;
  // A change through a client nobody uses: flagged `unknown-client`.
  sim.addPasswordChange({
    contextId: first.contextId,
    userId: first.userId,
    date: yesterday + 3 * 3_600_000 + 17_000,
    client_id: 'curl/8.5.0',
    client_address: '203.0.113.66',
  });
  // Five changes within minutes: flagged `burst`.
  for (let i = 0; i < 5; i++) {
    sim.addPasswordChange({
      contextId: second.contextId,
      userId: second.userId,
      date: yesterday + 14 * 3_600_000 + i * 90_000,
      client_id: 'open-xchange-appsuite',
      client_address: '198.51.100.23',
    });
  }
  return { sim, dataStart, feedbackRows, watchedUsers: users.length, catalogUsers };
}
