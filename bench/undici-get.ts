/**
 * Baseline (a2) of the export benchmark: a plain Node/undici GET of the CSV export into a file,
 * hashing it with SHA-256 on the way (what any export must do at least). Whole process:
 * `node dist/bench/undici-get.js URL FILE` (Basic auth oxadmin:secret, the simulator's default).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';

const [url, file] = process.argv.slice(2);
const answer = await request(url!, { headers: { authorization: `Basic ${Buffer.from('oxadmin:secret').toString('base64')}` } });
if (answer.statusCode !== 200) throw new Error(`HTTP ${answer.statusCode}`);
const hash = createHash('sha256');
await pipeline(
  answer.body,
  new Transform({
    transform(chunk: Buffer, _e, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  }),
  createWriteStream(file!, { highWaterMark: 1024 * 1024 }),
);
process.stdout.write(`${hash.digest('hex')}\n`);
