/**
 * The sentence VAE's use cases over the shared loop (`loop.ts`) with the text kind (`kinds/text.ts`):
 * train a fresh run (or the language-model baseline), resume one.
 */
import type { TextTrainConfig } from '@vaekit/core';
import { textKind, type TextEpochMetrics, type TextPretrainedReport } from './kinds/text.js';
import type { TextCorpus } from './data/text.js';
import { resumeRun, trainRun, type RunHooks, type RunResult } from './loop.js';
import type { TrainOptions } from './step.js';

export { loadTextCorpus, validateTextConfig, type LatentAdversarialAverages, type TextEpochMetrics, type TextTrainAverages } from './kinds/text.js';
export { TOKENIZER_FILE } from '@vaekit/core';
export { readRunTokenizer } from '@vaekit/core/node';

/** Callbacks through which text training reports progress (the library never prints). */
export type TextTrainHooks = RunHooks<{ corpus: TextCorpus['stats']; pretrained?: TextPretrainedReport }, TextEpochMetrics, { aggressive: boolean }>;

/** Outcome of a text training run. */
export type TextTrainResult = RunResult<TextEpochMetrics>;

/**
 * Trains a sentence VAE (or, with `model: 'lm'`, its language-model baseline) and writes the run
 * folder: `config.json`, `tokenizer.json`, `metrics.jsonl` and a checkpoint after every epoch.
 */
export async function trainTextVae(config: TextTrainConfig, runDir: string, hooks: TextTrainHooks = {}, options: TrainOptions = {}): Promise<TextTrainResult> {
  return trainRun(textKind, config, runDir, hooks, options);
}

/**
 * Continues a text run from its newest complete checkpoint (models, both optimizers, annealing step,
 * aggressive-phase and early-stopping state), up to `options.epochs` (default: the run's count). With
 * the same seed the result equals an uninterrupted run. The corpus is rebuilt and must give the same
 * vocabulary.
 */
export async function resumeTextVae(runDir: string, hooks: TextTrainHooks = {}, options: { epochs?: number } & TrainOptions = {}): Promise<TextTrainResult> {
  return resumeRun(runDir, hooks, options, textKind);
}
