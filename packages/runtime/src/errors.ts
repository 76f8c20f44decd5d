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

/**
 * A value quoted for an error message, shortened so a hostile or broken file cannot turn one clear line
 * into megabytes (`"xxxxxxxx…" (10000 characters)`).
 */
export function quote(value: unknown, max = 60): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
