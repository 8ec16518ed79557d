/**
 * Advertisement configs per user ("ctx/user") and per reseller package ("reseller/package").
 * A config `{"__simulate":"error"}` makes the write fail like a server failure, so tests can
 * provoke a 500 or a reseller per-entry ERROR.
 */
import type { ResellerEntryResult } from '../ox/types.js';

export const DEFAULT_AD_NAME = 'default';

export class SimulatedAdFailure extends Error {}

/** The marker a test puts into a config to make its write fail. */
export function isSimulatedFailure(config: unknown): boolean {
  return typeof config === 'object' && config !== null && (config as Record<string, unknown>).__simulate === 'error';
}

export type PutOutcome = 'created' | 'updated';
export type DeleteOutcome = 'deleted' | 'nothing';

export class AdvertisementStore {
  private readonly users = new Map<string, unknown>();
  private readonly packages = new Map<string, unknown>();

  constructor(private readonly directory: { userIdByLogin(contextId: number, login: string): number | undefined }) {}

  putUser(contextId: number, userId: number, config: unknown): PutOutcome {
    return put(this.users, `${contextId}/${userId}`, config);
  }

  deleteUser(contextId: number, userId: number): DeleteOutcome {
    return this.users.delete(`${contextId}/${userId}`) ? 'deleted' : 'nothing';
  }

  /** The login's user id; throws (a server failure in OX) for an unknown login. */
  resolveLogin(contextId: number, login: string): number {
    const userId = this.directory.userIdByLogin(contextId, login);
    if (userId === undefined) throw new SimulatedAdFailure(`No user found with login "${login}" in context ${contextId}`);
    return userId;
  }

  putPackage(reseller: string, pkg: string, config: unknown): PutOutcome {
    return put(this.packages, packageKey(reseller, pkg), config);
  }

  deletePackage(reseller: string, pkg: string): DeleteOutcome {
    return this.packages.delete(packageKey(reseller, pkg)) ? 'deleted' : 'nothing';
  }

  /** Per-entry results in input order; for a repeated package the last entry wins. */
  putReseller(reseller: string, entries: Array<{ package: string; config: unknown }>): ResellerEntryResult[] {
    const lastIndex = new Map<string, number>();
    entries.forEach((e, i) => lastIndex.set(nameOrDefault(e.package), i));
    return entries.map((entry, i): ResellerEntryResult => {
      const pkg = nameOrDefault(entry.package);
      if (lastIndex.get(pkg) !== i) return { status: 'IGNORED' };
      if (isSimulatedFailure(entry.config))
        return { status: 'ERROR', error: `Unable to store configuration for package "${pkg}" of reseller "${nameOrDefault(reseller)}"` };
      if (entry.config === null || entry.config === undefined) {
        return this.deletePackage(reseller, pkg) === 'deleted' ? { status: 'DELETED' } : { status: 'IGNORED' };
      }
      return this.putPackage(reseller, pkg, entry.config) === 'created' ? { status: 'CREATED' } : { status: 'UPDATED' };
    });
  }

  /**
   * What OX would serve the user: their own config, else the config of (reseller, package) the
   * caller says the user's context belongs to. undefined when neither exists.
   */
  effective(contextId: number, userId: number, fallback?: { reseller: string; package: string }): unknown {
    const own = this.users.get(`${contextId}/${userId}`);
    if (own !== undefined) return structuredClone(own);
    if (!fallback) return undefined;
    const pkg = this.packages.get(packageKey(fallback.reseller, fallback.package));
    return pkg === undefined ? undefined : structuredClone(pkg);
  }

  /** Loads configs as `snapshot()` returns them (fixtures). */
  load(configs: { users?: Record<string, unknown>; packages?: Record<string, unknown> }): void {
    for (const [key, config] of Object.entries(configs.users ?? {})) this.users.set(key, structuredClone(config));
    for (const [key, config] of Object.entries(configs.packages ?? {})) this.packages.set(key, structuredClone(config));
  }

  snapshot(): { users: Record<string, unknown>; packages: Record<string, unknown> } {
    return {
      users: Object.fromEntries([...this.users].map(([k, v]) => [k, structuredClone(v)])),
      packages: Object.fromEntries([...this.packages].map(([k, v]) => [k, structuredClone(v)])),
    };
  }
}

export function nameOrDefault(name: string): string {
  return name === '' ? DEFAULT_AD_NAME : name;
}

function packageKey(reseller: string, pkg: string): string {
  return `${nameOrDefault(reseller)}/${nameOrDefault(pkg)}`;
}

function put(map: Map<string, unknown>, key: string, config: unknown): PutOutcome {
  const existed = map.has(key);
  map.set(key, structuredClone(config));
  return existed ? 'updated' : 'created';
}
