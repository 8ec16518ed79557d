/**
 * V8 settings that can still be made once the process runs, and the one place that asks V8 to
 * collect garbage (streamedBufferReleaser). The settings are made on import, and every entry point
 * (the CLI with the daemon and the simulator, the demo) imports this module first. The young
 * generation's size cannot be set here: it is fixed when the heap is made, so
 * `--max-semi-space-size=2` travels in the bin's shebang, the npm scripts and the image's
 * NODE_OPTIONS instead.
 *
 * `--liftoff-only`: WebAssembly stays in V8's baseline compiler. The one module that matters is
 * undici's HTTP parser (llhttp); on a long export V8 re-compiles it with TurboFan in a background
 * thread, whose ~28 MB of compiler memory was the peak RSS of every `ox-batch run` (an empty
 * window: 131 MB with tier-up, 97 MB without) and kept the process alive ~80 ms after its work.
 * A 651 MB export took no longer with the baseline code (1.96-2.32 s either way): the parser
 * only frames the body. It cannot go into NODE_OPTIONS (Node refuses it there), and it applies
 * to WebAssembly compiled after this line, which is all of it: undici compiles llhttp on its
 * first request.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const RUNTIME_V8_FLAGS = ['--liftoff-only'] as const;

for (const flag of RUNTIME_V8_FLAGS) setFlagsFromString(flag);

/**
 * Streamed bytes after which a `streamedBufferReleaser` collects the young generation.
 *
 * Every socket or file read of a stream brings a new 64 KiB buffer whose memory lives outside
 * V8's heap. A long export creates hundreds of MB of them a second while allocating little on
 * the heap, so V8 collects only on "external memory pressure", measured about every 100 ms, by
 * when ~45 MB of dead buffers were still held: most of what an export added to the process's RSS
 * (651 MB window: peak 130 MB, 88 MB for an empty one). A young-generation collection every
 * 16 MiB (~40 per 651 MB, ~0.1 ms each) frees them as they die: peak 104-112 MB, no slower.
 * Buffers that live long enough to be promoted would need a full collection; none stream so
 * since the S3 archive reads its parts into reused buffers (lib-storage's part copies did).
 */
export const RELEASE_EVERY_BYTES = 16 * 1024 * 1024;

let collectYoung: (() => void) | undefined;

/**
 * Counts bytes a stream passed on and collects the young generation every RELEASE_EVERY_BYTES
 * (see above). One per stream: `const release = streamedBufferReleaser(); … release(chunk.length)`.
 */
export function streamedBufferReleaser(everyBytes = RELEASE_EVERY_BYTES): (bytes: number) => void {
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < everyBytes) return;
    since = 0;
    (collectYoung ??= youngCollector())();
  };
}

/** V8's `gc` function, made available once (the flag applies to contexts made after it). */
function youngCollector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
  return () => gc({ type: 'minor' });
}
