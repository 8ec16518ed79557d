/**
 * The OX client loads undici's Pool and request API from their own modules (src/ox/undici-pool.ts):
 * they must be the ones undici's index exports, with the request API on them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as undici from 'undici';
import { describe, expect, it } from 'vitest';
import { Pool } from '../../src/ox/undici-pool.js';
import { bundled } from '../helpers/bundle.js';
import { runChild } from '../helpers/child.js';

describe("undici's Pool without undici's index", () => {
  it('is the class undici exports', () => {
    expect(Pool).toBe(undici.Pool);
  });

  it("in a process that never loads undici's index, it has the request API and answers a request", async () => {
    const server = createServer((_req, res) => res.end('pong'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      // This test file imported undici's index, which adds the request API itself: a child shows the module alone.
      const module = await bundled(fileURLToPath(new URL('../../src/ox/undici-pool.ts', import.meta.url)));
      const script = `
        const { Pool } = await import(${JSON.stringify(module)});
        const { createRequire } = await import('node:module');
        const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => /undici[\\/]index\\.js$/.test(f));
        const pool = new Pool('http://127.0.0.1:${(server.address() as AddressInfo).port}');
        const answer = await pool.request({ method: 'GET', path: '/' });
        console.log(JSON.stringify({ loaded, status: answer.statusCode, body: await answer.body.text() }));
        await pool.close();`;
      const child = await runChild(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 30_000 });
      expect(child.code, child.stderr).toBe(0);
      expect(JSON.parse(child.stdout)).toEqual({ loaded: [], status: 200, body: 'pong' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
