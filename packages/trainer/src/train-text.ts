/**
 * The training loop of the sentence VAE: KL annealing, word dropout, free bits, the encoder-only
 * ("aggressive") phase of He et al. (2019), gradient clipping, early stopping, a checkpoint every epoch
 * and exact `--resume`. The language-model baseline (`model: 'lm'`) runs the same loop without encoder.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createRng, noiseSeed, permutation, shuffleSeed } from '@vaekit/core';
import { METRICS_FILE, loadCheckpoint, saveCheckpoint, writeConfig, type NamedTensor, type TrainState } from './checkpoint.js';
import { ANNEAL_SCHEDULES, TEXT_CELLS, TOKENIZER_FILE, type TextTrainConfig } from '@vaekit/core';
import { loadSentences, prepareCorpus, type TextCorpus } from './data/text.js';
import { CheckpointError, DataError, NonFiniteLossError, TrainerError } from './errors.js';
import { allFinite, restoreAdam, type TrainOptions } from './step.js';
import { readRunTokenizer, writeRunTokenizer } from '@vaekit/core/node';
import { buildTextVae } from './models/text.js';
import { klWeight } from './schedules.js';
import { evaluateText, textBatchTensors, textLoss, textTerms, type TextEvalMetrics, type TextModels } from './text-vae.js';

export { TOKENIZER_FILE } from '@vaekit/core';
export { readRunTokenizer } from '@vaekit/core/node';

/** Training-set averages of one epoch. */
export interface TextTrainAverages {
  /** Mean loss actually minimised (annealed, free bits). */
  loss: number;
  reconstruction: number;
  kl: number;
  /** KL weight (annealing times beta) at the end of the epoch. */
  klWeight: number;
}

/** One line of `metrics.jsonl` of a text run. */
export interface TextEpochMetrics {
  epoch: number;
  train: TextTrainAverages;
  valid: TextEvalMetrics;
  /** Whether the encoder-only phase ran during this epoch. */
  aggressive: boolean;
  /** Encoder-only updates made during this epoch. */
  encoderSteps: number;
  seconds: number;
  /** Batches skipped because of non-finite values (`nonFinite: 'skip'`); absent when none. */
  skippedBatches?: number;
}

/** Callbacks through which text training reports progress (the library never prints). */
export interface TextTrainHooks {
  /** Once, before the first epoch: corpus statistics and the work ahead. */
  onStart?(info: { corpus: TextCorpus['stats']; batchesPerEpoch: number; epochs: number; startEpoch: number }): void;
  onBatch?(info: { epoch: number; batch: number; batches: number; loss: number; aggressive: boolean }): void;
  /** Validation progress at the end of each epoch. */
  onEvalProgress?(done: number, total: number): void;
  onEpoch?(metrics: TextEpochMetrics): void;
  /** A notable event (aggressive phase ended, early stop). */
  onNotice?(message: string): void;
}

/** Outcome of a text training run. */
export interface TextTrainResult {
  runDir: string;
  epochs: TextEpochMetrics[];
  seconds: number;
  /** Why training ended before `config.epochs`, if it did. */
  stoppedEarly?: string;
}

/** Extra state of a text run, saved in each checkpoint's state.json. */
interface TextRunState {
  aggressiveOn: boolean;
  bestMi: number | null;
  bestValid: number | null;
  badEpochs: number;
}

/** Validates a text configuration; throws {@link TrainerError} naming the bad field and what is accepted. */
export function validateTextConfig(config: TextTrainConfig): void {
  const positiveInts: Array<[string, number]> = [
    ['epochs', config.epochs],
    ['latent', config.latent],
    ['batchSize', config.batchSize],
    ['embedding', config.embedding],
    ['hidden', config.hidden],
    ['maxLength', config.data.maxLength],
    ['maxVocab', config.data.maxVocab],
    ['minCount', config.data.minCount],
    ['aggressiveMaxSteps', config.aggressiveMaxSteps],
  ];
  for (const [name, v] of positiveInts) {
    if (!Number.isInteger(v) || v <= 0 || v > 1_000_000) throw new TrainerError(`${name} must be a positive integer (at most 1000000), got ${v}.`);
  }
  const nonNegative: Array<[string, number]> = [
    ['beta', config.beta],
    ['freeBits', config.freeBits],
    ['clipNorm', config.clipNorm],
    ['patience', config.patience],
    ['trainLimit', config.data.trainLimit],
    ['evalLimit', config.data.evalLimit],
  ];
  for (const [name, v] of nonNegative) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new TrainerError(`${name} must be a finite number >= 0, got ${v}.`);
  }
  if (!(config.learningRate > 0) || !Number.isFinite(config.learningRate)) throw new TrainerError(`learningRate must be > 0, got ${config.learningRate}.`);
  if (!(config.wordDropout >= 0 && config.wordDropout < 1)) throw new TrainerError(`wordDropout must be in [0, 1), got ${config.wordDropout}.`);
  for (const [name, v] of [['validFraction', config.data.validFraction], ['testFraction', config.data.testFraction]] as const) {
    if (!(v > 0 && v < 0.5)) throw new TrainerError(`${name} must be in (0, 0.5), got ${v}.`);
  }
  if (!TEXT_CELLS.includes(config.cell)) throw new TrainerError(`Unsupported cell "${String(config.cell)}". Should be one of: ${TEXT_CELLS.join(', ')}.`);
  if (config.model !== 'vae' && config.model !== 'lm') throw new TrainerError(`Unsupported model "${String(config.model)}". Should be one of: vae, lm.`);
  if (!ANNEAL_SCHEDULES.includes(config.anneal.schedule)) {
    throw new TrainerError(`Unsupported KL annealing "${String(config.anneal.schedule)}". Should be one of: ${ANNEAL_SCHEDULES.join(', ')}.`);
  }
  const a = config.aggressive;
  if (!(a === 'auto' || a === 'off' || (typeof a === 'number' && Number.isInteger(a) && a >= 0))) {
    throw new TrainerError(`aggressive must be auto, off or a number of epochs, got ${String(a)}.`);
  }
  if (config.data.overLength !== 'drop' && config.data.overLength !== 'cut') {
    throw new TrainerError(`overLength must be drop or cut, got ${String(config.data.overLength)}.`);
  }
}

/** Reads the corpus a config names and splits it (deterministic for a config). */
export async function loadTextCorpus(config: TextTrainConfig): Promise<TextCorpus> {
  const corpus = prepareCorpus(await loadSentences(config.data.source), config.data, config.seed);
  if (corpus.train.ids.length < config.batchSize) {
    throw new DataError(`The training split has ${corpus.train.ids.length} sentences, fewer than one batch (${config.batchSize}); use a larger corpus or --batch-size.`);
  }
  return corpus;
}

function variablesOf(model: tf.LayersModel | undefined): tf.Variable[] {
  return model ? model.trainableWeights.map((w) => w.read() as tf.Variable) : [];
}

/** Scales gradients so their global L2 norm is at most `clipNorm` (0 = unchanged). */
function clipByGlobalNorm(grads: tf.NamedTensorMap, clipNorm: number): tf.NamedTensorMap {
  if (!(clipNorm > 0)) return grads;
  const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0]!);
  if (!(norm > clipNorm)) return grads;
  const scale = clipNorm / norm;
  const clipped: tf.NamedTensorMap = {};
  for (const [name, g] of Object.entries(grads)) {
    clipped[name] = tf.mul(g, scale);
    g.dispose();
  }
  return clipped;
}

interface TextRun {
  config: TextTrainConfig;
  runDir: string;
  corpus: TextCorpus;
  models: TextModels;
  encoderOptimizer?: tf.Optimizer;
  decoderOptimizer: tf.Optimizer;
  epoch: number;
  step: number;
  history: TextEpochMetrics[];
  priorSeconds: number;
  runState: TextRunState;
}

/**
 * One optimizer step on a batch. `update` picks the parameters that change: both halves (joint
 * training), the encoder only, or the decoder only (the two halves of an aggressive-phase round).
 */
function trainStep(run: TextRun, rows: Int32Array[], noiseSeed: number, klScale: number, update: 'joint' | 'encoder' | 'decoder') {
  const { config, models } = run;
  const uniform = createRng(noiseSeed).uniform;
  const batch = textBatchTensors(rows, run.corpus.seqLength, config.wordDropout, uniform);
  const eps = tf.randomNormal([rows.length, config.latent], 0, 1, 'float32', noiseSeed) as tf.Tensor2D;
  const encVars = update === 'decoder' ? [] : variablesOf(models.encoder);
  const decVars = update === 'encoder' ? [] : variablesOf(models.decoder);
  let sums: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const terms = textTerms(models, batch, eps, true);
    sums = tf.keep(tf.stack([terms.reconstruction.sum(), terms.klPerDim.sum()]));
    return textLoss(terms, klScale, config.freeBits);
  }, [...encVars, ...decVars]);
  const clipped = clipByGlobalNorm(grads, config.clipNorm);
  // A NaN or infinite loss or gradient is never applied: the weights stay those of the last good step.
  const applied = allFinite(value, clipped);
  const pick = (vars: tf.Variable[]) => Object.fromEntries(vars.map((v) => [v.name, clipped[v.name]!]));
  if (applied && encVars.length) run.encoderOptimizer!.applyGradients(pick(encVars));
  if (applied && decVars.length) run.decoderOptimizer.applyGradients(pick(decVars));
  const loss = value.dataSync()[0]!;
  const [recon, kl] = sums!.dataSync();
  tf.dispose([value, sums!, eps, batch.target, batch.decoderInput, batch.mask, ...Object.values(clipped)]);
  return { loss, recon: recon!, kl: kl!, applied };
}

function assertFinite(r: { loss: number; applied: boolean }, epoch: number, batch: number): void {
  if (!r.applied) {
    const what = Number.isFinite(r.loss) ? 'a gradient is not finite' : `the loss is ${r.loss}`;
    const kept = epoch > 1 ? `the last complete checkpoint (epoch ${epoch - 1}) is kept` : 'no checkpoint was written yet';
    throw new NonFiniteLossError(
      `Training stopped: ${what} at epoch ${epoch}, batch ${batch}; ${kept}. Lower the learning rate or use --clip-norm.`,
      epoch,
      batch,
      r.loss,
    );
  }
}

function aggressiveActive(run: TextRun, epoch: number): boolean {
  const a = run.config.aggressive;
  if (run.config.model === 'lm' || a === 'off') return false;
  if (typeof a === 'number') return epoch <= a;
  return run.runState.aggressiveOn;
}

async function runTextEpochs(run: TextRun, hooks: TextTrainHooks, options: TrainOptions = {}): Promise<TextTrainResult> {
  const { config, runDir, corpus, models, history } = run;
  const started = performance.now() - run.priorSeconds * 1000;
  const train = corpus.train.ids;
  const batches = Math.ceil(train.length / config.batchSize);
  const totalSteps = batches * config.epochs;
  hooks.onStart?.({ corpus: corpus.stats, batchesPerEpoch: batches, epochs: config.epochs, startEpoch: run.epoch });
  let step = run.step;
  let stoppedEarly: string | undefined;
  const policy = options.nonFinite ?? 'stop';
  if (policy !== 'stop' && policy !== 'skip') {
    throw new TrainerError(`Unsupported non-finite policy "${String(policy)}". Should be one of: stop, skip.`);
  }
  let consecutiveSkips = 0;
  /** True for an applied update; false for one skipped (`nonFinite: 'skip'`); throws when training must stop. */
  const accept = (r: { loss: number; applied: boolean }, epoch: number, batch: number): boolean => {
    if (r.applied) {
      consecutiveSkips = 0;
      return true;
    }
    if (policy === 'stop') assertFinite(r, epoch, batch);
    if (++consecutiveSkips > (options.maxConsecutiveSkips ?? 20)) {
      throw new NonFiniteLossError(
        `Training stopped: ${consecutiveSkips} updates in a row were skipped (non-finite loss or gradients, last at epoch ${epoch}, batch ${batch}); ` +
          `${epoch > 1 ? `the last complete checkpoint (epoch ${epoch - 1}) is kept` : 'no checkpoint was written yet'}. Lower the learning rate or use --clip-norm.`,
        epoch,
        batch,
        r.loss,
      );
    }
    hooks.onNotice?.(`epoch ${epoch}, batch ${batch}: update skipped (loss ${r.loss}, or a gradient, is not finite)`);
    return false;
  };
  for (let epoch = run.epoch + 1; epoch <= config.epochs; epoch++) {
    const epochStart = performance.now();
    const aggressive = aggressiveActive(run, epoch);
    // Everything random depends only on (seed, epoch, step), so a resumed run repeats an uninterrupted one.
    const epochRng = createRng(shuffleSeed(config.seed, epoch));
    const order = permutation(train.length, epochRng);
    let lossSum = 0;
    let recon = 0;
    let kl = 0;
    let encoderSteps = 0;
    let weight = 0;
    let skipped = 0;
    let skippedRows = 0;
    for (let b = 0; b < batches; b++) {
      const rows = order.slice(b * config.batchSize, (b + 1) * config.batchSize).map((i) => train[i]!);
      weight = config.model === 'lm' ? 0 : config.beta * klWeight(config.anneal, step, totalSteps);
      const noise = noiseSeed(config.seed, step);
      if (aggressive) {
        // He et al. (2019): update the encoder alone on fresh batches until its loss stops improving
        // (summed over windows of a fifth of the cap, as their 15-of-100), at most aggressiveMaxSteps
        // times; then the decoder once on the batch.
        const windowSize = Math.max(1, Math.ceil(config.aggressiveMaxSteps / 5));
        let previous = Infinity;
        let window = 0;
        let burnRows = rows;
        for (let sub = 1; sub <= config.aggressiveMaxSteps; sub++) {
          const r = trainStep(run, burnRows, noise + sub, weight, 'encoder');
          if (!accept(r, epoch, b + 1)) break;
          encoderSteps++;
          window += r.loss;
          if (sub % windowSize === 0) {
            if (window >= previous) break;
            previous = window;
            window = 0;
          }
          const burnRng = createRng(noise + sub);
          burnRows = Array.from({ length: rows.length }, () => train[burnRng.int(train.length)]!);
        }
      }
      const r = trainStep(run, rows, noise, weight, aggressive ? 'decoder' : 'joint');
      if (!accept(r, epoch, b + 1)) {
        // The step counter still advances: noise and annealing stay tied to (seed, step).
        skipped++;
        skippedRows += rows.length;
        step++;
        continue;
      }
      lossSum += r.loss;
      recon += r.recon;
      kl += r.kl;
      step++;
      hooks.onBatch?.({ epoch, batch: b + 1, batches, loss: r.loss, aggressive });
    }
    if (skipped === batches) {
      throw new NonFiniteLossError(
        `Training stopped: every batch of epoch ${epoch} was skipped (non-finite loss or gradients); ${epoch > 1 ? `the last complete checkpoint (epoch ${epoch - 1}) is kept` : 'no checkpoint was written yet'}. Lower the learning rate.`,
        epoch,
        batches,
        Number.NaN,
      );
    }
    const valid = await evaluateText(models, corpus.valid, {
      seqLength: corpus.seqLength,
      seed: config.seed,
      onProgress: (done, total) => hooks.onEvalProgress?.(done, total),
    });
    if (!Number.isFinite(valid.elbo)) {
      // Never save a checkpoint that cannot be good: the previous one stays the run's newest.
      throw new NonFiniteLossError(
        `Training stopped: the held-out loss after epoch ${epoch} is ${valid.elbo}; ${epoch > 1 ? `the last complete checkpoint (epoch ${epoch - 1}) is kept` : 'no checkpoint was written yet'}. Lower the learning rate or use --clip-norm.`,
        epoch,
        batches,
        valid.elbo,
      );
    }
    const metrics: TextEpochMetrics = {
      epoch,
      train: {
        loss: lossSum / (batches - skipped),
        reconstruction: recon / (train.length - skippedRows),
        kl: kl / (train.length - skippedRows),
        klWeight: weight,
      },
      valid,
      aggressive,
      encoderSteps,
      ...(skipped > 0 ? { skippedBatches: skipped } : {}),
      seconds: (performance.now() - epochStart) / 1000,
    };
    history.push(metrics);
    const rs = run.runState;
    if (aggressive && config.aggressive === 'auto') {
      const mi = valid.mi ?? 0;
      if (rs.bestMi !== null && mi <= rs.bestMi) {
        rs.aggressiveOn = false;
        hooks.onNotice?.(`Held-out mutual information stopped rising (${mi.toFixed(3)} <= ${rs.bestMi.toFixed(3)}): encoder-only phase off, joint training from epoch ${epoch + 1}.`);
      }
      rs.bestMi = Math.max(rs.bestMi ?? -Infinity, mi);
    }
    if (rs.bestValid === null || valid.elbo < rs.bestValid) {
      rs.bestValid = valid.elbo;
      rs.badEpochs = 0;
    } else {
      rs.badEpochs++;
    }
    const state: TrainState & { text: TextRunState } = {
      epoch,
      step,
      backend: tf.getBackend(),
      seconds: (performance.now() - started) / 1000,
      metrics: { elbo: valid.elbo, reconstruction: valid.reconstruction, kl: valid.kl, ...(valid.mi !== undefined ? { mi: valid.mi, au: valid.au! } : {}) },
      history,
      text: { ...rs },
    };
    await saveCheckpoint(runDir, {
      ...(models.encoder ? { encoder: models.encoder } : {}),
      decoder: models.decoder,
      state,
      optimizers: { decoder: run.decoderOptimizer, ...(run.encoderOptimizer ? { encoder: run.encoderOptimizer } : {}) },
    });
    await fs.appendFile(path.join(runDir, METRICS_FILE), JSON.stringify(metrics) + '\n');
    hooks.onEpoch?.(metrics);
    if (config.patience > 0 && rs.badEpochs >= config.patience) {
      stoppedEarly = `held-out -ELBO has not improved for ${rs.badEpochs} epochs (best ${rs.bestValid.toFixed(3)})`;
      hooks.onNotice?.(`Early stop after epoch ${epoch}: ${stoppedEarly}.`);
      break;
    }
  }
  return { runDir, epochs: history, seconds: (performance.now() - started) / 1000, ...(stoppedEarly ? { stoppedEarly } : {}) };
}

/** Releases the models and optimizers of a finished run. */
function disposeRun(run: TextRun): void {
  run.encoderOptimizer?.dispose();
  run.decoderOptimizer.dispose();
  run.models.encoder?.dispose();
  run.models.decoder.dispose();
}

/**
 * Trains a sentence VAE (or, with `model: 'lm'`, its language-model baseline) and writes the run
 * folder: `config.json`, `tokenizer.json`, `metrics.jsonl` and a checkpoint after every epoch.
 * Returns the trained models too when `keepModels` is set (the caller disposes them).
 */
export async function trainTextVae(config: TextTrainConfig, runDir: string, hooks: TextTrainHooks = {}, options: TrainOptions = {}): Promise<TextTrainResult> {
  validateTextConfig(config);
  const corpus = await loadTextCorpus(config);
  const { encoder, decoder } = buildTextVae(config, { vocabSize: corpus.tokenizer.vocabSize, seqLength: corpus.seqLength });
  if (config.model === 'lm') encoder.dispose();
  await writeConfig(runDir, config);
  await writeRunTokenizer(runDir, corpus.tokenizer);
  await fs.writeFile(path.join(runDir, METRICS_FILE), '');
  const run: TextRun = {
    config,
    runDir,
    corpus,
    models: config.model === 'lm' ? { decoder } : { encoder, decoder },
    ...(config.model === 'vae' ? { encoderOptimizer: tf.train.adam(config.learningRate) } : {}),
    decoderOptimizer: tf.train.adam(config.learningRate),
    epoch: 0,
    step: 0,
    history: [],
    priorSeconds: 0,
    runState: { aggressiveOn: config.aggressive !== 'off', bestMi: null, bestValid: null, badEpochs: 0 },
  };
  try {
    return await runTextEpochs(run, hooks, options);
  } finally {
    disposeRun(run);
  }
}

async function restoreOptimizer(learningRate: number, weights: NamedTensor[] | undefined, runDir: string, name: string): Promise<tf.Optimizer> {
  if (!weights) throw new CheckpointError(`The checkpoint in ${runDir} has no ${name} optimizer state, so it cannot be resumed exactly.`);
  const optimizer = await restoreAdam(learningRate, weights);
  tf.dispose(weights.map((w) => w.tensor));
  return optimizer;
}

/**
 * Continues a text run from its newest complete checkpoint (models, both optimizers, annealing step,
 * aggressive-phase and early-stopping state), up to `epochs` (default: the run's count). With the same
 * seed the result equals an uninterrupted run. The corpus is rebuilt and must give the same vocabulary.
 */
export async function resumeTextVae(runDir: string, options: { epochs?: number } & TrainOptions = {}, hooks: TextTrainHooks = {}): Promise<TextTrainResult> {
  const checkpoint = await loadCheckpoint(runDir);
  if (checkpoint.config.kind !== 'text') {
    checkpoint.encoder?.dispose();
    checkpoint.decoder.dispose();
    throw new CheckpointError(`${runDir} is an ${checkpoint.config.kind} run; resume it with \`vaekit train image --resume\`.`);
  }
  const config: TextTrainConfig = { ...checkpoint.config, ...(options.epochs ? { epochs: options.epochs } : {}) };
  validateTextConfig(config);
  const corpus = await loadTextCorpus(config);
  const saved = await readRunTokenizer(runDir);
  if (saved.vocabulary.join('\n') !== corpus.tokenizer.vocabulary.join('\n')) {
    throw new CheckpointError(`The corpus ${config.data.source} no longer gives the vocabulary saved in ${path.join(runDir, TOKENIZER_FILE)}; was the data file changed?`);
  }
  const states = checkpoint.optimizerStates ?? {};
  const state = checkpoint.state as TrainState & { text?: TextRunState };
  const isVae = config.model === 'vae';
  if (isVae && !checkpoint.encoder) throw new CheckpointError(`The checkpoint in ${runDir} has no encoder.`);
  const run: TextRun = {
    config,
    runDir,
    corpus,
    models: isVae ? { encoder: checkpoint.encoder!, decoder: checkpoint.decoder } : { decoder: checkpoint.decoder },
    ...(isVae ? { encoderOptimizer: await restoreOptimizer(config.learningRate, states.encoder, runDir, 'encoder') } : {}),
    decoderOptimizer: await restoreOptimizer(config.learningRate, states.decoder, runDir, 'decoder'),
    epoch: state.epoch,
    step: state.step,
    history: (state.history ?? []) as TextEpochMetrics[],
    priorSeconds: state.seconds ?? 0,
    runState: state.text ?? { aggressiveOn: config.aggressive !== 'off', bestMi: null, bestValid: null, badEpochs: 0 },
  };
  await writeConfig(runDir, config);
  // Lines written after the checkpoint (a crash between the two writes) are dropped.
  await fs.writeFile(path.join(runDir, METRICS_FILE), run.history.map((m) => JSON.stringify(m) + '\n').join(''));
  try {
    return await runTextEpochs(run, hooks, options);
  } finally {
    disposeRun(run);
  }
}
