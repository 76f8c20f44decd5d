/**
 * The feature network of the image sample-quality metrics: a small CNN trained by vaekit itself on the
 * MNIST digits (Inception weights, which FID normally uses, cannot be downloaded offline). Trained once
 * with a seeded loop, cached in a folder, and reused by every evaluation; its penultimate layer (64
 * ReLU units) gives the features of FID and precision/recall, its softmax the confident share.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRng, permutation } from '@vaekit/core';
import { tempSibling } from '@vaekit/core/node';
import { folderIO } from '@vaekit/core/tfjs';
import { loadMnist } from '../data/mnist.js';
import type { FeatureSet } from './fid.js';

/** How the classifier is trained; every field is part of its cache key. */
export interface MnistClassifierOptions {
  /** Folder of cached classifiers (default `$VAEKIT_CACHE` or `~/.cache/vaekit`). */
  cacheDir?: string;
  /** Passes over the training digits (default 4). */
  epochs?: number;
  /** Train on at most this many digits (0 = all 9,000 of the seed-42 split; for tests). */
  trainLimit?: number;
  /** Seed of the initialisation and shuffles (default 0). */
  seed?: number;
  /** Reports `(epoch, epochs)` while training a classifier that is not cached yet. */
  onTrainEpoch?: (epoch: number, epochs: number) => void;
}

/** Classifier outputs for a batch of images. */
export interface ClassifierOutputs {
  /** Penultimate-layer activations, `[count, 64]`. */
  features: FeatureSet;
  /** Softmax probabilities, `[count, 10]` row-major. */
  probs: Float32Array;
}

/** A trained MNIST classifier. Free it with {@link MnistClassifier.dispose}. */
export interface MnistClassifier {
  /** `x[B,784] -> [features[B,64], logits[B,10]]`. */
  model: tf.LayersModel;
  /** Accuracy on the 1,000 held-out digits of the seed-42 split. */
  accuracy: number;
  /** Where it is cached. */
  dir: string;
  /** Whether it was trained now (false: read from the cache). */
  trained: boolean;
  /** Features and class probabilities of `count` images (flat, 784 values in [0, 1] each). */
  run(images: Float32Array, count: number): ClassifierOutputs;
  dispose(): void;
}

/** Feature size of the classifier's penultimate layer. */
export const CLASSIFIER_FEATURES = 64;
const VERSION = 1;
const META = 'meta.json';
/** The split the classifier trains on: the default split of `vaekit train image` (seed 42, 1,000 held out). */
const SPLIT = { seed: 42, testFraction: 0.1 };

/** Default cache folder: `$VAEKIT_CACHE`, else `~/.cache/vaekit`. */
export function defaultCacheDir(): string {
  return process.env.VAEKIT_CACHE || path.join(os.homedir(), '.cache', 'vaekit');
}

function buildClassifier(seed: number): tf.LayersModel {
  let n = 0;
  const init = () => tf.initializers.heNormal({ seed: seed * 1000 + n++ });
  const x = tf.input({ shape: [784], name: 'x' });
  let h = tf.layers.reshape({ targetShape: [28, 28, 1] }).apply(x) as tf.SymbolicTensor;
  for (const filters of [16, 32]) {
    h = tf.layers.conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  }
  h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  const features = tf.layers.dense({ units: CLASSIFIER_FEATURES, activation: 'relu', kernelInitializer: init(), name: 'features' }).apply(h) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 10, kernelInitializer: init(), name: 'logits' }).apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: [features, logits], name: 'mnist_classifier' });
}

function runModel(model: tf.LayersModel, images: Float32Array, count: number, batchSize = 500): ClassifierOutputs {
  const features = new Float32Array(count * CLASSIFIER_FEATURES);
  const probs = new Float32Array(count * 10);
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    tf.tidy(() => {
      const x = tf.tensor2d(images.subarray(start * 784, (start + n) * 784), [n, 784]);
      const [f, l] = model.apply(x) as tf.Tensor[];
      features.set(f!.dataSync(), start * CLASSIFIER_FEATURES);
      probs.set(tf.softmax(l!).dataSync(), start * 10);
    });
  }
  return { features: { values: features, count, dim: CLASSIFIER_FEATURES }, probs };
}

function accuracyOf(probs: Float32Array, labels: Uint8Array): number {
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) if (probs[i * 10 + c]! > probs[i * 10 + best]!) best = c;
    if (best === labels[i]) right++;
  }
  return right / labels.length;
}

/**
 * The MNIST classifier for these options: read from the cache, or trained (seeded, so the same options
 * always give the same weights) and cached atomically.
 */
export async function loadMnistClassifier(options: MnistClassifierOptions = {}): Promise<MnistClassifier> {
  const epochs = options.epochs ?? 4;
  const trainLimit = options.trainLimit ?? 0;
  const seed = options.seed ?? 0;
  const dir = path.join(options.cacheDir ?? defaultCacheDir(), `mnist-classifier-v${VERSION}-e${epochs}-n${trainLimit}-s${seed}`);
  const wrap = (model: tf.LayersModel, accuracy: number, trained: boolean): MnistClassifier => ({
    model,
    accuracy,
    dir,
    trained,
    run: (images, count) => runModel(model, images, count),
    dispose: () => model.dispose(),
  });
  const meta = await fs.readFile(path.join(dir, META), 'utf8').then((s) => JSON.parse(s) as { accuracy: number; version: number }, () => undefined);
  if (meta?.version === VERSION) return wrap(await tf.loadLayersModel(folderIO(dir)), meta.accuracy, false);

  const split = await loadMnist({ ...SPLIT, trainLimit });
  const model = buildClassifier(seed);
  const optimizer = tf.train.adam(1e-3);
  const batchSize = 64;
  const { train } = split;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const order = permutation(train.count, createRng(seed * 7919 + epoch));
      for (let start = 0; start < train.count; start += batchSize) {
        const rows = order.slice(start, start + batchSize);
        tf.tidy(() => {
          const data = new Float32Array(rows.length * 784);
          rows.forEach((r, i) => data.set(train.images.subarray(r * 784, (r + 1) * 784), i * 784));
          const x = tf.tensor2d(data, [rows.length, 784]);
          const y = tf.oneHot(tf.tensor1d(rows.map((r) => train.labels[r]!), 'int32'), 10);
          optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, (model.apply(x, { training: true }) as tf.Tensor[])[1]!) as tf.Scalar);
        });
      }
      options.onTrainEpoch?.(epoch, epochs);
    }
    const accuracy = accuracyOf(runModel(model, split.test.images, split.test.count).probs, split.test.labels);
    const tmp = tempSibling(dir, false);
    await fs.mkdir(tmp, { recursive: true });
    await model.save(folderIO(tmp));
    await fs.writeFile(path.join(tmp, META), JSON.stringify({ version: VERSION, accuracy, epochs, trainLimit, seed }) + '\n');
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(tmp, dir);
    return wrap(model, accuracy, true);
  } catch (err) {
    model.dispose();
    throw err;
  } finally {
    optimizer.dispose();
  }
}
