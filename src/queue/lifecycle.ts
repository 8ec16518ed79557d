/**
 * Signals of a running daemon: the first SIGTERM/SIGINT stops it gracefully (Daemon.stop: grace
 * period, abort, close with a timeout) and the process exits 0; a second signal exits at once.
 */
import type { Logger } from '../log/logger.js';

export interface Stoppable {
  stop(): Promise<void>;
}

export interface SignalOptions {
  /** Default process.exit. */
  exit?: (code: number) => void;
  signals?: NodeJS.Signals[];
}

/** Resolves with the exit code once the daemon stopped after a signal. */
export function stopOnSignals(daemon: Stoppable, log: Logger, options: SignalOptions = {}): Promise<number> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  return new Promise((resolve) => {
    let received: NodeJS.Signals | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        log.warn(
          { signal },
          'second signal: exiting now without waiting for running jobs (they return to the queue after the stall interval)',
        );
        exit(1);
        return;
      }
      received = signal;
      log.info({ signal }, 'signal received: shutting down gracefully (send it again to exit at once)');
      daemon.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    for (const signal of signals) process.on(signal, onSignal);
  });
}
