/**
 * Evaluation of a text run folder, as `vaekit eval` and the end of `vaekit train text` report it:
 * held-out metrics of the field plus qualitative samples, reconstructions and an interpolation.
 */
import * as tf from '@tensorflow/tfjs';
import { EOS_ID, createRng } from '@vaekit/core';
import type { WordTokenizer } from '@vaekit/core';
import { loadCheckpoint } from './checkpoint.js';
import type { TextTrainConfig } from '@vaekit/core';
import { loadSentences, type SentenceSet } from './data/text.js';
import { CheckpointError, DataError, TrainerError } from './errors.js';
import { decodeLatents } from './text-decode.js';
import { evaluateText, latentSizeOf, type TextEvalMetrics, type TextModels } from './text-vae.js';
import { loadTextCorpus, readRunTokenizer } from './train-text.js';

/** Options of {@link evaluateTextRun}. */
export interface TextRunEvalOptions {
  /** Evaluate on this source (`sotu` or a file) instead of the run's own test split; every sentence is used. */
  data?: string;
  /** Importance samples for the IW-NLL. Default 500. */
  k?: number;
  /** Evaluate at most this many sentences (0 = the whole test split). */
  limit?: number;
  /** Number of prior samples and reconstructions in the qualitative part (0 skips it). Default 5. */
  examples?: number;
  seed?: number;
  /**
   * Scales the prior's standard deviation for the prior samples (default 1), as the runtime's
   * `latentTemperature`; `temperature` always means the logits' temperature.
   */
  latentTemperature?: number;
  onProgress?: (done: number, total: number, stage: 'elbo' | 'iw') => void;
}

/** Qualitative output of a VAE run. */
export interface TextQualitative {
  /** Greedy decodes of z ~ N(0, latentTemperature^2 I), the runtime's `samplePrior(n, Z, seed)` draw. */
  priorGreedy: string[];
  /** Sampled decodes (logits temperature 1) of the same z: the runtime's `generate({ strategy: 'sample', seed })` tokens. */
  priorSampled: string[];
  /** Held-out sentences and the greedy decode of their posterior mean. */
  reconstructions: Array<{ input: string; output: string }>;
  /** Greedy decodes along the line between the posterior means of two held-out sentences. */
  interpolation: { from: string; to: string; steps: string[] };
}

/** What {@link evaluateTextRun} reports. */
export interface TextRunReport {
  runDir: string;
  model: 'vae' | 'lm';
  /** Where the sentences came from: the run's test split, or the `data` option. */
  data: string;
  metrics: TextEvalMetrics;
  qualitative?: TextQualitative;
}

/**
 * The text run of `runDir`: configuration, tokenizer, models. The optimizer state is not loaded; the
 * caller owns the models and frees them with `dispose()`.
 */
export async function loadTextRun(runDir: string): Promise<{ config: TextTrainConfig; tokenizer: WordTokenizer; models: TextModels; dispose(): void }> {
  const checkpoint = await loadCheckpoint(runDir, { optimizer: false });
  try {
    if (checkpoint.config.kind !== 'text') {
      throw new CheckpointError(`${runDir} is an ${checkpoint.config.kind} run; vaekit eval evaluates text runs.`);
    }
    const tokenizer = await readRunTokenizer(runDir);
    const models: TextModels =
      checkpoint.config.model === 'vae' && checkpoint.encoder ? { encoder: checkpoint.encoder, decoder: checkpoint.decoder } : { decoder: checkpoint.decoder };
    return { config: checkpoint.config, tokenizer, models, dispose: () => checkpoint.dispose() };
  } catch (err) {
    checkpoint.dispose();
    throw err;
  }
}

async function sentencesFor(config: TextTrainConfig, tokenizer: WordTokenizer, options: TextRunEvalOptions): Promise<{ set: SentenceSet; label: string }> {
  const limit = options.limit ?? 0;
  if (options.data === undefined) {
    const corpus = await loadTextCorpus(config);
    if (corpus.tokenizer.vocabulary.join('\n') !== tokenizer.vocabulary.join('\n')) {
      throw new CheckpointError(`The corpus ${config.data.source} no longer gives the run's vocabulary; was the data file changed?`);
    }
    const n = limit > 0 ? Math.min(limit, corpus.test.ids.length) : corpus.test.ids.length;
    return { set: { ids: corpus.test.ids.slice(0, n), text: corpus.test.text.slice(0, n) }, label: `${config.data.source} (test split, ${n} sentences)` };
  }
  const raw = await loadSentences(options.data);
  const ids: Int32Array[] = [];
  const text: string[] = [];
  for (const sentence of raw) {
    let row = tokenizer.encode(sentence);
    if (row.length === 0) continue;
    if (row.length > config.data.maxLength) {
      if (config.data.overLength === 'drop') continue;
      row = row.slice(0, config.data.maxLength);
    }
    ids.push(Int32Array.from(row));
    text.push(sentence);
    if (limit > 0 && ids.length >= limit) break;
  }
  if (ids.length === 0) {
    throw new DataError(`${options.data} has no sentence of 1 to ${config.data.maxLength} words (the run's maximum length).`);
  }
  return { set: { ids, text }, label: `${options.data} (${ids.length} sentences)` };
}

/** The runtime's prior draw (`samplePrior`): row-major normals from one seeded RNG, times `scale`. */
function priorLatents(count: number, latent: number, seed: number, scale: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count * latent }, () => rng.normal() * scale);
}

async function qualitative(
  models: Required<TextModels>,
  tokenizer: WordTokenizer,
  set: SentenceSet,
  examples: number,
  seed: number,
  latentTemperature: number,
): Promise<TextQualitative> {
  const latent = latentSizeOf(models.decoder);
  const T = models.decoder.inputs[0]!.shape[1] as number;
  const decode = (ids: number[][]) => ids.map((row) => tokenizer.decode(row));
  const prior = priorLatents(examples, latent, seed, latentTemperature);
  const priorGreedy = decode(await decodeLatents(models.decoder, prior, examples));
  const priorSampled = decode(await decodeLatents(models.decoder, prior, examples, { strategy: 'sample', seed }));
  const count = Math.min(examples, set.ids.length);
  const tokens = new Int32Array(count * T);
  for (let i = 0; i < count; i++) {
    const row = set.ids[i]!;
    tokens.set(row.subarray(0, T - 1), i * T);
    tokens[i * T + Math.min(row.length, T - 1)] = EOS_ID;
  }
  const muTensor = tf.tidy(() => (models.encoder.apply(tf.tensor2d(tokens, [count, T], 'int32')) as tf.Tensor[])[0]!);
  const mu = (await muTensor.data()) as Float32Array;
  muTensor.dispose();
  const recon = decode(await decodeLatents(models.decoder, mu, count));
  const steps = 5;
  const line = new Float32Array(steps * latent);
  const a = mu.subarray(0, latent);
  const b = mu.subarray(Math.min(1, count - 1) * latent, Math.min(2, count) * latent);
  for (let s = 0; s < steps; s++) {
    const t = s / (steps - 1);
    for (let d = 0; d < latent; d++) line[s * latent + d] = (1 - t) * a[d]! + t * b[d]!;
  }
  return {
    priorGreedy,
    priorSampled,
    reconstructions: recon.map((output, i) => ({ input: set.text[i]!, output })),
    interpolation: { from: set.text[0]!, to: set.text[Math.min(1, count - 1)]!, steps: decode(await decodeLatents(models.decoder, line, steps)) },
  };
}

/**
 * Evaluates the newest checkpoint of a text run on its test split (or on `options.data`): the
 * metrics of {@link evaluateText} with `k` importance samples, and for a VAE the qualitative part.
 */
export async function evaluateTextRun(runDir: string, options: TextRunEvalOptions = {}): Promise<TextRunReport> {
  const latentTemperature = options.latentTemperature ?? 1;
  if (!(latentTemperature > 0) || !Number.isFinite(latentTemperature)) {
    throw new TrainerError(`latentTemperature must be a positive number, got ${latentTemperature}.`);
  }
  const { config, tokenizer, models, dispose } = await loadTextRun(runDir);
  try {
    const seed = options.seed ?? config.seed;
    const { set, label } = await sentencesFor(config, tokenizer, options);
    const metrics = await evaluateText(models, set, {
      seqLength: config.data.maxLength + 1,
      k: options.k ?? 500,
      seed,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const examples = options.examples ?? 5;
    const report: TextRunReport = { runDir, model: config.model, data: label, metrics };
    if (models.encoder && examples > 0) {
      report.qualitative = await qualitative({ encoder: models.encoder, decoder: models.decoder }, tokenizer, set, examples, seed, latentTemperature);
    }
    return report;
  } finally {
    dispose();
  }
}
