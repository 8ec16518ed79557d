#!/usr/bin/env -S node --max-semi-space-size=2
// The shebang carries the V8 setting the memory figures are measured with (README, "Memory and
// speed"): a 2 MB young generation makes V8 scavenge, and so release the network buffers a long
// export streams through, far more often (peak RSS ~40 MB lower). `env -S` (GNU coreutils >= 8.30,
// BSD/macOS) passes it on; the npm bin, npx and the image's ENTRYPOINT all run this line. The
// settings V8 takes at run time come first of all imports (v8-settings.ts).
import '../v8-settings.js';
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from '../errors.js';
import { registerCommands } from './commands/index.js';
import { toolVersion } from '../version.js';

const program = new Command('ox-batch')
  .description('Scheduled, windowed, retried batch work for Open-Xchange App Suite')
  .version(toolVersion())
  .option('-c, --config <file>', 'YAML config layered over config/default.yaml (or OXB_CONFIG)')
  .exitOverride();

registerCommands(program);

// Traces only when OTEL_EXPORTER_OTLP_ENDPOINT is set: the SDK is loaded then, never for --help.
const tracing =
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    ? await import('../telemetry/tracing.js')
    : undefined;
await tracing?.startTracing();

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander's own error (it has printed its message): help and version exit 0, every other
    // one is a usage error, as an InputError would be. Its `exitCode` is commander's (1), not ours.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    throw err;
  }
} finally {
  await tracing?.stopTracing();
}
