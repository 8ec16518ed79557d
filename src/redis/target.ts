/**
 * Where Redis is, from the one `redis.url` setting: a server (`redis://`, `rediss://`, as ioredis
 * reads them), a Sentinel-managed primary, which ioredis finds and follows through failovers, or a
 * Redis Cluster, whose slots ioredis' `Cluster` follows through resharding and failovers:
 *
 *   redis+sentinel://[user:password@]host[:port][,host[:port]...]/primaryName[/db][?sentinelPassword=…]
 *   rediss+sentinel://…   the same over TLS (primary and sentinels)
 *   redis+cluster://[user:password@]host[:port][,host[:port]...][?slotsRefreshTimeout=ms]
 *   rediss+cluster://…    the same over TLS (every node)
 *
 * Sentinel: user/password are the primary's; the sentinels' own password, if any, goes in the
 * query; sentinel ports default to 26379. Cluster: the hosts are startup nodes (any few of the
 * cluster's nodes: ioredis learns the others from CLUSTER SLOTS), ports default to 6379, and the
 * credentials are every node's. A cluster has no databases, so a cluster URL has no /db.
 */
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { InputError } from '../errors.js';

const SENTINEL_URL = /^(rediss?)\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)(?:\/(\d+))?\/?(?:\?([^#]*))?$/;
const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?(?:\?([^#]*))?$/;

export interface ClusterTarget {
  nodes: Array<{ host: string; port: number }>;
  options: ClusterOptions;
}

export type RedisTarget = { url: string } | { options: RedisOptions } | { cluster: ClusterTarget };

export function isSentinelUrl(url: string): boolean {
  return /^rediss?\+sentinel:\/\//.test(url);
}

export function isClusterUrl(url: string): boolean {
  return /^rediss?\+cluster:\/\//.test(url);
}

/** The ioredis connection for a `redis.url`; InputError (one line, no secrets) when malformed. */
export function redisTarget(url: string): RedisTarget {
  if (isClusterUrl(url)) return { cluster: clusterTarget(url) };
  if (!isSentinelUrl(url)) return { url };
  const match = SENTINEL_URL.exec(url);
  if (!match)
    throw new InputError(
      'redis.url: expected redis+sentinel://host[:port][,host[:port]…]/primaryName[/db] (credentials of the primary before the first host)',
    );
  const [, scheme, userinfo, hosts, name, db, query] = match;
  const options: RedisOptions = {
    sentinels: hostList(hosts!, 26379, 'sentinel'),
    name: decodeURIComponent(name!),
    ...credentials(userinfo),
  };
  if (db !== undefined) options.db = Number(db);
  const params = knownParams(query, ['sentinelPassword', 'sentinelUsername']);
  if (params.has('sentinelPassword')) options.sentinelPassword = params.get('sentinelPassword')!;
  if (params.has('sentinelUsername')) options.sentinelUsername = params.get('sentinelUsername')!;
  if (scheme === 'rediss') {
    options.tls = {};
    options.sentinelTLS = {};
    options.enableTLSForSentinelMode = true;
  }
  return { options };
}

function clusterTarget(url: string): ClusterTarget {
  const match = CLUSTER_URL.exec(url);
  if (!match)
    throw new InputError(
      'redis.url: expected redis+cluster://host[:port][,host[:port]…] (credentials before the first host; a cluster has no /db)',
    );
  const [, scheme, userinfo, hosts, query] = match;
  const redisOptions: RedisOptions = credentials(userinfo);
  const options: ClusterOptions = { redisOptions };
  const params = knownParams(query, ['slotsRefreshTimeout']);
  if (params.has('slotsRefreshTimeout')) {
    const ms = Number(params.get('slotsRefreshTimeout'));
    if (!(Number.isInteger(ms) && ms > 0))
      throw new InputError(`redis.url: slotsRefreshTimeout "${params.get('slotsRefreshTimeout')}" is not a number of milliseconds`);
    options.slotsRefreshTimeout = ms;
  }
  if (scheme === 'rediss') {
    redisOptions.tls = {};
    // Managed TLS clusters (ElastiCache, Redis Enterprise) announce host names their
    // certificates carry: connect by name, not by the address it resolves to.
    options.dnsLookup = (address, callback) => callback(null, address);
  }
  return { nodes: hostList(hosts!, 6379, 'cluster node'), options };
}

function hostList(hosts: string, defaultPort: number, what: string): Array<{ host: string; port: number }> {
  return hosts.split(',').map((entry) => {
    const hostPort = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry.trim());
    if (!hostPort) throw new InputError(`redis.url: ${what} "${entry}" is not host[:port]`);
    const port = hostPort[2] === undefined ? defaultPort : Number(hostPort[2]);
    if (!(port > 0 && port < 65536)) throw new InputError(`redis.url: ${what} "${entry}": port ${hostPort[2]} is out of range`);
    return { host: hostPort[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

function credentials(userinfo: string | undefined): Pick<RedisOptions, 'username' | 'password'> {
  if (!userinfo) return {};
  const out: Pick<RedisOptions, 'username' | 'password'> = {};
  const colon = userinfo.indexOf(':');
  const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
  if (user) out.username = user;
  if (colon >= 0) out.password = decodeURIComponent(userinfo.slice(colon + 1));
  return out;
}

function knownParams(query: string | undefined, known: string[]): URLSearchParams {
  const params = new URLSearchParams(query ?? '');
  for (const key of params.keys()) {
    if (!known.includes(key)) throw new InputError(`redis.url: unknown option "${key}" (known: ${known.join(', ')})`);
  }
  return params;
}

/**
 * The hash tag of a key prefix: the text between its first `{` and the next `}`, when not empty
 * (Redis Cluster then hashes only that, so every key under the prefix shares one slot).
 */
export function hashTagOf(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1 ? prefix.slice(open + 1, close) : undefined;
}
