/** Maps errors to one line on stderr and an exit code: 2 bad input or usage, 1 failure while running. */
import { CommanderError } from 'commander';

/** A usage or input problem found by the CLI itself. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly userError = true;
}

/** Error class names of the packages that always mean bad input (for errors without `userError`). */
const USER_ERROR_NAMES = new Set(['ExportError', 'UnsupportedLayerError', 'OnnxFormatError', 'BundleError', 'InputError', 'CheckpointError', 'DataError']);

/** Exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err && typeof err === 'object') {
    const flag = (err as { userError?: unknown }).userError;
    if (typeof flag === 'boolean') return flag ? 2 : 1;
    if (USER_ERROR_NAMES.has((err as Error).name)) return 2;
  }
  return 1;
}

/** Prints the error (one line, or the stack with `verbose`) and returns the exit code. */
export function reportError(err: unknown, verbose: boolean): number {
  const code = exitCodeFor(err);
  if (err instanceof CommanderError) return code; // commander already printed its message
  const message = err instanceof Error ? err.message : String(err);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  else process.stderr.write(`vaekit: ${message.split('\n')[0]}${code === 1 ? ' (run with --verbose for details)' : ''}\n`);
  return code;
}
