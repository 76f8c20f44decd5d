/** The training loop of the image VAE. */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createRng, permutation } from '@vaekit/runtime/rng';
import type { ImageTrainConfig } from './config.js';
import { METRICS_FILE, loadCheckpoint, saveCheckpoint, writeConfig, type TrainState } from './checkpoint.js';
import { loadMnist, type ImageSet } from './data/mnist.js';
import { CheckpointError, TrainerError } from './errors.js';
import { bernoulliNll, gaussianKl, reparameterize, vaeLoss, type ElboTerms } from './losses.js';
import { buildImageVae } from './models/image.js';

/** Per-example averages over a data set, in nats. */
export interface ElboMetrics {
  /** Negative ELBO = reconstruction + KL (beta not applied). */
  elbo: number;
  reconstruction: number;
  kl: number;
}

/** One line of `metrics.jsonl`. */
export interface EpochMetrics {
  epoch: number;
  train: ElboMetrics;
  test: ElboMetrics;
  seconds: number;
}

/** Callbacks through which training reports progress (the library never prints). */
export interface TrainHooks {
  /** Called once before the first epoch with the data sizes and the run's total epoch count. */
  onStart?(info: { trainCount: number; testCount: number; batchesPerEpoch: number; epochs: number }): void;
  /** Called after every optimizer step. */
  onBatch?(info: { epoch: number; batch: number; batches: number; loss: number }): void;
  /** Called after every epoch, once its checkpoint is written. */
  onEpoch?(metrics: EpochMetrics): void;
}

/** Outcome of a training run. */
export interface TrainResult {
  runDir: string;
  epochs: EpochMetrics[];
  seconds: number;
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
      const eps = tf.randomNormal([rows.length, latent], 0, 1, 'float32', (options.seed ?? 0) * 7919 + b) as tf.Tensor2D;
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
}

interface TrainingRun {
  config: ImageTrainConfig;
  runDir: string;
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
  optimizer: tf.Optimizer;
  /** Completed epochs and optimizer steps (0 for a fresh run). */
  epoch: number;
  step: number;
  history: EpochMetrics[];
  /** Seconds spent before this process (resumed runs). */
  priorSeconds: number;
}

async function runEpochs(run: TrainingRun, hooks: TrainHooks): Promise<TrainResult> {
  const { config, runDir, encoder, decoder, optimizer, history } = run;
  const started = performance.now() - run.priorSeconds * 1000;
  const split = await loadMnist({ seed: config.seed, testFraction: config.testFraction, trainLimit: config.trainLimit });
  const batches = Math.ceil(split.train.count / config.batchSize);
  hooks.onStart?.({ trainCount: split.train.count, testCount: split.test.count, batchesPerEpoch: batches, epochs: config.epochs });

  let step = run.step;
  for (let epoch = run.epoch + 1; epoch <= config.epochs; epoch++) {
    const epochStart = performance.now();
    // Shuffles and noise depend only on (seed, epoch, step), so a resumed run repeats an uninterrupted one.
    const order = permutation(split.train.count, createRng(config.seed * 1_000_003 + epoch));
    let recon = 0;
    let kl = 0;
    for (let b = 0; b < batches; b++) {
      const rows = order.slice(b * config.batchSize, (b + 1) * config.batchSize);
      const x = batchTensor(split.train, rows);
      const eps = tf.randomNormal([rows.length, config.latent], 0, 1, 'float32', config.seed * 100_003 + step) as tf.Tensor2D;
      let sums: tf.Tensor | undefined;
      const loss = optimizer.minimize(() => {
        const terms = elboTerms(encoder, decoder, x, eps, true);
        sums = tf.keep(tf.stack([terms.reconstruction.sum(), terms.kl.sum()]));
        return vaeLoss(terms, config.beta);
      }, true);
      const lossValue = (await loss!.data())[0]!;
      const [r, k] = await sums!.data();
      tf.dispose([x, eps, loss!, sums!]);
      if (!Number.isFinite(lossValue)) {
        throw new TrainerError(
          `Training diverged: loss is ${lossValue} at epoch ${epoch}, batch ${b + 1}. The last good checkpoint is kept; try a lower learning rate.`,
          false,
        );
      }
      recon += r!;
      kl += k!;
      step++;
      hooks.onBatch?.({ epoch, batch: b + 1, batches, loss: lossValue });
    }
    const n = split.train.count;
    const metrics: EpochMetrics = {
      epoch,
      train: { elbo: (recon + kl) / n, reconstruction: recon / n, kl: kl / n },
      test: evaluateImageVae(encoder, decoder, split.test, { seed: config.seed }),
      seconds: (performance.now() - epochStart) / 1000,
    };
    history.push(metrics);
    const state: TrainState = {
      epoch,
      step,
      backend: tf.getBackend(),
      seconds: (performance.now() - started) / 1000,
      metrics: { elbo: metrics.test.elbo, reconstruction: metrics.test.reconstruction, kl: metrics.test.kl },
      history,
    };
    await saveCheckpoint(runDir, { encoder, decoder, state, optimizer });
    await fs.appendFile(path.join(runDir, METRICS_FILE), JSON.stringify(metrics) + '\n');
    hooks.onEpoch?.(metrics);
  }
  optimizer.dispose();
  encoder.dispose();
  decoder.dispose();
  return { runDir, epochs: history, seconds: (performance.now() - started) / 1000 };
}

/**
 * Trains an image VAE on MNIST and writes the run folder: `config.json`, `metrics.jsonl` and a
 * checkpoint (models, optimizer state, metrics) after every epoch.
 */
export async function trainImageVae(config: ImageTrainConfig, runDir: string, hooks: TrainHooks = {}): Promise<TrainResult> {
  validateImageConfig(config);
  const { encoder, decoder } = buildImageVae(config);
  await writeConfig(runDir, config);
  await fs.writeFile(path.join(runDir, METRICS_FILE), '');
  const optimizer = tf.train.adam(config.learningRate);
  return runEpochs({ config, runDir, encoder, decoder, optimizer, epoch: 0, step: 0, history: [], priorSeconds: 0 }, hooks);
}

/**
 * Continues a run from its newest complete checkpoint (models and optimizer state), up to `epochs`
 * (default: the run's configured count). With the same seed the result equals an uninterrupted run.
 */
export async function resumeImageVae(runDir: string, options: { epochs?: number } = {}, hooks: TrainHooks = {}): Promise<TrainResult> {
  const checkpoint = await loadCheckpoint(runDir);
  if (checkpoint.config.kind !== 'image' || !checkpoint.encoder) {
    throw new CheckpointError(`${runDir} is a ${checkpoint.config.kind} run; resume it with the ${checkpoint.config.kind} trainer.`);
  }
  const config: ImageTrainConfig = { ...checkpoint.config, ...(options.epochs ? { epochs: options.epochs } : {}) };
  validateImageConfig(config);
  if (!checkpoint.optimizerWeights) {
    throw new CheckpointError(`The checkpoint in ${runDir} has no optimizer state, so it cannot be resumed exactly.`);
  }
  const optimizer = tf.train.adam(config.learningRate);
  await optimizer.setWeights(checkpoint.optimizerWeights);
  tf.dispose(checkpoint.optimizerWeights.map((w) => w.tensor));
  const history = (checkpoint.state.history ?? []) as EpochMetrics[];
  await writeConfig(runDir, config);
  // Lines written after the checkpoint (a crash between the two writes) are dropped.
  await fs.writeFile(path.join(runDir, METRICS_FILE), history.map((m) => JSON.stringify(m) + '\n').join(''));
  return runEpochs(
    {
      config,
      runDir,
      encoder: checkpoint.encoder,
      decoder: checkpoint.decoder,
      optimizer,
      epoch: checkpoint.state.epoch,
      step: checkpoint.state.step,
      history,
      priorSeconds: checkpoint.state.seconds ?? 0,
    },
    hooks,
  );
}
