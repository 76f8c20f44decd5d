/**
 * Sample quality of an image VAE (any training recipe): prior samples against held-out digits, in the
 * features of vaekit's own MNIST classifier. FID, improved precision and recall, the share of samples
 * the classifier labels with confidence >= 0.9, and the held-out negative ELBO.
 */
import * as tf from '@tensorflow/tfjs';
import { evalSeed, type ImageTrainConfig } from '@vaekit/core';
import { loadCheckpoint } from '../checkpoint.js';
import { loadImageSplit } from '../data/images.js';
import type { ImageSet } from '../data/mnist.js';
import { DataError } from '../errors.js';
import { evaluateImageVae, type ElboMetrics } from '../kinds/image.js';
import { loadMnistClassifier, type MnistClassifier, type MnistClassifierOptions } from './classifier.js';
import { confidentShare, fid, precisionRecall } from './fid.js';

/** The sample-quality numbers of an image model. */
export interface ImageSampleQuality {
  /** FID between prior samples and held-out digits (classifier features; lower is better). */
  fid: number;
  /** Share of samples inside the held-out digits' k-NN manifold. */
  precision: number;
  /** Share of held-out digits inside the samples' k-NN manifold. */
  recall: number;
  /** Share of samples the classifier labels with probability >= 0.9. */
  confident: number;
  /** The same share for the held-out digits (the ceiling a perfect model would reach). */
  confidentReal: number;
  /** Held-out negative ELBO and its terms, nats per image. */
  heldOut: ElboMetrics;
  /** Prior samples and held-out digits compared, k of the manifolds, the classifier's held-out accuracy. */
  samples: number;
  k: number;
  classifierAccuracy: number;
}

/** Options of {@link imageSampleQuality}. */
export interface ImageSampleQualityOptions {
  /** Prior samples (and held-out digits) compared; default 1,000 (at most the held-out count). */
  samples?: number;
  /** k of the precision/recall manifolds (default 3). */
  k?: number;
  /** Seed of the prior samples (default 0). */
  seed?: number;
  /** A loaded classifier (else one is loaded or trained with `classifier` options). */
  model?: MnistClassifier;
  classifier?: MnistClassifierOptions;
}

/** Bernoulli means (sigmoid of the logits) of `count` prior samples, seeded; flat `[count, pixels]`. */
export function priorSamples(decoder: tf.LayersModel, count: number, seed: number, batchSize = 500): Float32Array {
  const latent = decoder.inputs[0]!.shape[1] as number;
  const pixels = decoder.outputs[0]!.shape[1] as number;
  const out = new Float32Array(count * pixels);
  for (let start = 0, b = 0; start < count; start += batchSize, b++) {
    const n = Math.min(batchSize, count - start);
    tf.tidy(() => {
      const z = tf.randomNormal([n, latent], 0, 1, 'float32', evalSeed(seed, b));
      out.set(tf.sigmoid(decoder.apply(z) as tf.Tensor).dataSync(), start * pixels);
    });
  }
  return out;
}

function assertMnistShaped(pixels: number): void {
  if (pixels !== 784) {
    throw new DataError(`Image sample-quality metrics need 28x28 grey digits (the MNIST classifier's input), got ${pixels} values per image. Train on --data mnist to measure FID, precision and recall.`);
  }
}

/** Sample quality of `decoder`'s prior samples against `test` (28x28 grey digits); ELBO needs the encoder too. */
export async function imageSampleQuality(
  encoder: tf.LayersModel,
  decoder: tf.LayersModel,
  test: ImageSet,
  options: ImageSampleQualityOptions = {},
): Promise<ImageSampleQuality> {
  assertMnistShaped(test.pixels);
  const samples = Math.min(options.samples ?? 1000, test.count);
  const k = options.k ?? 3;
  const classifier = options.model ?? (await loadMnistClassifier(options.classifier));
  try {
    const real = classifier.run(test.images.subarray(0, samples * 784), samples);
    const fake = classifier.run(priorSamples(decoder, samples, options.seed ?? 0), samples);
    const { precision, recall } = precisionRecall(real.features, fake.features, k);
    return {
      fid: fid(real.features, fake.features),
      precision,
      recall,
      confident: confidentShare(fake.probs, 10),
      confidentReal: confidentShare(real.probs, 10),
      heldOut: evaluateImageVae(encoder, decoder, test, { seed: options.seed ?? 0 }),
      samples,
      k,
      classifierAccuracy: classifier.accuracy,
    };
  } finally {
    if (!options.model) classifier.dispose();
  }
}

/** {@link imageSampleQuality} of a run folder's newest checkpoint, on the run's own held-out split. */
export async function evaluateImageRun(runDir: string, options: ImageSampleQualityOptions = {}): Promise<ImageSampleQuality & { config: ImageTrainConfig; epoch: number }> {
  const checkpoint = await loadCheckpoint(runDir, { optimizer: false });
  try {
    const config = checkpoint.config as ImageTrainConfig;
    if (config.kind !== 'image') throw new DataError(`${runDir} is a ${String(config.kind)} run; image sample quality needs an image run.`);
    assertMnistShaped(config.image.height * config.image.width * config.image.channels);
    const split = await loadImageSplit(config);
    const quality = await imageSampleQuality(checkpoint.encoder!, checkpoint.decoder, split.test, options);
    return { ...quality, config, epoch: checkpoint.state.epoch };
  } finally {
    checkpoint.dispose();
  }
}
