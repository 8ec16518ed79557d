import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** One buffer, reused: reading back a multi-GB artifact allocates nothing per chunk. */
const READ_BUFFER_BYTES = 1024 * 1024;

/** Size and SHA-256 of a file as it is on disk now. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<{ bytes: number; sha256: string }> {
  const handle = await open(path, 'r');
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}
