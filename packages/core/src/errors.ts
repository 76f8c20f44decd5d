/**
 * The one error base of every vaekit package. `userError` tells callers (the CLI) whether bad input or
 * usage caused the error (exit code 2) or something failed while running (exit code 1). Each package
 * extends it with its own classes (`TrainerError`, `ExportError`, `RuntimeError`); the errors of the
 * formats that live here (bundle, tokenizer, decoding options) are defined here.
 */
export class VaekitError extends Error {
  override name = 'VaekitError';
  /** True when bad input or usage caused the error (the CLI exits 2), false for a failure while running. */
  readonly userError: boolean;
  constructor(message: string, options: VaekitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.userError = options.userError ?? true;
  }
}

/** Options of {@link VaekitError}: who is at fault (default: the input) and the underlying error. */
export interface VaekitErrorOptions {
  userError?: boolean;
  cause?: unknown;
}

/** A bundle that is missing, malformed, tampered with or unsupported. */
export class BundleError extends VaekitError {
  override name = 'BundleError';
}

/** An argument that an API cannot accept (wrong length, NaN, non-positive count, unknown option). */
export class InputError extends VaekitError {
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
