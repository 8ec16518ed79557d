import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisClient } from '../../src/redis/connection.js';
import { plainRedis, testPrefix } from '../daemon/helpers.js';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load-config.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log/logger.js';
import { OxClient } from '../../src/ox/ox-client.js';
import { OxSimulator } from '../../src/sim/ox-simulator.js';
import { syncAds, type AdsSyncRequest } from '../../src/ads/sync-ads.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface CatalogShape {
  resellers?: Record<string, { packages: Record<string, { config: unknown }> }>;
  users?: Array<{ contextId: number; userId?: number; login?: string; config: unknown }>;
}

/** A simulator, a Redis prefix of its own, an OX client and a scratch folder for catalogs. */
export class AdsHarness {
  private constructor(
    readonly sim: OxSimulator,
    readonly redis: RedisClient,
    readonly prefix: string,
    readonly config: Config,
    readonly ox: OxClient,
    readonly dir: string,
  ) {}

  static async start(ads: Partial<Config['ads']> = {}): Promise<AdsHarness> {
    const sim = await OxSimulator.start();
    const prefix = testPrefix();
    const config = loadConfig({
      env: {},
      overrides: {
        ox: {
          url: sim.url,
          user: 'oxadmin',
          password: 'secret',
          retry: { attempts: 5, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 2000 },
        },
        redis: { url: REDIS_URL, prefix },
        ads: { concurrency: 4, ratePerSecond: 0, ...ads },
      },
    });
    const redis = plainRedis();
    const dir = await mkdtemp(join(tmpdir(), 'oxbt-ads-'));
    return new AdsHarness(sim, redis, prefix, config, new OxClient(config.ox), dir);
  }

  /** Environment for a CLI child process pointed at this simulator and prefix. */
  cliEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      OX_URL: this.sim.url,
      OX_USER: 'oxadmin',
      OX_PASSWORD: 'secret',
      REDIS_URL,
      OXB_REDIS_PREFIX: this.prefix,
      LOG_LEVEL: 'warn',
      OXB_CONFIG: '',
    };
  }

  async writeCatalog(name: string, content: CatalogShape | string): Promise<string> {
    const path = join(this.dir, name);
    const text = typeof content === 'string' ? content : name.endsWith('.json') ? JSON.stringify(content, null, 2) : stringify(content);
    await writeFile(path, text);
    return path;
  }

  sync(request: AdsSyncRequest) {
    return syncAds(request, this.ox, { config: this.config, redis: this.redis, log: silentLogger() });
  }

  async appliedKeys(): Promise<string[]> {
    return (await this.redis.hkeys(`${this.prefix}:ads:applied`)).sort();
  }

  /** Advertisement requests the simulator answered since the last reset. */
  adRequests() {
    return this.sim.requests.filter((r) => r.path.startsWith('/advertisement/'));
  }

  async close(): Promise<void> {
    const keys = await this.redis.keys(`${this.prefix}:*`);
    if (keys.length > 0) await this.redis.del(...keys);
    await this.ox.close();
    await this.redis.quit();
    await this.sim.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The simulator's stores as the catalog should have made them. */
export function expectedStore(catalog: CatalogShape, logins: Record<string, number>) {
  const packages: Record<string, unknown> = {};
  for (const [reseller, { packages: list }] of Object.entries(catalog.resellers ?? {})) {
    for (const [name, { config }] of Object.entries(list)) packages[`${reseller || 'default'}/${name || 'default'}`] = config;
  }
  const users: Record<string, unknown> = {};
  for (const user of catalog.users ?? []) {
    const userId = user.userId ?? logins[`${user.contextId}/${user.login}`];
    users[`${user.contextId}/${userId}`] = user.config;
  }
  return { packages, users };
}
