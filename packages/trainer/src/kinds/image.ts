/**
 * The image kind: dense and convolutional VAEs on MNIST digits (Bernoulli likelihood, closed-form KL).
 * Its training spec for the shared loop ({@link imageKind}), and its evaluation.
 */
import * as tf from '@tensorflow/tfjs';
import { evalSeed, noiseSeed, type ImageTrainConfig } from '@vaekit/core';
import type { Checkpoint } from '../checkpoint.js';
import { loadImageSplit } from '../data/images.js';
import type { ImageSet, ImageSplit } from '../data/mnist.js';
import { CheckpointError, TrainerError } from '../errors.js';
import { bernoulliNll, gaussianKl, reparameterize, vaeLoss, type ElboTerms } from '../losses.js';
import { denseVaeLossNative, nativeDenseVaeAvailable } from '../kernels/dense-vae.js';
import { buildImageVae, denseVaeParams } from '../models/image.js';
import { guardedStep, restoreAdam } from '../step.js';
import { DISCRIMINATOR, buildDiscriminator, validateImageAdversarial, vaeganStep, type VaeganModels } from '../adversarial/vaegan.js';
import type { TrainingKind } from './types.js';

/** Per-example averages over a data set, in nats. */
export interface ElboMetrics {
  /** Negative ELBO = reconstruction + KL (beta not applied). */
  elbo: number;
  reconstruction: number;
  kl: number;
}

/** Training averages of a VAE-GAN epoch (per image, over the applied batches). */
export interface AdversarialAverages {
  /** Reconstruction error in D's features (0.5 * squared error, summed). */
  feature: number;
  /** The decoder's "fool D" loss on a reconstruction plus a prior sample. */
  fool: number;
  /** D's loss (mean over the epoch's batches). */
  disc: number;
  /** Share of the batches whose D update was applied (balance control and skipped updates leave it out). */
  discUpdates: number;
}

/** One line of `metrics.jsonl`. */
export interface EpochMetrics {
  epoch: number;
  train: ElboMetrics & { adversarial?: AdversarialAverages };
  test: ElboMetrics;
  seconds: number;
  /** Batches skipped because of non-finite values (`nonFinite: 'skip'`); absent when none. */
  skippedBatches?: number;
}

function batchTensor(set: ImageSet, rows: number[]): tf.Tensor2D {
  const data = new Float32Array(rows.length * set.pixels);
  rows.forEach((r, i) => data.set(set.images.subarray(r * set.pixels, (r + 1) * set.pixels), i * set.pixels));
  return tf.tensor2d(data, [rows.length, set.pixels]);
}

/** Runs encoder, reparameterization and decoder; returns the per-example ELBO terms. */
export function elboTerms(
  encoder: tf.LayersModel,
  decoder: tf.LayersModel,
  x: tf.Tensor2D,
  eps: tf.Tensor2D,
  training = false,
): ElboTerms {
  const [mu, logvar] = encoder.apply(x, { training }) as tf.Tensor2D[];
  const z = reparameterize(mu!, logvar!, eps);
  const logits = decoder.apply(z, { training }) as tf.Tensor2D;
  return { reconstruction: bernoulliNll(logits, x), kl: gaussianKl(mu!, logvar!) };
}

/**
 * The training loss of one batch, `mean(reconstruction + beta * kl)`, and the batch's summed
 * reconstruction and KL (`sums [2]`, kept: the caller disposes it). A dense VAE on WASM with vaekit's
 * native kernels runs as one fused op with one gradient op (`kernels/dense-vae.ts`); anything else runs
 * {@link elboTerms} and `vaeLoss` as tfjs ops. Both compute the same numbers (native.test.ts).
 */
export function imageTrainingLoss(
  encoder: tf.LayersModel,
  decoder: tf.LayersModel,
  x: tf.Tensor2D,
  eps: tf.Tensor2D,
  beta: number,
): { loss: tf.Scalar; sums: tf.Tensor1D } {
  const fused = nativeDenseVaeAvailable() && x.dtype === 'float32' && eps.dtype === 'float32' ? denseVaeParams(encoder, decoder) : undefined;
  if (fused) return denseVaeLossNative(fused, x, eps, beta);
  const terms = elboTerms(encoder, decoder, x, eps, true);
  const sums = tf.keep(tf.stack([terms.reconstruction.sum(), terms.kl.sum()]) as tf.Tensor1D);
  return { loss: vaeLoss(terms, beta), sums };
}

/**
 * Negative ELBO, reconstruction and KL per example over `set`, with one seeded sample of z per example
 * (so repeated evaluations of the same model agree).
 */
export function evaluateImageVae(
  encoder: tf.LayersModel,
  decoder: tf.LayersModel,
  set: ImageSet,
  options: { batchSize?: number; seed?: number } = {},
): ElboMetrics {
  const batchSize = options.batchSize ?? 500;
  const latent = (encoder.outputs[0]!.shape[1] as number) ?? 0;
  let recon = 0;
  let kl = 0;
  for (let start = 0, b = 0; start < set.count; start += batchSize, b++) {
    const rows = Array.from({ length: Math.min(batchSize, set.count - start) }, (_, i) => start + i);
    const [r, k] = tf.tidy(() => {
      const x = batchTensor(set, rows);
      const eps = tf.randomNormal([rows.length, latent], 0, 1, 'float32', evalSeed(options.seed ?? 0, b)) as tf.Tensor2D;
      const t = elboTerms(encoder, decoder, x, eps);
      return [t.reconstruction.sum().dataSync()[0]!, t.kl.sum().dataSync()[0]!];
    });
    recon += r;
    kl += k;
  }
  return { elbo: (recon + kl) / set.count, reconstruction: recon / set.count, kl: kl / set.count };
}

/** Validates the numbers of a configuration; throws {@link TrainerError} naming the bad field. */
export function validateImageConfig(config: ImageTrainConfig): void {
  const positiveInts: Array<[string, number]> = [
    ['epochs', config.epochs],
    ['latent', config.latent],
    ['batchSize', config.batchSize],
    ...config.hidden.map((h, i): [string, number] => [`hidden[${i}]`, h]),
  ];
  for (const [name, v] of positiveInts) {
    if (!Number.isInteger(v) || v <= 0 || v > 1_000_000) {
      throw new TrainerError(`${name} must be a positive integer (at most 1000000), got ${v}.`);
    }
  }
  if (!(config.beta >= 0) || !Number.isFinite(config.beta)) throw new TrainerError(`beta must be >= 0, got ${config.beta}.`);
  if (!(config.learningRate > 0) || !Number.isFinite(config.learningRate)) {
    throw new TrainerError(`learningRate must be > 0, got ${config.learningRate}.`);
  }
  if (config.arch !== 'dense' && config.arch !== 'conv') {
    throw new TrainerError(`Unsupported architecture "${String(config.arch)}". Should be one of: dense, conv.`);
  }
  const { height, width, channels } = config.image;
  if (![height, width].every((v) => Number.isInteger(v) && v > 0 && v <= 4096)) {
    throw new TrainerError(`Image size must be a positive integer (at most 4096), got ${height}x${width}.`);
  }
  if (channels !== 1 && channels !== 3) throw new TrainerError(`Unsupported channel count ${channels}. Should be one of: 1, 3.`);
  // Two stride-2 convolutions and two stride-2 transposed convolutions give back the size only when it divides by 4.
  if (config.arch === 'conv' && (height % 4 !== 0 || width % 4 !== 0)) {
    throw new TrainerError(`The conv architecture needs an image size divisible by 4, got ${height}x${width}. Use a size such as ${Math.max(4, Math.round(height / 4) * 4)}, or --arch dense.`);
  }
  if (config.adversarial !== undefined) validateImageAdversarial(config.adversarial);
}

/** Models and optimizer of an image run (VAE-GAN runs: the discriminator and its optimizer too). */
export interface ImageModels {
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
  optimizer: tf.Optimizer;
  discriminator?: tf.LayersModel;
  discOptimizer?: tf.Optimizer;
}

interface ImageEpoch {
  recon: number;
  kl: number;
  feature: number;
  fool: number;
  disc: number;
  discUpdates: number;
  /** Applied batches. */
  batches: number;
  /** Examples of the applied batches. */
  n: number;
}

/** The image kind's training spec. */
export const imageKind: TrainingKind<ImageTrainConfig, ImageSplit, ImageModels, undefined, ImageEpoch, ElboMetrics, EpochMetrics, { trainCount: number; testCount: number }> = {
  kind: 'image',
  advice: 'Lower the learning rate',
  validate: validateImageConfig,
  // The MNIST digits, or the image folder the run names (config.dataset), shaped as config.image.
  loadData: (config) => loadImageSplit(config),
  build(config) {
    const { encoder, decoder } = buildImageVae(config);
    const adversarial = config.adversarial ? { discriminator: buildDiscriminator(config), discOptimizer: tf.train.adam(config.adversarial.discLearningRate) } : {};
    return { encoder, decoder, optimizer: tf.train.adam(config.learningRate), ...adversarial };
  },
  initialState: () => undefined,
  async restore(config, _data, checkpoint: Checkpoint, runDir) {
    if (!checkpoint.encoder) throw new CheckpointError(`The checkpoint in ${runDir} has no encoder.`);
    if (!checkpoint.optimizerWeights) throw new CheckpointError(`The checkpoint in ${runDir} has no optimizer state, so it cannot be resumed exactly.`);
    if (config.adversarial) {
      const discriminator = checkpoint.trainingModels?.[DISCRIMINATOR];
      const discState = checkpoint.optimizerStates?.[DISCRIMINATOR];
      if (!discriminator || !discState) throw new CheckpointError(`The checkpoint in ${runDir} has no discriminator (or its optimizer state), so this VAE-GAN run cannot be resumed exactly.`);
      const optimizer = await restoreAdam(config.learningRate, checkpoint.optimizerWeights);
      const discOptimizer = await restoreAdam(config.adversarial.discLearningRate, discState);
      return { encoder: checkpoint.encoder, decoder: checkpoint.decoder, optimizer, discriminator, discOptimizer };
    }
    const optimizer = await restoreAdam(config.learningRate, checkpoint.optimizerWeights);
    return { encoder: checkpoint.encoder, decoder: checkpoint.decoder, optimizer };
  },
  trainCount: (data) => data.train.count,
  startInfo: (run) => ({ trainCount: run.data.train.count, testCount: run.data.test.count }),
  beginEpoch: () => ({ recon: 0, kl: 0, feature: 0, fool: 0, disc: 0, discUpdates: 0, batches: 0, n: 0 }),
  async step(run, acc, ctx) {
    const { config, models } = run;
    const x = batchTensor(run.data.train, ctx.rows);
    if (config.adversarial) {
      try {
        const adversarialConfig = config as ImageTrainConfig & { adversarial: NonNullable<ImageTrainConfig['adversarial']> };
        const { sums, ...outcome } = await vaeganStep(models as VaeganModels, adversarialConfig, x, ctx.step, ctx.accept);
        if (outcome.applied) {
          acc.recon += sums.recon;
          acc.kl += sums.kl;
          acc.feature += sums.feature;
          acc.fool += sums.fool;
          acc.disc += sums.disc;
          acc.discUpdates += sums.discApplied;
          acc.batches++;
          acc.n += ctx.rows.length;
        }
        return outcome;
      } finally {
        x.dispose();
      }
    }
    const eps = tf.randomNormal([ctx.rows.length, config.latent], 0, 1, 'float32', noiseSeed(config.seed, ctx.step)) as tf.Tensor2D;
    let sums: tf.Tensor | undefined;
    let result: { loss: number; applied: boolean };
    try {
      result = await guardedStep(models.optimizer, () => {
        const out = imageTrainingLoss(models.encoder, models.decoder, x, eps, config.beta);
        sums = out.sums;
        return out.loss;
      });
    } finally {
      tf.dispose([x, eps]);
    }
    const [r, k] = await sums!.data();
    tf.dispose(sums!);
    if (result.applied) {
      acc.recon += r!;
      acc.kl += k!;
      acc.n += ctx.rows.length;
    }
    return result;
  },
  evaluate: async (run) => evaluateImageVae(run.models.encoder, run.models.decoder, run.data.test, { seed: run.config.seed }),
  heldOutLoss: (m) => m.elbo,
  metricsLine: (run, acc, test, info) => {
    const n = Math.max(1, acc.n);
    const batches = Math.max(1, acc.batches);
    const adversarial = run.config.adversarial ? { adversarial: { feature: acc.feature / n, fool: acc.fool / n, disc: acc.disc / batches, discUpdates: acc.discUpdates / batches } } : {};
    return {
      epoch: info.epoch,
      train: { elbo: (acc.recon + acc.kl) / n, reconstruction: acc.recon / n, kl: acc.kl / n, ...adversarial },
      test,
      seconds: info.seconds,
      ...(info.skippedBatches > 0 ? { skippedBatches: info.skippedBatches } : {}),
    };
  },
  stateMetrics: (m) => ({ elbo: m.elbo, reconstruction: m.reconstruction, kl: m.kl }),
  checkpoint: (run) => ({
    encoder: run.models.encoder,
    decoder: run.models.decoder,
    optimizer: run.models.optimizer,
    ...(run.models.discriminator && run.models.discOptimizer
      ? { trainingModels: { [DISCRIMINATOR]: run.models.discriminator }, optimizers: { [DISCRIMINATOR]: run.models.discOptimizer } }
      : {}),
  }),
  dispose(models) {
    models.discOptimizer?.dispose();
    models.discriminator?.dispose();
    models.optimizer.dispose();
    models.encoder.dispose();
    models.decoder.dispose();
  },
};
