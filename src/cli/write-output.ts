import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, rename, unlink, open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputError } from '../errors.js';

export interface OutputTarget {
  /** Where the data ends up: a path, or `stdout`. */
  readonly description: string;
  /** Streams `source` to the target; a file appears only complete (temp file + rename). */
  write(source: Readable | AsyncIterable<Buffer | string>): Promise<{ bytes: number }>;
}

/**
 * Resolves `--output FILE|-` before any request is made, so a refused overwrite changes nothing
 * and costs no OX export. Like OX's exportuserfeedback, an existing file is never overwritten
 * unless --force; unlike it, a failed or interrupted export never leaves a half-written file.
 */
export function outputTarget(output: string | undefined, force: boolean): OutputTarget {
  if (output === undefined || output === '-') return stdoutTarget();
  const path = resolve(output);
  if (!force && existsSync(path)) throw new InputError(`--output ${output}: file exists (use --force to overwrite)`);
  if (!existsSync(dirname(path))) throw new InputError(`--output ${output}: directory ${dirname(path)} does not exist`);
  return {
    description: path,
    async write(source) {
      const temp = join(dirname(path), `.${basename(path)}.${randomUUID().slice(0, 8)}.part`);
      const counter = byteCounter();
      const handle = await open(temp, 'wx', 0o640);
      try {
        await pipeline(source, counter, handle.createWriteStream());
        await handle.sync().catch(() => undefined);
      } catch (err) {
        await handle.close().catch(() => undefined);
        await unlink(temp).catch(() => undefined);
        throw err;
      }
      await handle.close().catch(() => undefined);
      try {
        if (force) {
          await rename(temp, path);
        } else {
          // link() fails if the name appeared meanwhile: never overwrite what someone else wrote.
          await link(temp, path);
          await unlink(temp);
        }
      } catch (err) {
        await unlink(temp).catch(() => undefined);
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new InputError(`--output ${output}: file appeared while exporting (use --force to overwrite)`, { cause: err });
        throw err;
      }
      return { bytes: counter.bytes };
    },
  };
}

function stdoutTarget(): OutputTarget {
  return {
    description: 'stdout',
    async write(source) {
      const counter = byteCounter();
      try {
        await pipeline(source, counter, process.stdout, { end: false });
      } catch (err) {
        // `ox-batch feedback export | head` closes the pipe early: that is the reader's choice.
        if ((err as NodeJS.ErrnoException).code !== 'EPIPE') throw err;
      }
      return { bytes: counter.bytes };
    },
  };
}

function byteCounter(): Transform & { bytes: number } {
  const counter = new Transform({
    transform(chunk: Buffer | string, _encoding, callback) {
      counter.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      callback(null, chunk);
    },
  }) as Transform & { bytes: number };
  counter.bytes = 0;
  return counter;
}
