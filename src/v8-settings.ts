/**
 * V8 settings that can still be made once the process runs, imported first by every entry point
 * (the CLI with the daemon and the simulator, the demo). The young generation's size cannot: it
 * is fixed when the heap is made, so `--max-semi-space-size=2` travels in the bin's shebang, the
 * npm scripts and the image's NODE_OPTIONS instead.
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

export const RUNTIME_V8_FLAGS = ['--liftoff-only'] as const;

for (const flag of RUNTIME_V8_FLAGS) setFlagsFromString(flag);
