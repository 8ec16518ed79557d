import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { loadCatalog } from '../../src/ads/catalog-source.js';
import { InputError } from '../../src/errors.js';
import { startS3, type TestS3 } from '../delivery/helpers/s3-server.js';

const YAML = 'resellers:\n  acme:\n    packages:\n      gold: { config: { banner: g } }\n';

let web: Server;
let webUrl: string;
let s3: TestS3;

beforeAll(async () => {
  web = createServer((req, res) => {
    if (req.url === '/private/catalog.yaml') {
      if (req.headers.authorization !== `Basic ${Buffer.from('cms:s3cret').toString('base64')}`) return void res.writeHead(401).end();
      return void res.writeHead(200, { 'content-type': 'application/yaml' }).end(YAML);
    }
    if (req.url === '/flaky/catalog.yaml') return void res.writeHead(503).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  s3 = await startS3('oxb-ads-catalogs');
});

afterAll(async () => {
  await new Promise((resolve) => web.close(resolve));
  await s3.close();
});

describe('catalog sources', () => {
  it('reads http(s) catalogs, with Basic credentials from the URL that never show up in names or errors', async () => {
    const catalog = await loadCatalog(`http://cms:s3cret@${webUrl.slice(7)}/private/catalog.yaml`);
    expect(catalog.entries.map((e) => e.key)).toEqual(['package:acme/gold']);
    expect(catalog.source).not.toContain('s3cret');

    const denied = await loadCatalog(`http://cms:wrong@${webUrl.slice(7)}/private/catalog.yaml`).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(InputError);
    expect(String((denied as Error).message)).toMatch(/HTTP 401, access denied/);
    expect(String((denied as Error).message)).not.toContain('wrong');
    await expect(loadCatalog(`${webUrl}/missing.yaml`)).rejects.toBeInstanceOf(InputError);
    // A web server outage is not bad input: the scheduled job retries it.
    const flaky = await loadCatalog(`${webUrl}/flaky/catalog.yaml`, {
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 1000 },
    }).catch((e: unknown) => e);
    expect(flaky).toBeInstanceOf(Error);
    expect(flaky).not.toBeInstanceOf(InputError);
  });

  it('reads s3://bucket/key with the archive S3 settings; a missing object is an InputError', async () => {
    const settings = s3.archiveConfig();
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'ads/catalog.yaml', Body: YAML }));
    client.destroy();

    const catalog = await loadCatalog(`s3://${s3.bucket}/ads/catalog.yaml`, { s3: settings });
    expect(catalog.entries[0]).toMatchObject({ key: 'package:acme/gold', config: { banner: 'g' } });
    await expect(loadCatalog(`s3://${s3.bucket}/ads/none.yaml`, { s3: settings })).rejects.toThrow(/no such object/);
  });

  it("takes s3:// credentials from ads.catalogS3 before the archive's, and caps an S3 object at ads.maxCatalogBytes", async () => {
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'ads/own-keys.yaml', Body: YAML }));
    client.destroy();
    const wrongArchiveKeys = s3.archiveConfig({ accessKeyId: 'WRONG', secretAccessKey: 'WRONG' });
    const location = `s3://${s3.bucket}/ads/own-keys.yaml`;
    const ads = (over: object = {}) => ({
      catalogAuth: { user: undefined, password: undefined, token: undefined },
      catalogS3: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      maxCatalogBytes: 1_000_000,
      ...over,
    });
    await expect(loadCatalog(location, { s3: wrongArchiveKeys })).rejects.toThrow(/access denied by S3|Forbidden|signature/i);
    const catalog = await loadCatalog(location, { s3: wrongArchiveKeys, ads: ads() });
    expect(catalog.entries.map((e) => e.key)).toEqual(['package:acme/gold']);
    await expect(loadCatalog(location, { s3: wrongArchiveKeys, ads: ads({ maxCatalogBytes: 10 }) })).rejects.toThrow(
      `catalog ${location}: larger than ads.maxCatalogBytes (10 bytes); check the catalog, or raise ads.maxCatalogBytes`,
    );
  });

  it('names a local file that cannot be read', async () => {
    await expect(loadCatalog('/nonexistent/catalog.yaml')).rejects.toThrow(
      /catalog \/nonexistent\/catalog\.yaml: cannot be read \(ENOENT\)/,
    );
  });
});
