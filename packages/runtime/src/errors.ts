/**
 * Errors of @vaekit/runtime. Every error extends core's `VaekitError`: `userError` is true when the
 * caller's input is at fault (bad bundle, bad argument), and the CLI exits 2 for those and 1 for the rest.
 * `BundleError` and `InputError` are core's (the bundle format and the decoding options live there).
 */
import { VaekitError, type VaekitErrorOptions } from '@vaekit/core';

export { BundleError, InputError, quote } from '@vaekit/core';

/** A failure of the runtime itself (a backend that cannot run, a disposed model). */
export class RuntimeError extends VaekitError {
  override name = 'RuntimeError';
  constructor(message: string, options: VaekitErrorOptions = {}) {
    super(message, options);
  }
}
