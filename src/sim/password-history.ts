/**
 * The users table (context, user id, login) and each user's password-change history, of which
 * OX keeps only the last N entries per user.
 */
import { createRandom, pick } from './prng.js';
import type { SimPasswordChange, SimUser } from './sim-types.js';

/** Client ids OX knows a display name for; others get no `client_name`. */
export const KNOWN_CLIENT_NAMES: Readonly<Record<string, string>> = {
  'open-xchange-appsuite': 'App Suite UI',
  'provisioning-api': 'Provisioning API',
  'com.openexchange.ox.gui.dhtml': 'OX6 UI',
  'OpenXchange.HTTPClient.OXAddIn': 'Connector for Microsoft Outlook',
};

export interface PasswordChangeEntry {
  date: number;
  client_id: string;
  client_name?: string;
  client_address: string;
}

export type SortKey = { field: 'date' | 'client_id'; descending: boolean };

const GENERATED_CLIENTS = [
  'open-xchange-appsuite',
  'open-xchange-appsuite',
  'open-xchange-appsuite',
  'open-xchange-appsuite',
  'provisioning-api',
  'provisioning-api',
  'OpenXchange.HTTPClient.OXAddIn',
  'com.openexchange.ox.gui.dhtml',
  'com.example.selfservice-portal',
  'open-xchange-mobile-api-facade',
];

export class PasswordHistory {
  private readonly users = new Map<string, SimUser>();
  private readonly logins = new Map<string, number>();
  private readonly contexts = new Set<number>();
  private readonly changes = new Map<string, PasswordChangeEntry[]>();

  constructor(readonly historySize: number) {
    if (!Number.isInteger(historySize) || historySize < 1) throw new RangeError(`historySize must be an integer >= 1, got ${historySize}`);
  }

  addUser(u: SimUser): void {
    if (!Number.isInteger(u.contextId) || !Number.isInteger(u.userId))
      throw new TypeError('addUser: contextId and userId must be integers');
    if (typeof u.login !== 'string' || u.login === '') throw new TypeError('addUser: login must be a non-empty string');
    this.users.set(key(u.contextId, u.userId), { ...u });
    this.logins.set(`${u.contextId}/${u.login}`, u.userId);
    this.contexts.add(u.contextId);
  }

  hasContext(contextId: number): boolean {
    return this.contexts.has(contextId);
  }

  user(contextId: number, userId: number): SimUser | undefined {
    return this.users.get(key(contextId, userId));
  }

  userIdByLogin(contextId: number, login: string): number | undefined {
    return this.logins.get(`${contextId}/${login}`);
  }

  /** Creates the user (login `user<id>`) when unknown; keeps the newest `historySize` entries. */
  addChange(c: SimPasswordChange): void {
    if (!Number.isFinite(c.date)) throw new TypeError('addPasswordChange: date must be epoch ms');
    if (!this.user(c.contextId, c.userId)) this.addUser({ contextId: c.contextId, userId: c.userId, login: `user${c.userId}` });
    const k = key(c.contextId, c.userId);
    let list = this.changes.get(k);
    if (!list) this.changes.set(k, (list = []));
    const name = KNOWN_CLIENT_NAMES[c.client_id];
    const entry: PasswordChangeEntry =
      name === undefined
        ? { date: Math.trunc(c.date), client_id: c.client_id, client_address: c.client_address }
        : { date: Math.trunc(c.date), client_id: c.client_id, client_name: name, client_address: c.client_address };
    let at = list.length;
    while (at > 0 && list[at - 1]!.date > entry.date) at--;
    list.splice(at, 0, entry);
    if (list.length > this.historySize) list.splice(0, list.length - this.historySize);
  }

  /** The stored history, sorted and limited as OX does. */
  list(contextId: number, userId: number, sort: SortKey[], limit: number): PasswordChangeEntry[] {
    const entries = [...(this.changes.get(key(contextId, userId)) ?? [])];
    entries.sort((a, b) => {
      for (const { field, descending } of sort) {
        const av = a[field];
        const bv = b[field];
        const cmp = av < bv ? -1 : av > bv ? 1 : 0;
        if (cmp !== 0) return descending ? -cmp : cmp;
      }
      return 0;
    });
    return limit > 0 ? entries.slice(0, limit) : entries;
  }

  generate(o: { contexts: number; usersPerContext: number; from: number; to: number; seed: number }): void {
    const random = createRandom(o.seed ^ 0x9a55);
    for (let c = 1; c <= o.contexts; c++) {
      for (let u = 0; u < o.usersPerContext; u++) {
        const userId = 3 + u;
        this.addUser({ contextId: c, userId, login: `user${userId}` });
        const count = Math.floor(random() * (this.historySize + 4));
        for (let i = 0; i < count; i++) {
          this.addChange({
            contextId: c,
            userId,
            date: o.from + Math.floor(random() * (o.to - o.from)),
            client_id: pick(GENERATED_CLIENTS, random),
            client_address: randomAddress(random),
          });
        }
      }
    }
  }
}

/** Parses OX's `sort` parameter; undefined for an unknown field. Default `-date`. */
export function parseSort(param: string | null): SortKey[] | undefined {
  if (param === null || param.trim() === '') return [{ field: 'date', descending: true }];
  const keys: SortKey[] = [];
  for (const raw of param.split(',')) {
    const item = raw.trim();
    const descending = item.startsWith('-');
    const field = descending ? item.slice(1) : item;
    if (field !== 'date' && field !== 'client_id') return undefined;
    keys.push({ field, descending });
  }
  return keys;
}

function key(contextId: number, userId: number): string {
  return `${contextId}/${userId}`;
}

function randomAddress(random: () => number): string {
  const octet = (): number => 1 + Math.floor(random() * 253);
  const roll = random();
  if (roll < 0.4) return `192.0.2.${octet()}`;
  if (roll < 0.7) return `198.51.100.${octet()}`;
  if (roll < 0.85) return `203.0.113.${octet()}`;
  return `2001:db8::${Math.floor(random() * 0xffff).toString(16)}`;
}
