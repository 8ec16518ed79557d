/**
 * Where Redis is, from the one `redis.url` setting: a server (`redis://`, `rediss://`, as ioredis
 * reads them) or a Sentinel-managed primary, which ioredis finds and follows through failovers:
 *
 *   redis+sentinel://[user:password@]host[:port][,host[:port]...]/primaryName[/db][?sentinelPassword=…]
 *   rediss+sentinel://…   the same over TLS (primary and sentinels)
 *
 * user/password are the primary's; the sentinels' own password, if any, goes in the query. Sentinel
 * ports default to 26379.
 */
import type { RedisOptions } from 'ioredis';
import { InputError } from '../errors.js';

const SENTINEL_URL = /^(rediss?)\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)(?:\/(\d+))?\/?(?:\?([^#]*))?$/;

export type RedisTarget = { url: string } | { options: RedisOptions };

function isSentinelUrl(url: string): boolean {
  return /^rediss?\+sentinel:\/\//.test(url);
}

/** The ioredis connection for a `redis.url`; InputError (one line, no secrets) when malformed. */
export function redisTarget(url: string): RedisTarget {
  if (!isSentinelUrl(url)) return { url };
  const match = SENTINEL_URL.exec(url);
  if (!match) throw new InputError('redis.url: expected redis+sentinel://host[:port][,host[:port]…]/primaryName[/db] (credentials of the primary before the first host)');
  const [, scheme, userinfo, hosts, name, db, query] = match;
  const sentinels = hosts!.split(',').map((entry) => {
    const hostPort = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry.trim());
    if (!hostPort) throw new InputError(`redis.url: sentinel "${entry}" is not host[:port]`);
    const port = hostPort[2] === undefined ? 26379 : Number(hostPort[2]);
    if (!(port > 0 && port < 65536)) throw new InputError(`redis.url: sentinel "${entry}": port ${hostPort[2]} is out of range`);
    return { host: hostPort[1]!.replace(/^\[|\]$/g, ''), port };
  });
  const options: RedisOptions = { sentinels, name: decodeURIComponent(name!) };
  if (userinfo) {
    const colon = userinfo.indexOf(':');
    const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
    if (user) options.username = user;
    if (colon >= 0) options.password = decodeURIComponent(userinfo.slice(colon + 1));
  }
  if (db !== undefined) options.db = Number(db);
  const params = new URLSearchParams(query ?? '');
  for (const key of params.keys()) {
    if (key !== 'sentinelPassword' && key !== 'sentinelUsername') throw new InputError(`redis.url: unknown option "${key}" (known: sentinelPassword, sentinelUsername)`);
  }
  if (params.has('sentinelPassword')) options.sentinelPassword = params.get('sentinelPassword')!;
  if (params.has('sentinelUsername')) options.sentinelUsername = params.get('sentinelUsername')!;
  if (scheme === 'rediss') {
    options.tls = {};
    options.sentinelTLS = {};
    options.enableTLSForSentinelMode = true;
  }
  return { options };
}
