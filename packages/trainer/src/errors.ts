/**
 * The trainer's errors. Every error extends core's `VaekitError`: `userError` marks bad input or usage
 * (the CLI exits 2). `CheckpointError` (a run folder that is missing or malformed) is core's, as the
 * run folder format lives there.
 */
import { VaekitError, type VaekitErrorOptions } from '@vaekit/core';

export { CheckpointError } from '@vaekit/core';

/** Base class of the trainer's own errors. */
export class TrainerError extends VaekitError {
  override name = 'TrainerError';
  constructor(message: string, options: VaekitErrorOptions = {}) {
    super(message, options);
  }
}

/** Training data that is missing or cannot be used. */
export class DataError extends TrainerError {
  override name = 'DataError';
}

/** Training met a NaN or infinite loss or gradient and stopped; the newest checkpoint is the last good one. */
export class NonFiniteLossError extends TrainerError {
  override name = 'NonFiniteLossError';
  constructor(
    message: string,
    /** Epoch and 1-based batch where it happened. */
    readonly epoch: number,
    readonly batch: number,
    /** The loss value (NaN, Infinity, or finite when only the gradients were bad). */
    readonly loss: number,
  ) {
    super(message, { userError: false });
  }
}
