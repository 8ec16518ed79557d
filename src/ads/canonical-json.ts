import { createHash } from 'node:crypto';

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

/** The fingerprint kept in Redis for an applied entry: sha256 of its canonical JSON, base64url. */
export function configHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('base64url');
}
