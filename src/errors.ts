/**
 * Exit codes every command shares: 0 success, 1 the server or network failed (after retries),
 * 2 usage or input error (nothing was changed).
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * Bad input from a person or a file: config, catalog, CLI arguments, job params.
 * Never retried; the message is one line that names the file/field/value.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  readonly exitCode = EXIT_USAGE;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A job ran and decided it must not go on (a refused purge, a guard tripped). Not retried. */
export class RefusedError extends Error {
  override readonly name = 'RefusedError';
  readonly exitCode = EXIT_USAGE;
}

export function isInputError(err: unknown): err is InputError | RefusedError {
  return err instanceof InputError || err instanceof RefusedError;
}
