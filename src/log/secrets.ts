/**
 * Secrets must never reach a log line or an error message. These helpers scrub the shapes
 * secrets take in this program: URLs with user info or secret query parameters (e.g.
 * `?sentinelPassword=`), Basic/Bearer headers, armoured PGP keys.
 */

const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*)(?::[^\s/@]*)?@/gi;
const SECRET_QUERY = /([?&](?:[a-z_]*(?:password|secret|token|apikey|api_key))=)[^&\s#]*/gi;
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

/** A URL as it may be shown: user and password removed. Unparsable input is scrubbed as text. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString().replace(SECRET_QUERY, '$1***');
  } catch {
    return scrubText(url);
  }
}

const SECRET_KEY = /(password|secret|token|apikey|api_key|authorization|pgp_?key|credentials?|webhook)$/i;

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
