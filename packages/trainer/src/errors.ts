/** Base class of the trainer's errors. `userError` marks bad input or usage (the CLI exits 2). */
export class TrainerError extends Error {
  override name = 'TrainerError';
  constructor(
    message: string,
    readonly userError = true,
  ) {
    super(message);
  }
}

/** A checkpoint or run folder that is missing, incomplete or malformed. */
export class CheckpointError extends TrainerError {
  override name = 'CheckpointError';
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
    super(message, false);
  }
}
