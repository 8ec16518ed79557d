/**
 * Secrets must never reach a log line or an error message. These helpers scrub the shapes
 * secrets take in this program: URLs with user info or secret query parameters (e.g.
 * `?sentinelPassword=`), Basic/Bearer headers, armoured PGP keys, and (`scrubFields`) the same
 * inside structured log fields, with values under secret-named keys masked.
 *
 * URL user info is taken to end at the LAST `@` of the URL's run of non-space characters: a
 * password may hold a raw `@`, `/`, `:` or `?` (a typo in a config, an unencoded secret), and
 * no split at an earlier `@` may leave part of it behind. The price is over-scrubbing a URL whose
 * path or query holds an `@` (`https://***@example.com`), never a leak.
 */

const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)\S*@/gi;
/** Query parameter names whose values are secrets (any prefix: sentinelPassword, X-Amz-Signature, access_token). */
const SECRET_PARAM_NAME =
  '[a-z0-9_.-]*?(?:password|passwd|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|signature|sig|credentials?|auth|authorization|session[-_]?id)';
/**
 * A secret query value ends at `&`, `#`, a space, `"`, `<` or `>` (a URL quoted in a message;
 * those never stand raw in a URL: `%22`, `%3C`, `%3E`). `'` may, so it does not end one.
 */
const SECRET_QUERY = new RegExp(`([?&;]${SECRET_PARAM_NAME}=)[^&\\s#"<>]*`, 'gi');
const SECRET_PARAM = new RegExp(`^${SECRET_PARAM_NAME}$`, 'i');
const AUTH_HEADER = /\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{4,}/g;
const PGP_BLOCK = /-----BEGIN PGP [A-Z ]+-----[\s\S]*?(-----END PGP [A-Z ]+-----|$)/g;

/** Replaces credentials inside free text (error messages, URLs) with `***`. */
export function scrubText(text: string): string {
  return text
    .replace(URL_USERINFO, (_m, scheme: string) => `${scheme}***@`)
    .replace(SECRET_QUERY, '$1***')
    .replace(AUTH_HEADER, '$1 ***')
    .replace(PGP_BLOCK, '[PGP key]');
}

/** True for a URL query parameter name whose value is a secret (`token`, `sentinelPassword`, `X-Amz-Signature`). */
export function isSecretQueryName(name: string): boolean {
  return SECRET_PARAM.test(name);
}

/** A URL as it may be shown: user and password removed. Unparsable input is scrubbed as text. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    // toString() may still hold a raw '@' of a password in the path: scrub the text as well.
    return scrubText(u.toString());
  } catch {
    return scrubText(url);
  }
}

const SECRET_KEY =
  /(password|passwd|secret|token|apikey|api_key|secretaccesskey|private_?key|authorization|pgp_?key|credentials?|webhook)$/i;

/** True for object keys whose values are secrets wherever they appear. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** Shows a value without revealing it: secrets as `***`, URLs without credentials. */
export function maskValue(key: string, value: unknown): string {
  if (value === undefined) return 'undefined';
  if (isSecretKey(key)) return value === '' || value === null ? '(empty)' : '***';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return scrubText(text ?? String(value));
}

const MAX_DEPTH = 10;

/**
 * A structured log field (or any JSON-ish value) with every secret removed: strings scrubbed like
 * free text, values under secret-named keys (`password`, `token`, …) as `***`, URL objects without
 * credentials, at any depth. Errors are left to the logger's error serializer (which scrubs their
 * text). Returns the input itself when nothing had to change.
 */
export function scrubFields<T>(value: T): T {
  return scrubValue(value, 0, new WeakSet()) as T;
}

function scrubValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof URL) return safeUrl(value.href);
  if (value instanceof Error || value instanceof Date || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const scrubbed = scrubValue(item, depth + 1, seen);
      if (scrubbed !== item) (copy ??= [...value])[i] = scrubbed;
    });
    return copy ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value; // class instances serialise themselves
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const scrubbed =
      isSecretKey(key) && item !== undefined && item !== null && item !== '' && typeof item !== 'boolean'
        ? '***'
        : scrubValue(item, depth + 1, seen);
    if (scrubbed !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = scrubbed;
  }
  return copy ?? value;
}

const URL_START = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * What credential a URL carries, if any: `user info` (anything before an `@`: a raw `@` anywhere
 * counts, since a password may hold `/` or `?` and move the `@` out of the authority; write a
 * literal `@` as `%40`), or the name of a secret query parameter. Undefined for other text.
 */
export function credentialInUrl(text: string): { userInfo: true } | { queryParam: string } | undefined {
  if (!URL_START.test(text)) return undefined;
  if (text.includes('@')) return { userInfo: true };
  const query = text.indexOf('?');
  if (query < 0) return undefined;
  const end = text.indexOf('#', query);
  for (const pair of text.slice(query + 1, end < 0 ? undefined : end).split(/[&;]/)) {
    const eq = pair.indexOf('=');
    let name = eq < 0 ? pair : pair.slice(0, eq);
    try {
      name = decodeURIComponent(name.replace(/\+/g, ' '));
    } catch {
      // a malformed escape: judge the raw name
    }
    if (name !== '' && isSecretQueryName(name)) return { queryParam: name };
  }
  return undefined;
}
