/**
 * Sample-quality metrics of a sentence model (any text decoder with a prior N(0, I)): how good and how
 * varied its prior samples are, as the text-GAN literature measures them (Zhao et al. 2018, ARAE;
 * Cífka et al. 2018):
 * - forward perplexity: the samples scored by a language model trained on real data (the text kind's
 *   baseline, `model: 'lm'`): low means fluent, real-looking samples;
 * - reverse perplexity: a language model of the same shape trained on the samples, scored on real
 *   held-out sentences: low means the samples cover the real distribution (it punishes mode dropping,
 *   which forward perplexity rewards);
 * - distinct-1/2 and self-BLEU of the samples (core's `distinctN`, `selfBleu`).
 * The reverse language model is trained through the text kind's own training spec and loop, on the
 * run's tokenizer, so its perplexity is in the same units as the baseline's.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRng, distinctN, selfBleu, type TextTrainConfig, type WordTokenizer } from '@vaekit/core';
import type { SentenceSet, TextCorpus } from '../data/text.js';
import { CheckpointError, TrainerError } from '../errors.js';
import { loadTextRun } from '../eval-text.js';
import { loadTextCorpus, textKind } from '../kinds/text.js';
import { loadCheckpoint } from '../checkpoint.js';
import { trainRun } from '../loop.js';
import { sampleLatents } from '../text-decode.js';
import { evaluateText } from '../text-vae.js';

/** Options of {@link textSampleQuality}. */
export interface TextSampleQualityOptions {
  /** Prior samples drawn (the reverse language model's training set). Default 10,000. */
  samples?: number;
  /** Seed of the prior draws and of the token sampling. Default 0. */
  seed?: number;
  /** Epochs of the reverse language model. Default 2. */
  reverseEpochs?: number;
  /** Samples used for self-BLEU (quadratic in this number). Default 500. */
  selfBleuSamples?: number;
  /** Where the reverse language model's run folder goes (default: a temporary folder, removed afterwards). */
  reverseRunDir?: string;
  /** Progress messages. */
  log?: (line: string) => void;
}

/** What {@link textSampleQuality} reports. */
export interface TextSampleQuality {
  samples: number;
  /** Perplexity of the samples under the baseline language model (absent without one). */
  forwardPpl?: number;
  /** Perplexity on the real test split of a language model trained on the samples. */
  reversePpl: number;
  reverseEpochs: number;
  /** Real sentences the reverse perplexity was scored on. */
  reverseTestSentences: number;
  distinct1: number;
  distinct2: number;
  /** Self-BLEU (0-100) over the first `selfBleuSamples` samples. */
  selfBleu: number;
  selfBleuSamples: number;
  /** Mean sample length in words. */
  meanLength: number;
  /** The first few samples, as text. */
  examples: string[];
}

/** The draw of the prior: row-major normals from one seeded RNG (the runtime's `samplePrior`). */
export function priorDraws(count: number, latent: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count * latent }, () => rng.normal());
}

/**
 * Draws `samples` sentences from the prior through `decoder` (sampling at temperature 1) and measures
 * them: forward perplexity under `baseline` (a language model on the same tokenizer, optional),
 * reverse perplexity (a language model shaped as `config`'s decoder, trained on the samples for
 * `reverseEpochs` and scored on `corpus.test`), distinct-1/2 and self-BLEU.
 */
export async function textSampleQuality(
  model: { config: TextTrainConfig; tokenizer: WordTokenizer; decoder: tf.LayersModel },
  corpus: TextCorpus,
  baseline: tf.LayersModel | undefined,
  options: TextSampleQualityOptions = {},
): Promise<TextSampleQuality> {
  const n = options.samples ?? 10_000;
  const seed = options.seed ?? 0;
  const reverseEpochs = options.reverseEpochs ?? 2;
  const bleuCount = Math.min(n, options.selfBleuSamples ?? 500);
  const { config, tokenizer, decoder } = model;
  if (!Number.isInteger(n) || n < 2) throw new TrainerError(`samples must be an integer of at least 2, got ${n}.`);
  if (!Number.isInteger(reverseEpochs) || reverseEpochs < 1) throw new TrainerError(`reverseEpochs must be a positive integer, got ${reverseEpochs}.`);
  if (!Number.isInteger(bleuCount) || bleuCount < 2) throw new TrainerError(`selfBleuSamples must be an integer of at least 2, got ${options.selfBleuSamples}.`);
  const log = options.log ?? (() => {});
  const seqLength = corpus.seqLength;

  log(`sampling ${n} sentences from the prior`);
  const latent = decoder.inputs[1]!.shape[1] as number;
  const ids = await sampleLatents(decoder, priorDraws(n, latent, seed), n, { seed });
  const set: SentenceSet = { ids: ids.map((r) => Int32Array.from(r)), text: ids.map((r) => tokenizer.decode(r)) };

  let forwardPpl: number | undefined;
  if (baseline) {
    log('forward perplexity: the samples under the baseline language model');
    forwardPpl = (await evaluateText({ decoder: baseline }, set, { seqLength, seed })).ppl;
  }

  // The reverse language model: the text kind's baseline recipe (same shape, same tokenizer), trained
  // on the samples through the shared loop; its validation split is the real one.
  const reverseConfig: TextTrainConfig = {
    ...config,
    model: 'lm',
    epochs: reverseEpochs,
    patience: 0,
    aggressive: 'off',
    data: { ...config.data, trainLimit: 0 },
  };
  delete reverseConfig.adversarial;
  delete reverseConfig.pretrained;
  delete reverseConfig.distill;
  const sampleCorpus: TextCorpus = { ...corpus, train: set };
  const dir = options.reverseRunDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'vaekit-reverse-lm-')));
  let reversePpl: number;
  try {
    log(`reverse perplexity: a language model trained on the samples for ${reverseEpochs} epochs`);
    await trainRun({ ...textKind, loadData: async () => sampleCorpus }, reverseConfig, dir);
    const checkpoint = await loadCheckpoint(dir, { optimizer: false });
    try {
      reversePpl = (await evaluateText({ decoder: checkpoint.decoder }, corpus.test, { seqLength, seed })).ppl;
    } finally {
      checkpoint.dispose();
    }
  } finally {
    if (!options.reverseRunDir) await fs.rm(dir, { recursive: true, force: true });
  }

  const text = set.text;
  return {
    samples: n,
    ...(forwardPpl !== undefined ? { forwardPpl } : {}),
    reversePpl,
    reverseEpochs,
    reverseTestSentences: corpus.test.ids.length,
    distinct1: distinctN(text, 1, { tokenize: 'none' }),
    distinct2: distinctN(text, 2, { tokenize: 'none' }),
    selfBleu: selfBleu(text.slice(0, bleuCount), { tokenize: 'none' }),
    selfBleuSamples: bleuCount,
    meanLength: ids.reduce((s, r) => s + r.length, 0) / n,
    examples: text.slice(0, 5),
  };
}

/**
 * {@link textSampleQuality} for the newest checkpoint of a sentence VAE run, its own test split as the
 * real data, and optionally a language-model baseline run (`vaekit train text --model lm`, same data
 * and vocabulary) for the forward perplexity.
 */
export async function evaluateTextSampleQuality(runDir: string, options: TextSampleQualityOptions & { baseline?: string } = {}): Promise<TextSampleQuality> {
  const run = await loadTextRun(runDir);
  let lm: Awaited<ReturnType<typeof loadTextRun>> | undefined;
  try {
    if (run.config.model !== 'vae') throw new TrainerError(`${runDir} is a language-model baseline: sample-quality metrics need a sentence VAE run (its prior).`);
    if (options.baseline) {
      lm = await loadTextRun(options.baseline);
      if (lm.config.model !== 'lm') throw new TrainerError(`The baseline ${options.baseline} is not a language-model baseline run (vaekit train text --model lm).`);
      if (lm.tokenizer.vocabulary.join('\n') !== run.tokenizer.vocabulary.join('\n')) {
        throw new TrainerError(`The baseline ${options.baseline} has another vocabulary than ${runDir}; train both on the same data and settings.`);
      }
    }
    const corpus = await loadTextCorpus(run.config);
    if (corpus.tokenizer.vocabulary.join('\n') !== run.tokenizer.vocabulary.join('\n')) {
      throw new CheckpointError(`The corpus ${run.config.data.source} no longer gives the run's vocabulary; was the data file changed?`);
    }
    return await textSampleQuality({ config: run.config, tokenizer: run.tokenizer, decoder: run.models.decoder }, corpus, lm?.models.decoder, options);
  } finally {
    lm?.dispose();
    run.dispose();
  }
}
