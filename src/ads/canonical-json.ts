import { hash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level and no whitespace, so two configs that mean the
 * same thing (keys reordered, re-indented catalog) hash the same and are not re-sent.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
  return `{${members.join(',')}}`;
}

/**
 * The fingerprint kept in Redis for an applied entry: sha256 of its canonical JSON, base64url,
 * cut to 132 bits (22 characters). It is only compared with the previous fingerprint of the same
 * entry, so that is ample, and it halves what a sync reads from Redis for 100,000 entries.
 */
export function configHash(config: unknown): string {
  // One-shot crypto.hash: cheaper than createHash() for short inputs, 100,000 times per sync.
  return hash('sha256', canonicalJson(config), 'base64url').slice(0, 22);
}
