/**
 * The seed contract that makes `--resume` exact. Everything random in a training run is drawn from a
 * generator seeded by one of these formulas, from the run's seed and a position that a checkpoint
 * records (the epoch, the optimizer step), never from state carried across batches. So a run resumed
 * from the checkpoint of epoch N draws the same shuffles and noise as an uninterrupted run from
 * epoch N + 1 on, and the two end with the same weights (tested per kind in the trainer).
 *
 * Rules for a kind: shuffle with {@link shuffleSeed}; draw the noise of optimizer step `step` (the
 * reparameterisation eps, word dropout) from {@link noiseSeed}; a kind that takes several updates for one
 * step (the encoder-only phase) adds the sub-step index: `noiseSeed(seed, step) + sub`, `sub` below
 * {@link SUBSTEPS_PER_STEP}; evaluation draws from {@link evalSeed}. The step counter advances for
 * skipped (non-finite) batches too, so seeds stay tied to positions.
 */

/** How many seeds one optimizer step owns (the step's own and its sub-steps'). */
export const SUBSTEPS_PER_STEP = 101;

/** Seed of the shuffle of epoch `epoch` (1-based). */
export function shuffleSeed(seed: number, epoch: number): number {
  return seed * 1_000_003 + epoch;
}

/** Seed of the noise of optimizer step `step` (0-based, counted over the whole run). */
export function noiseSeed(seed: number, step: number): number {
  return seed * 100_003 + step * SUBSTEPS_PER_STEP;
}

/** Seed of the noise of evaluation batch `batch` (the same every epoch, so evaluations compare). */
export function evalSeed(seed: number, batch: number): number {
  return seed * 7919 + batch;
}
