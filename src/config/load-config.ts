import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { maskValue, isSecretKey } from '../log/secrets.js';
import { configSchema, type Config } from './schema.js';

type Plain = Record<string, unknown>;

/** Environment variables for connections and secrets, and the config key each one sets. */
export const ENV_KEYS: ReadonlyArray<{ env: string; path: string; list?: boolean; kind?: 'number' | 'boolean' }> = [
  { env: 'OX_URL', path: 'ox.url' },
  { env: 'OX_USER', path: 'ox.user' },
  { env: 'OX_PASSWORD', path: 'ox.password' },
  { env: 'OX_ADMIN_USER', path: 'ox.admin.user' },
  { env: 'OX_ADMIN_PASSWORD', path: 'ox.admin.password' },
  { env: 'REDIS_URL', path: 'redis.url' },
  { env: 'OXB_REDIS_PREFIX', path: 'redis.prefix' },
  { env: 'OXB_ARCHIVE', path: 'archive.kind' },
  { env: 'OXB_ARCHIVE_DIR', path: 'archive.dir' },
  { env: 'S3_ENDPOINT', path: 'archive.endpoint' },
  { env: 'S3_BUCKET', path: 'archive.bucket' },
  { env: 'S3_REGION', path: 'archive.region' },
  { env: 'S3_PREFIX', path: 'archive.prefix' },
  { env: 'S3_FORCE_PATH_STYLE', path: 'archive.forcePathStyle', kind: 'boolean' },
  { env: 'S3_ACCESS_KEY_ID', path: 'archive.accessKeyId' },
  { env: 'S3_SECRET_ACCESS_KEY', path: 'archive.secretAccessKey' },
  { env: 'SMTP_URL', path: 'mail.smtp' },
  { env: 'MAIL_FROM', path: 'mail.from' },
  { env: 'MAIL_TO', path: 'mail.to', list: true },
  { env: 'ALERTS_WEBHOOK', path: 'alerts.webhook' },
  { env: 'ALERTS_MAIL_TO', path: 'alerts.mailTo', list: true },
  { env: 'OXB_TIMEZONE', path: 'timezone' },
  { env: 'OXB_HTTP_PORT', path: 'http.port', kind: 'number' },
  { env: 'ADS_CATALOG_USER', path: 'ads.catalogAuth.user' },
  { env: 'ADS_CATALOG_PASSWORD', path: 'ads.catalogAuth.password' },
  { env: 'ADS_CATALOG_TOKEN', path: 'ads.catalogAuth.token' },
  { env: 'ADS_CATALOG_S3_ACCESS_KEY_ID', path: 'ads.catalogS3.accessKeyId' },
  { env: 'ADS_CATALOG_S3_SECRET_ACCESS_KEY', path: 'ads.catalogS3.secretAccessKey' },
  { env: 'UI_USER', path: 'ui.user' },
  { env: 'UI_PASSWORD', path: 'ui.password' },
  { env: 'LOG_LEVEL', path: 'logging.level' },
];

export interface LoadConfigOptions {
  /** YAML file layered over the defaults; falls back to `OXB_CONFIG`. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Applied last (tests, CLI flags such as --concurrency). */
  overrides?: Plain;
}

export { packageRoot };

export const DEFAULT_CONFIG_FILE = join(packageRoot(), 'config', 'default.yaml');

/**
 * The one loader: built-in defaults, then the YAML file, then environment variables (each also
 * as `NAME_FILE`), then overrides. Validated into one typed object; any problem is an InputError
 * naming the key, where it came from, the (masked) value and what is expected.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const origins = new Map<string, string>();
  const merged: Plain = {};

  mergeLayer(merged, readYaml(DEFAULT_CONFIG_FILE, env), 'config/default.yaml', origins);
  const file = options.file ?? (env.OXB_CONFIG || undefined);
  if (file) mergeLayer(merged, readYaml(resolve(file), env), file, origins);
  mergeLayer(merged, envLayer(env), 'environment', origins, ENV_ORIGIN);
  if (options.overrides) mergeLayer(merged, options.overrides, 'overrides', origins);
  applyAwsRegion(merged, env, origins);

  const result = configSchema.safeParse(merged);
  if (!result.success) throw new InputError(formatIssue(result.error.issues[0]!, merged, origins), { cause: result.error });
  return result.data;
}

const ENV_ORIGIN = new Map(ENV_KEYS.map((k) => [k.path, k.env]));

function readYaml(path: string, env: NodeJS.ProcessEnv): Plain {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`config file ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      cause: err,
    });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new InputError(`config file ${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new InputError(`config file ${path}: expected a mapping at the top level`);
  return expandEnv(doc as Plain, env, path, '') as Plain;
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** `${VAR}` and `${VAR:-default}` in YAML string values, from the environment (or `VAR_FILE`). */
function expandEnv(value: unknown, env: NodeJS.ProcessEnv, file: string, path: string): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const found = envValue(env, name);
      if (found !== undefined) return found;
      if (fallback !== undefined) return fallback;
      throw new InputError(`config file ${file}: ${path || '(top)'} refers to \${${name}}, which is not set`);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, file, `${path}[${i}]`));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Plain = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, file, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

/** `NAME` or the content of the file named by `NAME_FILE` (a mounted Kubernetes secret). */
export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name];
  if (direct !== undefined && direct !== '') return direct;
  const file = env[`${name}_FILE`];
  if (file) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new InputError(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    }
  }
  return undefined;
}

function envLayer(env: NodeJS.ProcessEnv): Plain {
  const layer: Plain = {};
  for (const { env: name, path, list, kind } of ENV_KEYS) {
    const raw = envValue(env, name);
    if (raw === undefined) continue;
    let value: unknown = raw;
    if (list)
      value = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else if (kind === 'number') value = /^\d+$/.test(raw) ? Number(raw) : raw;
    else if (kind === 'boolean') value = raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
    setPath(layer, path.split('.'), value);
  }
  return layer;
}

/** archive.region left empty: the AWS SDK's own variables (what the AWS CLI and SDKs read). */
function applyAwsRegion(merged: Plain, env: NodeJS.ProcessEnv, origins: Map<string, string>): void {
  const archive = isPlain(merged.archive) ? merged.archive : undefined;
  if (archive && typeof archive.region === 'string' && archive.region !== '') return;
  for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION']) {
    const value = envValue(env, name);
    if (value === undefined) continue;
    setPath(merged, ['archive', 'region'], value);
    origins.set('archive.region', name);
    return;
  }
}

function setPath(target: Plain, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Plain;
  }
  node[keys[keys.length - 1]!] = value;
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function mergeLayer(
  target: Plain,
  layer: Plain,
  origin: string,
  origins: Map<string, string>,
  names?: Map<string, string>,
  prefix = '',
): void {
  for (const [key, value] of Object.entries(layer)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isPlain(value) && isPlain(target[key])) {
      mergeLayer(target[key] as Plain, value, origin, origins, names, path);
      continue;
    }
    target[key] = isPlain(value) ? structuredClone(value) : value;
    origins.set(path, names?.get(path) ?? origin);
  }
}

function formatIssue(issue: z.core.$ZodIssue, merged: Plain, origins: Map<string, string>): string {
  const keys = issue.path.map(String);
  const path = keys.join('.') || '(top)';
  let value: unknown = merged;
  for (const k of keys) value = isPlain(value) || Array.isArray(value) ? (value as Plain)[k] : undefined;
  let origin: string | undefined;
  for (let n = keys.length; n > 0 && !origin; n--) origin = origins.get(keys.slice(0, n).join('.'));
  const secret = keys.some(isSecretKey);
  const shown = secret ? maskValue('password', value) : maskValue(keys[keys.length - 1] ?? '', value);
  const where = origin ? ` (from ${origin})` : '';
  const got = value === undefined ? 'is missing' : `= ${shown}`;
  return `config: ${path}${where} ${got}: ${issue.message}`;
}
