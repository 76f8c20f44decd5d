/**
 * Errors of @vaekit/runtime. `userError` is true when the caller's input is at fault (bad bundle,
 * bad argument): the CLI exits 2 for those and 1 for the rest.
 */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
  constructor(
    message: string,
    readonly userError = true,
  ) {
    super(message);
  }
}

/** A bundle that is missing, malformed, tampered with or unsupported. */
export class BundleError extends RuntimeError {
  override name = 'BundleError';
}

/** An argument that the API cannot accept (wrong length, NaN, non-positive count, unknown option). */
export class InputError extends RuntimeError {
  override name = 'InputError';
}
