/**
 * The image VAE's use cases over the shared loop (`loop.ts`) with the image kind (`kinds/image.ts`):
 * train a fresh run, resume one.
 */
import type { ImageTrainConfig } from '@vaekit/core';
import { imageKind, type EpochMetrics } from './kinds/image.js';
import { resumeRun, trainRun, type RunHooks, type RunResult } from './loop.js';
import type { TrainOptions } from './step.js';

export { elboTerms, evaluateImageVae, validateImageConfig, type AdversarialAverages, type ElboMetrics, type EpochMetrics } from './kinds/image.js';
export type { NonFinitePolicy, TrainOptions } from './step.js';

/** Callbacks through which image training reports progress (the library never prints). */
export type TrainHooks = RunHooks<{ trainCount: number; testCount: number }, EpochMetrics>;

/** Outcome of an image training run. */
export type TrainResult = RunResult<EpochMetrics>;

/**
 * Trains an image VAE on MNIST and writes the run folder: `config.json`, `metrics.jsonl` and a
 * checkpoint (models, optimizer state, metrics) after every epoch.
 */
export async function trainImageVae(config: ImageTrainConfig, runDir: string, hooks: TrainHooks = {}, options: TrainOptions = {}): Promise<TrainResult> {
  return trainRun(imageKind, config, runDir, hooks, options);
}

/**
 * Continues an image run from its newest complete checkpoint (models and optimizer state), up to
 * `options.epochs` (default: the run's configured count). With the same seed the result equals an
 * uninterrupted run.
 */
export async function resumeImageVae(runDir: string, hooks: TrainHooks = {}, options: { epochs?: number } & TrainOptions = {}): Promise<TrainResult> {
  return resumeRun(runDir, hooks, options, imageKind);
}
