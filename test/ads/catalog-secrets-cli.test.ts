/**
 * Catalog credentials never land in job data or Redis, through the real CLI against the
 * simulator and a catalog web server that wants Basic (or Bearer) auth:
 *  - a catalog URL with user info, or with a secret query parameter, in job params is refused
 *    with exit 2 naming the param, the value masked, nothing queued or recorded;
 *  - the credentials come from config secrets (ADS_CATALOG_PASSWORD_FILE, ADS_CATALOG_TOKEN_FILE)
 *    and appear nowhere in Redis or in the log;
 *  - a catalog over ads.maxCatalogBytes is refused with one line (file and web server).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCli, runCli } from '../cli/cli-kit.js';
import { AdsHarness } from './ads-fixture.js';

const PASSWORD = 'p@ss/w:rd?#1';
const TOKEN = 'tok-3f9a7c1e-secret';
const CATALOG = 'resellers:\n  acme:\n    packages:\n      gold: { config: { banner: g } }\n      silver: { config: { banner: s } }\n';

let h: AdsHarness;
let bundle: Awaited<ReturnType<typeof bundleCli>>;
let web: Server;
let webUrl: string;
const seen: string[] = [];

beforeAll(async () => {
  [h, bundle] = await Promise.all([AdsHarness.start(), bundleCli()]);
  web = createServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    const basic = `Basic ${Buffer.from(`cms:${PASSWORD}`).toString('base64')}`;
    if (req.url === '/basic/catalog.yaml' && req.headers.authorization === basic)
      return void res.writeHead(200, { 'content-type': 'application/yaml' }).end(CATALOG);
    if (req.url === '/bearer/catalog.yaml' && req.headers.authorization === `Bearer ${TOKEN}`) return void res.writeHead(200).end(CATALOG);
    if (req.url === '/endless.yaml') {
      // No Content-Length: only counting the bytes can stop it.
      res.writeHead(200, { 'content-type': 'application/yaml' });
      res.write('resellers:\n');
      const timer = setInterval(() => res.write(`# ${'x'.repeat(1000)}\n`), 1);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(req.url?.startsWith('/basic') || req.url?.startsWith('/bearer') ? 401 : 404).end();
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
}, 60_000);
afterAll(async () => {
  await new Promise((resolve) => web?.close(resolve));
  await h?.close();
  bundle?.dispose();
});

function cli(args: string[], env: Record<string, string> = {}) {
  const base = h.cliEnv();
  return runCli(bundle.entry, args, {
    OX_URL: base.OX_URL!,
    OX_USER: 'oxadmin',
    OX_PASSWORD: 'secret',
    REDIS_URL: base.REDIS_URL!,
    OXB_REDIS_PREFIX: base.OXB_REDIS_PREFIX!,
    OXB_CONFIG: '',
    LOG_LEVEL: 'debug',
    ...env,
  });
}

/** Every key and value under the test's prefix, as text. */
async function redisDump(): Promise<string> {
  const out: string[] = [];
  for (const key of await h.redis.keys(`${h.prefix}:*`)) {
    const type = await h.redis.type(key);
    out.push(key);
    if (type === 'string') out.push(String(await h.redis.get(key)));
    else if (type === 'hash') out.push(JSON.stringify(await h.redis.hgetall(key)));
    else if (type === 'list') out.push(JSON.stringify(await h.redis.lrange(key, 0, -1)));
    else if (type === 'set') out.push(JSON.stringify(await h.redis.smembers(key)));
    else if (type === 'zset') out.push(JSON.stringify(await h.redis.zrange(key, '0', '-1')));
    else if (type === 'stream') out.push(JSON.stringify(await h.redis.xrange(key, '-', '+')));
  }
  return out.join('\n');
}

const leaks = (text: string) => [PASSWORD, encodeURIComponent(PASSWORD), 'w:rd?#1', TOKEN].filter((s) => text.includes(s));

describe('catalog credentials', () => {
  it(
    'refuses a catalog URL carrying credentials in job params (run, enqueue, a schedule): exit 2, param named, value masked, nothing stored',
    { timeout: 90_000 },
    async () => {
      const cases: Array<[string, RegExp]> = [
        [
          `https://cms:${encodeURIComponent(PASSWORD)}@cms.example/catalog.yaml`,
          /params\.catalog: "https:\/\/\*\*\*@cms\.example\/catalog\.yaml" carries credentials \(URL user info\)/,
        ],
        [
          `https://cms:${PASSWORD}@cms.example/catalog.yaml`,
          /params\.catalog: "https:\/\/\*\*\*@cms\.example\/catalog\.yaml" carries credentials/,
        ],
        [
          `https://cms.example/catalog.yaml?v=2&access_token=${TOKEN}`,
          /params\.catalog: "https:\/\/cms\.example\/catalog\.yaml\?v=2&access_token=\*\*\*" carries a secret query parameter "access_token"/,
        ],
      ];
      for (const [i, [url, reason]] of cases.entries()) {
        for (const command of i === 0 ? ['run', 'enqueue'] : ['run']) {
          const refused = await cli([command, 'ads.sync', '--param', `catalog=${url}`]);
          expect(refused.code, `${command} ${url}: ${refused.stderr}`).toBe(2);
          expect(refused.stderr).toMatch(reason);
          expect(refused.stderr).toMatch(/ads\.catalogAuth/);
          expect(leaks(refused.stderr + refused.stdout.toString())).toEqual([]);
        }
      }
      // The same in a schedule of the config file: the daemon does not start.
      const config = join(h.dir, 'with-secret.yaml');
      await writeFile(
        config,
        `schedules:\n  ads-nightly:\n    job: ads.sync\n    cron: "0 4 * * *"\n    params: { catalog: "https://cms:${encodeURIComponent(PASSWORD)}@cms.example/catalog.yaml" }\n`,
      );
      const start = await cli(['start', '--role', 'worker', '--port', '0'], { OXB_CONFIG: config });
      expect(start.code).toBe(2);
      expect(start.stderr).toMatch(
        /schedule ads-nightly: params\.catalog: "https:\/\/\*\*\*@cms\.example\/catalog\.yaml" carries credentials/,
      );
      expect(leaks(start.stderr)).toEqual([]);
      expect(await redisDump()).not.toContain('cms.example'); // nothing queued, nothing recorded
    },
  );

  it(
    'reads an http(s) catalog with credentials from config secrets (*_FILE); they are nowhere in Redis or the log',
    { timeout: 90_000 },
    async () => {
      const passwordFile = join(h.dir, 'catalog-password');
      const tokenFile = join(h.dir, 'catalog-token');
      await writeFile(passwordFile, `${PASSWORD}\n`);
      await writeFile(tokenFile, `${TOKEN}\n`);

      const denied = await cli(['run', 'ads.sync', '--param', `catalog=${webUrl}/basic/catalog.yaml`]);
      expect(denied.code).toBe(2);
      expect(denied.stderr).toMatch(/HTTP 401, access denied \(credentials: ads\.catalogAuth/);

      const basic = await cli(['run', 'ads.sync', '--param', `catalog=${webUrl}/basic/catalog.yaml`], {
        ADS_CATALOG_USER: 'cms',
        ADS_CATALOG_PASSWORD_FILE: passwordFile,
      });
      expect(basic.code, basic.stderr).toBe(0);
      expect(JSON.parse(basic.stdout.toString())).toMatchObject({ status: 'done', result: { applied: { created: 2, failed: 0 } } });
      const bearer = await cli(['run', 'ads.sync', '--param', `catalog=${webUrl}/bearer/catalog.yaml`, '--force'], {
        ADS_CATALOG_TOKEN_FILE: tokenFile,
      });
      expect(bearer.code, bearer.stderr).toBe(0);
      expect(seen).toContain(`Bearer ${TOKEN}`);
      expect(Object.keys(h.sim.adConfigs().packages).sort()).toEqual(['acme/gold', 'acme/silver']);

      // Typed at the terminal (not job data), user info still works, percent-encoded; debug logs and the recorded sync show none of it.
      const typed = await cli([
        'ads',
        'apply',
        '--catalog',
        `http://cms:${encodeURIComponent(PASSWORD)}@${webUrl.slice(7)}/basic/catalog.yaml`,
        '--full',
        '--json',
      ]);
      expect(typed.code, typed.stderr).toBe(0);
      expect(leaks(typed.stderr + typed.stdout.toString())).toEqual([]);

      const stored = await redisDump();
      expect(stored).toContain('/basic/catalog.yaml'); // the run is recorded ...
      expect(leaks(stored)).toEqual([]); // ... without its credentials
      expect(leaks(basic.stderr + basic.stdout.toString() + bearer.stderr + bearer.stdout.toString())).toEqual([]);
    },
  );

  it(
    'refuses a catalog over ads.maxCatalogBytes with one line, from a file and from a web server that does not stop',
    { timeout: 60_000 },
    async () => {
      h.sim.resetRequests();
      const config = join(h.dir, 'small-cap.yaml');
      await writeFile(config, 'ads:\n  maxCatalogBytes: 2000\n');
      const big = await h.writeCatalog('big.yaml', {
        resellers: {
          acme: { packages: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, { config: { banner: `banner ${i}` } }])) },
        },
      });
      const file = await cli(['ads', 'plan', '--catalog', big], { OXB_CONFIG: config });
      expect(file.code).toBe(2);
      expect(file.stderr.trim()).toBe(
        `ox-batch: catalog ${big}: larger than ads.maxCatalogBytes (2000 bytes); check the catalog, or raise ads.maxCatalogBytes`,
      );
      const endless = await cli(['ads', 'plan', '--catalog', `${webUrl}/endless.yaml`], { OXB_CONFIG: config });
      expect(endless.code).toBe(2);
      expect(endless.stderr).toMatch(
        /^ox-batch: catalog http:\/\/127\.0\.0\.1:\d+\/endless\.yaml: larger than ads\.maxCatalogBytes \(2000 bytes\)/,
      );
      expect(h.adRequests()).toEqual([]);
    },
  );
});
