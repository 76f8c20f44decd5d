/** The training loop of the image VAE. */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createRng, evalSeed, noiseSeed, permutation, shuffleSeed } from '@vaekit/core';
import type { ImageTrainConfig } from '@vaekit/core';
import { METRICS_FILE, loadCheckpoint, saveCheckpoint, writeConfig, type TrainState } from './checkpoint.js';
import { loadMnist, type ImageSet } from './data/mnist.js';
import { CheckpointError, NonFiniteLossError, TrainerError } from './errors.js';
import { guardedStep, restoreAdam, type TrainOptions } from './step.js';
import { removeStaleTemps } from '@vaekit/core/node';
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
  /** Batches skipped because of non-finite values (`nonFinite: 'skip'`); absent when none. */
  skippedBatches?: number;
}

/** Callbacks through which training reports progress (the library never prints). */
export interface TrainHooks {
  /** Called once before the first epoch with the data sizes and the run's total epoch count. */
  onStart?(info: { trainCount: number; testCount: number; batchesPerEpoch: number; epochs: number }): void;
  /** Called after every optimizer step. */
  onBatch?(info: { epoch: number; batch: number; batches: number; loss: number }): void;
  /** Called after every epoch, once its checkpoint is written. */
  onEpoch?(metrics: EpochMetrics): void;
  /** Called when a batch is skipped because its loss or gradients were not finite (`nonFinite: 'skip'`). */
  onSkip?(info: { epoch: number; batch: number; loss: number }): void;
}

export type { NonFinitePolicy, TrainOptions } from './step.js';

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

async function runEpochs(run: TrainingRun, hooks: TrainHooks, options: TrainOptions): Promise<TrainResult> {
  const { config, runDir, encoder, decoder, optimizer, history } = run;
  const policy = options.nonFinite ?? 'stop';
  if (policy !== 'stop' && policy !== 'skip') {
    throw new TrainerError(`Unsupported non-finite policy "${String(policy)}". Should be one of: stop, skip.`);
  }
  const maxSkips = options.maxConsecutiveSkips ?? 20;
  let consecutiveSkips = 0;
  try {
    return await epochLoop();
  } finally {
    // Training that stops (an error) must not leak the models' and optimizer's tensors either.
    optimizer.dispose();
    encoder.dispose();
    decoder.dispose();
  }

  async function epochLoop(): Promise<TrainResult> {
    const started = performance.now() - run.priorSeconds * 1000;
    const split = await loadMnist({ seed: config.seed, testFraction: config.testFraction, trainLimit: config.trainLimit });
    const batches = Math.ceil(split.train.count / config.batchSize);
    hooks.onStart?.({ trainCount: split.train.count, testCount: split.test.count, batchesPerEpoch: batches, epochs: config.epochs });

    let step = run.step;
    for (let epoch = run.epoch + 1; epoch <= config.epochs; epoch++) {
      const epochStart = performance.now();
      // Shuffles and noise depend only on (seed, epoch, step), so a resumed run repeats an uninterrupted one.
      const order = permutation(split.train.count, createRng(shuffleSeed(config.seed, epoch)));
      let recon = 0;
      let kl = 0;
      let n = 0;
      let skipped = 0;
      for (let b = 0; b < batches; b++) {
        const rows = order.slice(b * config.batchSize, (b + 1) * config.batchSize);
        const x = batchTensor(split.train, rows);
        const eps = tf.randomNormal([rows.length, config.latent], 0, 1, 'float32', noiseSeed(config.seed, step)) as tf.Tensor2D;
        let sums: tf.Tensor | undefined;
        let result: { loss: number; applied: boolean };
        try {
          result = await guardedStep(optimizer, () => {
            const terms = elboTerms(encoder, decoder, x, eps, true);
            sums = tf.keep(tf.stack([terms.reconstruction.sum(), terms.kl.sum()]));
            return vaeLoss(terms, config.beta);
          });
        } finally {
          tf.dispose([x, eps]);
        }
        const [r, k] = await sums!.data();
        tf.dispose(sums!);
        // The step counter advances for skipped batches too: noise seeds stay tied to (seed, step).
        step++;
        if (!result.applied) {
          const what = Number.isFinite(result.loss) ? 'a gradient is not finite' : `the loss is ${result.loss}`;
          const where = `epoch ${epoch}, batch ${b + 1} of ${batches}`;
          const kept = epoch > 1 ? `the last complete checkpoint (epoch ${epoch - 1}) is kept` : 'no checkpoint was written yet';
          if (policy === 'stop') {
            throw new NonFiniteLossError(
              `Training stopped: ${what} at ${where}; ${kept}. Lower the learning rate, or skip such batches (vaekit: --skip-nonfinite).`,
              epoch,
              b + 1,
              result.loss,
            );
          }
          skipped++;
          consecutiveSkips++;
          hooks.onSkip?.({ epoch, batch: b + 1, loss: result.loss });
          if (consecutiveSkips > maxSkips) {
            throw new NonFiniteLossError(
              `Training stopped: ${consecutiveSkips} batches in a row were skipped (${what} at ${where}); ${kept}. Lower the learning rate.`,
              epoch,
              b + 1,
              result.loss,
            );
          }
          continue;
        }
        consecutiveSkips = 0;
        recon += r!;
        kl += k!;
        n += rows.length;
        hooks.onBatch?.({ epoch, batch: b + 1, batches, loss: result.loss });
      }
      if (n === 0) {
        throw new NonFiniteLossError(
          `Training stopped: every batch of epoch ${epoch} was skipped (non-finite loss or gradients); ${epoch > 1 ? `the last complete checkpoint (epoch ${epoch - 1}) is kept` : 'no checkpoint was written yet'}. Lower the learning rate.`,
          epoch,
          batches,
          Number.NaN,
        );
      }
      const test = evaluateImageVae(encoder, decoder, split.test, { seed: config.seed });
      if (!Number.isFinite(test.elbo)) {
        throw new NonFiniteLossError(
          `Training stopped: the held-out loss after epoch ${epoch} is ${test.elbo}; the last complete checkpoint (epoch ${epoch - 1}) is kept. Lower the learning rate.`,
          epoch,
          batches,
          test.elbo,
        );
      }
      const metrics: EpochMetrics = {
        epoch,
        train: { elbo: (recon + kl) / Math.max(1, n), reconstruction: recon / Math.max(1, n), kl: kl / Math.max(1, n) },
        test,
        seconds: (performance.now() - epochStart) / 1000,
        ...(skipped > 0 ? { skippedBatches: skipped } : {}),
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
    return { runDir, epochs: history, seconds: (performance.now() - started) / 1000 };
  }
}

/**
 * Trains an image VAE on MNIST and writes the run folder: `config.json`, `metrics.jsonl` and a
 * checkpoint (models, optimizer state, metrics) after every epoch.
 */
export async function trainImageVae(
  config: ImageTrainConfig,
  runDir: string,
  hooks: TrainHooks = {},
  options: TrainOptions = {},
): Promise<TrainResult> {
  validateImageConfig(config);
  const { encoder, decoder } = buildImageVae(config);
  await writeConfig(runDir, config);
  await fs.writeFile(path.join(runDir, METRICS_FILE), '');
  const optimizer = tf.train.adam(config.learningRate);
  return runEpochs({ config, runDir, encoder, decoder, optimizer, epoch: 0, step: 0, history: [], priorSeconds: 0 }, hooks, options);
}

/**
 * Continues a run from its newest complete checkpoint (models and optimizer state), up to `epochs`
 * (default: the run's configured count). With the same seed the result equals an uninterrupted run.
 */
export async function resumeImageVae(
  runDir: string,
  options: { epochs?: number } & TrainOptions = {},
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const checkpoint = await loadCheckpoint(runDir);
  const release = () => {
    checkpoint.encoder?.dispose();
    checkpoint.decoder.dispose();
    tf.dispose((checkpoint.optimizerWeights ?? []).map((w) => w.tensor));
    tf.dispose(Object.values(checkpoint.optimizerStates ?? {}).flatMap((ws) => ws.map((w) => w.tensor)));
  };
  if (checkpoint.config.kind !== 'image' || !checkpoint.encoder) {
    release();
    throw new CheckpointError(`${runDir} is a ${checkpoint.config.kind} run; resume it with \`vaekit train ${checkpoint.config.kind} --resume\`.`);
  }
  const config: ImageTrainConfig = { ...checkpoint.config, ...(options.epochs ? { epochs: options.epochs } : {}) };
  try {
    validateImageConfig(config);
  } catch (err) {
    release();
    if (err instanceof TrainerError && !options.epochs) throw new CheckpointError(`${path.join(runDir, 'config.json')}: ${err.message}`);
    throw err;
  }
  if (!checkpoint.optimizerWeights) {
    release();
    throw new CheckpointError(`The checkpoint in ${runDir} has no optimizer state, so it cannot be resumed exactly.`);
  }
  // Files half-written by a run that was killed (temporary names) are garbage now.
  await removeStaleTemps(runDir);
  await removeStaleTemps(path.join(runDir, 'checkpoints'));
  const optimizer = await restoreAdam(config.learningRate, checkpoint.optimizerWeights);
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
    options,
  );
}
