/** Maps errors to one line on stderr and an exit code: 2 bad input or usage, 1 failure while running. */
import { VaekitError } from '@vaekit/core';
import { CommanderError } from 'commander';

/** A usage or input problem found by the CLI itself. */
export class UsageError extends VaekitError {
  override name = 'UsageError';
}

/** Exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  // Every vaekit package's errors extend core's VaekitError, which says whose fault it was.
  if (err instanceof VaekitError) return err.userError ? 2 : 1;
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
