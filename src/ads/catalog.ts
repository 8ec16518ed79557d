/**
 * What a catalog describes, after parsing and validation: advertisement configs for reseller
 * packages, for users by id and for users by login. Each entry has a stable key (the identity
 * OX knows it by) and the hash of its canonical config (what was applied).
 */

export type AdEntryTarget =
  | { scope: 'package'; reseller: string; package: string }
  | { scope: 'user'; contextId: number; userId: number }
  | { scope: 'name'; contextId: number; login: string };

export type AdEntry = AdEntryTarget & {
  /** `package:acme/gold`, `user:42/7`, `name:42/alice@example.com` (`%` and `/` in names escaped). */
  key: string;
  config: unknown;
  hash: string;
  /** Where the entry was declared, for messages: `catalog.yaml:12`. */
  origin: string;
};

export interface Catalog {
  /** The location as given, credentials removed. */
  source: string;
  entries: AdEntry[];
}

/** OX treats an empty reseller or package name as `default`; so do we, before comparing. */
export function oxName(name: string): string {
  return name === '' ? 'default' : name;
}

/** Keys stay readable (`name:42/ceo@acme.example`): only the separator and the escape are escaped. */
function escapeName(name: string): string {
  return name.replace(/%/g, '%25').replace(/\//g, '%2F');
}

export function entryKey(target: AdEntryTarget): string {
  switch (target.scope) {
    case 'package':
      return `package:${escapeName(oxName(target.reseller))}/${escapeName(oxName(target.package))}`;
    case 'user':
      return `user:${target.contextId}/${target.userId}`;
    case 'name':
      return `name:${target.contextId}/${escapeName(target.login)}`;
  }
}

/** The inverse of `entryKey`: what to delete when only the key is left in the applied state. */
export function targetOfKey(key: string): AdEntryTarget {
  const colon = key.indexOf(':');
  const slash = key.indexOf('/', colon);
  const scope = key.slice(0, colon);
  const first = key.slice(colon + 1, slash);
  const second = key.slice(slash + 1);
  if (colon > 0 && slash > colon) {
    if (scope === 'package') return { scope, reseller: decodeURIComponent(first), package: decodeURIComponent(second) };
    if (scope === 'user' && /^\d+$/.test(first) && /^\d+$/.test(second)) return { scope, contextId: Number(first), userId: Number(second) };
    if (scope === 'name' && /^\d+$/.test(first)) return { scope, contextId: Number(first), login: decodeURIComponent(second) };
  }
  throw new Error(`not an advertisement entry key: ${JSON.stringify(key)}`);
}
