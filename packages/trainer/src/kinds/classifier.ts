/**
 * The classifier kind (docs/classifier.md): a supervised baseline, M1 and M2 of Kingma et al. (2014)
 * on a bag of words or the sentence encoder's GRU, with the imbalance remedies. Its training spec for
 * the shared loop ({@link classifierKind}); KL annealing, free bits, word dropout, the token loss and
 * the sentence layers are the text kind's.
 *
 * - `supervised`: an epoch is the labelled examples (after over- or under-sampling); the loss is the
 *   (class-weighted or focal) cross-entropy plus L2 on the output layer.
 * - `m1`: an epoch is every training text; the step minimises the negative ELBO (annealed KL, free
 *   bits). After each epoch the classifier on the posterior means is refitted from zero on the labelled
 *   means (full batch, deterministic), then evaluated on the validation split.
 * - `m2`: each step takes a batch of every training text as unlabelled, U(x) = sum_y q(y|x) L(x,y) -
 *   H(q(y|x)), and a batch of labelled examples drawn with the step's noise seed, L(x,y) + alpha *
 *   cross-entropy (alpha = 0.1 * N unless set).
 * - Remedy `threshold` picks the decision threshold on the minority class's probability that
 *   maximises balanced accuracy on the validation split; the others change the labelled loss or rows.
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import {
  ANNEAL_SCHEDULES,
  CLASSIFIER_ENCODERS,
  CLASSIFIER_MODEL,
  CLASSIFIER_MODELS,
  REMEDIES,
  SPECIAL_TOKENS,
  TOKENIZER_FILE,
  bowFeatures,
  createRng,
  evalSeed,
  noiseSeed,
  permutation,
  type ClassifierTrainConfig,
} from '@vaekit/core';
import { readRunTokenizer, writeFileAtomic, writeRunTokenizer } from '@vaekit/core/node';
import type { Checkpoint } from '../checkpoint.js';
import { bestThreshold, classificationMetrics, predictWithThreshold, type ClassificationMetrics } from '../classification-metrics.js';
import { loadLabeledSource, prepareLabeled, type ClassifierCorpus } from '../data/labeled.js';
import { CheckpointError, DataError, TrainerError } from '../errors.js';
import { freeBitsKl, gaussianKlPerDim, reparameterize, stopGradient } from '../losses.js';
import { buildClassifier, classifierViews, type ClassifierNet } from '../models/classifier.js';
import { klWeight } from '../schedules.js';
import { allFinite, restoreAdam } from '../step.js';
import { decoderReconstruction, textBatchTensors, type TextBatchTensors } from '../text-vae.js';
import type { KindRun, TrainingKind } from './types.js';

/** The run-folder file with the class names and split sizes of a classifier run. */
export const CLASSIFIER_RUN_FILE = 'classifier.json';

/** What a classifier run trains on. */
export interface ClassifierData {
  corpus: ClassifierCorpus;
  /** Every training text: the labelled ones first, then the unlabelled. */
  texts: Int32Array[];
  /** Class of each of {@link texts} (-1: unlabelled). */
  labels: Int32Array;
  /** Indices into {@link texts} of the labelled rows after over- or under-sampling. */
  labeledRows: number[];
  /** Weight of each class in the labelled loss (1 without a weighting remedy). */
  classWeights: number[];
  /** Rows of an epoch: the labelled rows (supervised) or every training text (m1, m2). */
  trainRows: number;
}

/** Models and the optimizer of a classifier run. */
export interface ClassifierRunModels {
  views: ClassifierNet;
  optimizer: tf.Optimizer;
}

/** Extra resumable state of a classifier run. */
export interface ClassifierRunState {
  bestAccuracy: number | null;
  badEpochs: number;
  /** Remedy `threshold`: the minority class's decision threshold chosen on the validation split. */
  threshold: number | null;
}

/** Validation metrics of an epoch. */
export interface ClassifierValidMetrics {
  accuracy: number;
  macroF1: number;
  balancedAccuracy: number;
  recall: number[];
  /** Mean cross-entropy of the true class (nats). */
  crossEntropy: number;
  /** Remedy `threshold`: the threshold chosen this epoch. */
  threshold?: number;
}

/** One line of `metrics.jsonl` of a classifier run. */
export interface ClassifierEpochMetrics {
  epoch: number;
  train: { loss: number; reconstruction?: number; kl?: number; crossEntropy?: number; klWeight?: number };
  valid: ClassifierValidMetrics;
  seconds: number;
  skippedBatches?: number;
}

interface Epoch {
  loss: number;
  recon: number;
  kl: number;
  ce: number;
  batches: number;
  rows: number;
  weight: number;
}

type Run = KindRun<ClassifierTrainConfig, ClassifierData, ClassifierRunModels, ClassifierRunState>;

/** Validates a classifier configuration; throws {@link TrainerError} naming the bad field and what is accepted. */
export function validateClassifierConfig(config: ClassifierTrainConfig): void {
  const one = (name: string, list: readonly string[], v: unknown) => {
    if (!list.includes(v as string)) throw new TrainerError(`Unsupported ${name} "${String(v)}". Should be one of: ${list.join(', ')}.`);
  };
  one('model', CLASSIFIER_MODELS, config.model);
  one('encoder', CLASSIFIER_ENCODERS, config.encoder);
  one('remedy', REMEDIES, config.remedy);
  one('KL annealing', ANNEAL_SCHEDULES, config.anneal?.schedule);
  const d = config.data;
  for (const [name, v] of [
    ['epochs', config.epochs],
    ['batchSize', config.batchSize],
    ['latent', config.latent],
    ['hidden', config.hidden],
    ['embedding', config.embedding],
    ['maxLength', d.maxLength],
    ['maxVocab', d.maxVocab],
    ['minCount', d.minCount],
    ['validSize', d.validSize],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0 || v > 1_000_000) throw new TrainerError(`${name} must be a positive integer (at most 1000000), got ${v}.`);
  }
  for (const [name, v] of [
    ['labels', d.labels],
    ['unlabeledLimit', d.unlabeledLimit],
    ['testLimit', d.testLimit],
    ['patience', config.patience],
    ['bowSkip', config.bowSkip],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new TrainerError(`${name} must be an integer >= 0, got ${v}.`);
  }
  for (const [name, v] of [
    ['beta', config.beta],
    ['freeBits', config.freeBits],
    ['l2', config.l2],
    ['focalGamma', config.focalGamma],
  ] as const) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new TrainerError(`${name} must be a finite number >= 0, got ${v}.`);
  }
  if (!(config.learningRate > 0) || !Number.isFinite(config.learningRate)) throw new TrainerError(`learningRate must be > 0, got ${config.learningRate}.`);
  if (!(config.wordDropout >= 0 && config.wordDropout < 1)) throw new TrainerError(`wordDropout must be in [0, 1), got ${config.wordDropout}.`);
  if (config.alpha !== null && !(config.alpha >= 0 && Number.isFinite(config.alpha))) throw new TrainerError(`alpha must be a finite number >= 0, got ${config.alpha}.`);
  if (!(d.imbalance >= 1) || !Number.isFinite(d.imbalance)) throw new TrainerError(`imbalance must be a number > 1 (1 = as is), got ${d.imbalance}.`);
  if (!(d.testFraction > 0 && d.testFraction < 1)) throw new TrainerError(`testFraction must be in (0, 1), got ${d.testFraction}.`);
  if (config.bowSkip >= d.maxVocab - 4) throw new TrainerError(`bowSkip (${config.bowSkip}) must be smaller than the vocabulary without its special tokens (${d.maxVocab - 4}).`);
  if (config.remedy === 'augment' && config.model !== 'm1') {
    throw new TrainerError('Remedy "augment" draws minority examples from M1\'s latent space; use it with --model m1.');
  }
}

/** The beta of the effective-number class weights (Cui et al. 2019). */
export const EFFECTIVE_NUMBER_BETA = 0.9999;

/**
 * Class weights of a remedy from the labelled counts: `inverse` n / (C n_c); `effective` the
 * effective numbers of Cui et al. 2019, (1 - beta) / (1 - beta^n_c) with beta = 0.9999 (their best
 * softmax value on long-tailed CIFAR; 0.999 saturates at about 1,000 examples, so at 1,980 vs 20 it
 * corrected 43x where the imbalance is 99x and left the classifier on the majority class), normalised
 * to sum C; `focal` the same effective-number weights (Cui et al.'s class-balanced focal loss: the
 * focusing term alone does not move a classifier off a 99:1 majority); otherwise 1.
 */
export function remedyClassWeights(remedy: ClassifierTrainConfig['remedy'], counts: number[]): number[] {
  const C = counts.length;
  const n = counts.reduce((a, b) => a + b, 0);
  if (remedy === 'inverse') return counts.map((c) => n / (C * Math.max(1, c)));
  if (remedy === 'effective' || remedy === 'focal') {
    const beta = EFFECTIVE_NUMBER_BETA;
    const raw = counts.map((c) => (1 - beta) / (1 - Math.pow(beta, Math.max(1, c))));
    const sum = raw.reduce((a, b) => a + b, 0);
    return raw.map((w) => (w * C) / sum);
  }
  return counts.map(() => 1);
}

/** Labelled row indices after random over-sampling (every class up to the largest) or under-sampling (down to the smallest). */
export function resampleRows(rows: number[], labels: ArrayLike<number>, classes: number, remedy: ClassifierTrainConfig['remedy'], seed: number): number[] {
  if (remedy !== 'oversample' && remedy !== 'undersample') return rows;
  const rng = createRng(seed * 31 + 7);
  const byClass = Array.from({ length: classes }, (_, c) => rows.filter((r) => labels[r] === c));
  const sizes = byClass.map((b) => b.length).filter((s) => s > 0);
  const target = remedy === 'oversample' ? Math.max(...sizes) : Math.min(...sizes);
  const out: number[] = [];
  for (const members of byClass) {
    if (members.length === 0) continue;
    const order = permutation(members.length, rng).map((i) => members[i]!);
    for (let k = 0; k < target; k++) out.push(k < order.length ? order[k]! : members[rng.int(members.length)]!);
  }
  return out;
}

/** Reads and splits the data a configuration names (deterministic for a configuration). */
export async function loadClassifierData(config: ClassifierTrainConfig): Promise<ClassifierData> {
  const corpus = prepareLabeled(await loadLabeledSource(config.data.source), config.data, config.seed);
  const texts = [...corpus.labeled.ids, ...corpus.unlabeled.ids];
  const labels = Int32Array.from([...corpus.labeled.labels, ...corpus.unlabeled.labels]);
  const C = corpus.labelNames.length;
  const base = Array.from(corpus.labeled.ids, (_, i) => i);
  const labeledRows = resampleRows(base, labels, C, config.remedy, config.seed);
  const classWeights = remedyClassWeights(config.remedy, corpus.stats.labeledPerClass);
  const words = corpus.tokenizer.vocabSize - SPECIAL_TOKENS.length;
  if (config.encoder === 'bow' && config.bowSkip >= words) {
    throw new DataError(`--bow-skip ${config.bowSkip} ignores every word: the vocabulary has ${words} words; use a smaller --bow-skip.`);
  }
  const perEpoch = config.model === 'supervised' ? labeledRows.length : texts.length;
  if (perEpoch < 1) throw new DataError('The training split is empty.');
  return { corpus, texts, labels, labeledRows, classWeights, trainRows: perEpoch };
}

/** The network's input `x` for rows of token ids: bag-of-words features or `tokens` (ids + `<eos>`). */
export function classifierInput(config: Pick<ClassifierTrainConfig, 'encoder' | 'bowSkip'>, rows: readonly Int32Array[], vocabSize: number, seqLength: number): tf.Tensor {
  if (config.encoder === 'bow') {
    const features = new Float32Array(rows.length * vocabSize);
    rows.forEach((ids, i) => bowFeatures(ids, vocabSize, features, i * vocabSize, config.bowSkip ?? 0));
    return tf.tensor2d(features, [rows.length, vocabSize]);
  }
  const batch = textBatchTensors(rows, seqLength);
  tf.dispose([batch.decoderInput, batch.mask]);
  return batch.target;
}

/** Word counts of each text (special tokens and the `skip` most frequent words excluded): the bag-of-words decoder's targets. */
function bowCounts(rows: readonly Int32Array[], vocabSize: number, skip: number): tf.Tensor2D {
  const counts = new Float32Array(rows.length * vocabSize);
  rows.forEach((ids, i) => {
    for (const id of ids) if (id >= SPECIAL_TOKENS.length + skip) counts[i * vocabSize + id]! += 1;
  });
  return tf.tensor2d(counts, [rows.length, vocabSize]);
}

/** Per-example labelled loss: class-weighted cross-entropy, times (1 - p_y)^gamma for focal loss. */
export function labeledLoss(probs: tf.Tensor2D, yOneHot: tf.Tensor2D, weights: number[], focalGamma: number): tf.Tensor1D {
  return tf.tidy(() => {
    const p = probs.clipByValue(1e-7, 1);
    let per = yOneHot.mul(p.log()).mul(-1);
    if (focalGamma > 0) per = per.mul(tf.sub(1, p).pow(focalGamma));
    return per.mul(tf.tensor1d(weights)).sum(1);
  }) as tf.Tensor1D;
}

/**
 * The generative side of a batch: the encoder's input `x`, the reconstruction targets `parts` (bow:
 * word counts; gru: decoder input, target, mask; one row per text, so batches can be tiled and
 * joined) and the per-example reconstruction -log p(x|z).
 */
interface Generative {
  x: tf.Tensor;
  parts: tf.Tensor[];
  recon(z: tf.Tensor2D, training: boolean): tf.Tensor1D;
  dispose(): void;
}

/**
 * Per-example reconstruction -log p(x | z) of the rows whose targets are `parts` (see {@link Generative}):
 * bow, the multinomial over the words; gru, the sentence decoder's token cross-entropy, with the text
 * kind's fused logits + cross-entropy over the real positions when the native kernels run.
 */
function reconstruction(views: ClassifierNet, encoder: ClassifierTrainConfig['encoder'], parts: readonly tf.Tensor[], z: tf.Tensor2D, training: boolean): tf.Tensor1D {
  const gen = views.generate!;
  return tf.tidy(() => {
    if (encoder === 'bow') return parts[0]!.mul(tf.logSoftmax(gen.apply(z, { training }) as tf.Tensor2D)).sum(1).neg() as tf.Tensor1D;
    const [decoderInput, target, mask] = parts as tf.Tensor2D[];
    return decoderReconstruction(gen, { decoderInput: decoderInput!, target: target!, mask: mask! }, z, training).reconstruction;
  }) as tf.Tensor1D;
}

/** The encoder input and reconstruction targets of a sentence batch (gru; see {@link Generative}); the tensors stay the batch's. */
export function sentenceGenerative(batch: TextBatchTensors): { x: tf.Tensor; parts: tf.Tensor[] } {
  return { x: batch.target, parts: [batch.decoderInput, batch.target, batch.mask] };
}

function generativeBatch(run: Run, rows: readonly Int32Array[], seed: number, training: boolean): Generative {
  const { config } = run;
  const V = run.data.corpus.tokenizer.vocabSize;
  const T = run.data.corpus.seqLength + 1;
  let x: tf.Tensor;
  let parts: tf.Tensor[];
  if (config.encoder === 'bow') {
    // A multinomial over the words of the text (Miao et al. 2016's NVDM), function words excluded
    // (bowSkip): they would dominate the likelihood and so the latent space (docs/classifier.md).
    x = classifierInput(config, rows, V, T);
    parts = [bowCounts(rows, V, config.bowSkip)];
  } else {
    const uniform = createRng(seed).uniform;
    ({ x, parts } = sentenceGenerative(textBatchTensors(rows, T, training ? config.wordDropout : 0, uniform)));
  }
  return { x, parts, recon: (z) => reconstruction(run.models.views, config.encoder, parts, z, training), dispose: () => tf.dispose([x, ...parts]) };
}

function alphaOf(run: Run): number {
  return run.config.alpha ?? 0.1 * run.data.corpus.stats.labeled;
}

function oneHot(labels: ArrayLike<number>, classes: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), classes).toFloat()) as tf.Tensor2D;
}

function trainableVariables(run: Run): tf.Variable[] {
  const head = run.config.model === 'm1' ? new Set(run.models.views.net.getLayer(CLASSIFIER_MODEL.layers.probs).trainableWeights.map((w) => w.name)) : new Set<string>();
  // M1's classifier is fitted on the posterior means after each epoch, not by the ELBO's gradients.
  return run.models.views.net.trainableWeights.filter((w) => !head.has(w.name)).map((w) => w.read() as tf.Variable);
}

/** `l2` times the squared norm of the classifier's output kernel. */
function l2Penalty(views: ClassifierNet, l2: number): tf.Scalar {
  const kernel = views.net.getLayer(CLASSIFIER_MODEL.layers.probs).trainableWeights[0]!.read();
  return tf.mul(l2, tf.sum(tf.square(kernel))) as tf.Scalar;
}

/**
 * The inputs of one M2 step joined for one pass (docs/classifier.md): the encoder reads
 * [unlabelled; labelled] once, and the decoder reads the unlabelled batch once per class and the
 * labelled batch as one batch (the recurrent layers' cost is per time step, so one batch of (C+1)B
 * rows is far cheaper than C+1). Owns its tensors: free them with `dispose`.
 */
export interface M2Batch {
  /** Unlabelled rows B and labelled rows BL. */
  unlabeled: number;
  labeled: number;
  /** Encoder input `[B + BL, ...]`. */
  x: tf.Tensor;
  /** Reconstruction targets (see {@link Generative}), `C * B + BL` rows, class-major then labelled. */
  parts: tf.Tensor[];
  /** The class each decoder row is conditioned on, one-hot `[C * B + BL, C]`. */
  y: tf.Tensor2D;
  /** The labelled rows' classes, one-hot `[BL, C]`. */
  yLabeled: tf.Tensor2D;
  /** Noise of each decoder row: the unlabelled draw repeated per class (common random numbers), then the labelled. */
  eps: tf.Tensor2D;
  dispose(): void;
}

/**
 * Joins an unlabelled and a labelled batch (their encoder inputs `x` and per-row targets `parts`),
 * the labelled classes and the noise draws `epsUnlabeled [B, Z]` and `epsLabeled [BL, Z]` into an
 * {@link M2Batch}; the inputs stay the caller's.
 */
export function m2Batch(
  unlabeled: { x: tf.Tensor; parts: readonly tf.Tensor[] },
  labeled: { x: tf.Tensor; parts: readonly tf.Tensor[] },
  labels: ArrayLike<number>,
  classes: number,
  epsUnlabeled: tf.Tensor2D,
  epsLabeled: tf.Tensor2D,
): M2Batch {
  const C = classes;
  const B = unlabeled.x.shape[0]!;
  const yLabeled = oneHot(labels, C);
  const x = tf.concat([unlabeled.x, labeled.x], 0);
  const parts = unlabeled.parts.map((t, k) => tf.concat([...new Array<tf.Tensor>(C).fill(t), labeled.parts[k]!], 0));
  const perClass = Array.from({ length: C }, (_, c) => oneHot(new Array<number>(B).fill(c), C));
  const y = tf.concat([...perClass, yLabeled], 0) as tf.Tensor2D;
  tf.dispose(perClass);
  const eps = tf.concat([...new Array<tf.Tensor2D>(C).fill(epsUnlabeled), epsLabeled], 0) as tf.Tensor2D;
  return { unlabeled: B, labeled: labeled.x.shape[0]!, x, parts, y, yLabeled, eps, dispose: () => tf.dispose([x, ...parts, y, yLabeled, eps]) };
}

/** The weights of the M2 loss (a step's KL weight, and the run's configuration). */
export interface M2LossOptions {
  encoder: ClassifierTrainConfig['encoder'];
  /** KL weight of this step (annealing times beta). */
  klWeight: number;
  freeBits: number;
  /** Weight of the labelled cross-entropy. */
  alpha: number;
  l2: number;
  classWeights: number[];
  /** Focal loss gamma (0: plain cross-entropy). */
  focalGamma: number;
}

/**
 * The M2 loss of one step (Kingma et al. 2014, docs/classifier.md): mean over the unlabelled rows of
 * U(x) = sum_y q(y|x) L(x,y) - H(q(y|x)), plus the mean over the labelled rows of L(x,y) and alpha
 * times their cross-entropy, plus the L2 penalty; `sums` = [reconstruction and KL of the unlabelled
 * rows weighted by q(y|x), summed; the labelled cross-entropy summed and scaled to B rows] for the
 * metrics line. Call inside a gradient scope (the loss and sums are not kept).
 */
export function m2Loss(views: ClassifierNet, batch: M2Batch, o: M2LossOptions, training = true): { loss: tf.Scalar; sums: tf.Tensor1D } {
  const { unlabeled: B, labeled: BL } = batch;
  const C = batch.y.shape[1]!;
  const layer = (name: string) => views.net.getLayer(name);
  const h = views.trunk!.apply(batch.x, { training }) as tf.Tensor2D;
  const probs = layer(CLASSIFIER_MODEL.layers.probs).apply(h) as tf.Tensor2D;
  const q = probs.slice([0, 0], [B, C]).clipByValue(1e-7, 1);
  const qLab = probs.slice([B, 0], [BL, C]) as tf.Tensor2D;
  // q(z|x,y) for every (row, class) pair of the unlabelled batch, then the labelled rows.
  const hAll = tf.concat([...new Array<tf.Tensor2D>(C).fill(h.slice([0, 0], [B, -1])), h.slice([B, 0], [BL, -1])], 0) as tf.Tensor2D;
  // q(z|x,y) reads the summary without passing gradients back into it: the summary is q(y|x)'s
  // own network (Kingma et al.'s q(y|x) and q(z|x,y) are separate networks), trained by the
  // cross-entropy and the unlabelled term through q(y|x). Shared, the ~700-nat reconstruction of
  // a 100-token review drowned the classification signal in the GRU (M2 stayed at chance on IMDB).
  const hy = layer(CLASSIFIER_MODEL.layers.encoderConcatY).apply([stopGradient(hAll), batch.y]) as tf.Tensor2D;
  const mu = layer(CLASSIFIER_MODEL.layers.mu).apply(hy) as tf.Tensor2D;
  const logvar = layer(CLASSIFIER_MODEL.layers.logvar).apply(hy) as tf.Tensor2D;
  const z = reparameterize(mu, logvar, batch.eps);
  const recon = reconstruction(views, o.encoder, batch.parts, tf.concat([z, batch.y], 1) as tf.Tensor2D, training);
  const klPerDim = gaussianKlPerDim(mu, logvar);
  const kl = klPerDim.sum(1);
  // Free bits per example and dimension (the batch-mean form cannot be weighted by q(y|x)).
  const klLoss = o.freeBits > 0 ? tf.maximum(klPerDim, o.freeBits).sum(1) : kl;
  const loss = recon.add(klLoss.mul(o.klWeight));
  // Unlabelled: sum_y q(y|x) L(x,y) - H(q(y|x)), the per-class rows laid out class-major.
  const qCol = q.transpose().reshape([C * B]);
  const u = loss.slice([0], [C * B]).mul(qCol).reshape([C, B]).sum(0).add(q.mul(q.log()).sum(1));
  const reconU = recon.slice([0], [C * B]).mul(qCol).sum();
  const klU = kl.slice([0], [C * B]).mul(qCol).sum();
  const ce = labeledLoss(qLab, batch.yLabeled, o.classWeights, o.focalGamma);
  const sums = tf.stack([reconU, klU, ce.sum().mul(B / BL)]) as tf.Tensor1D;
  const total = u.mean().add(loss.slice([C * B], [BL]).mean()).add(ce.mean().mul(o.alpha)).add(l2Penalty(views, o.l2)) as tf.Scalar;
  return { loss: total, sums };
}

/** One update; returns the loss and sums for the metrics line. */
function update(run: Run, ctx: { rows: number[]; step: number; totalSteps: number }, weight: number) {
  const { config, data } = run;
  const C = data.corpus.labelNames.length;
  const noise = noiseSeed(config.seed, ctx.step);
  const cleanup: Array<{ dispose(): void } | tf.Tensor> = [];
  let sums: tf.Tensor | undefined;
  let lossFn: () => tf.Scalar;
  if (config.model === 'supervised') {
    const rows = ctx.rows.map((i) => data.labeledRows[i]!);
    const x = classifierInput(config, rows.map((r) => data.texts[r]!), data.corpus.tokenizer.vocabSize, data.corpus.seqLength + 1);
    const y = oneHot(rows.map((r) => data.labels[r]!), C);
    cleanup.push(x, y);
    lossFn = () => {
      const ce = labeledLoss(run.models.views.classify.apply(x, { training: true }) as tf.Tensor2D, y, data.classWeights, config.remedy === 'focal' ? config.focalGamma : 0);
      sums = tf.keep(tf.stack([tf.scalar(0), tf.scalar(0), ce.sum()]));
      return ce.mean().add(l2Penalty(run.models.views, config.l2)) as tf.Scalar;
    };
  } else {
    const rows = ctx.rows.map((i) => data.texts[i]!);
    const g = generativeBatch(run, rows, noise, true);
    cleanup.push(g);
    const B = rows.length;
    const Z = config.latent;
    if (config.model === 'm1') {
      const eps = tf.randomNormal([B, Z], 0, 1, 'float32', noise) as tf.Tensor2D;
      cleanup.push(eps);
      lossFn = () => {
        const [mu, logvar] = run.models.views.encode!.apply(g.x, { training: true }) as tf.Tensor2D[];
        const recon = g.recon(reparameterize(mu!, logvar!, eps), true);
        const kl = gaussianKlPerDim(mu!, logvar!);
        sums = tf.keep(tf.stack([recon.sum(), kl.sum(), tf.scalar(0)]));
        return recon.mean().add(freeBitsKl(kl, config.freeBits).mul(weight)) as tf.Scalar;
      };
    } else {
      // Labelled batch: drawn from the (resampled) labelled rows with this step's noise.
      const rng = createRng(noise + 1);
      const labRows = Array.from({ length: Math.min(config.batchSize, data.labeledRows.length) }, () => data.labeledRows[rng.int(data.labeledRows.length)]!);
      const lab = generativeBatch(run, labRows.map((r) => data.texts[r]!), noise + 2, true);
      // One noise draw shared by every class (common random numbers): the unlabelled gradient of q(y|x)
      // follows the differences L(x,y) - L(x,y'), which independent draws per class would bury in noise.
      const epsU = tf.randomNormal([B, Z], 0, 1, 'float32', noise + 3) as tf.Tensor2D;
      const epsL = tf.randomNormal([labRows.length, Z], 0, 1, 'float32', noise + 3 + C) as tf.Tensor2D;
      const batch = m2Batch(g, lab, labRows.map((r) => data.labels[r]!), C, epsU, epsL);
      cleanup.push(lab, epsU, epsL, batch);
      const options: M2LossOptions = {
        encoder: config.encoder,
        klWeight: weight,
        freeBits: config.freeBits,
        alpha: alphaOf(run),
        l2: config.l2,
        classWeights: data.classWeights,
        focalGamma: config.remedy === 'focal' ? config.focalGamma : 0,
      };
      lossFn = () => {
        const r = m2Loss(run.models.views, batch, options);
        sums = tf.keep(r.sums);
        return r.loss;
      };
    }
  }
  const { value, grads } = tf.variableGrads(lossFn, trainableVariables(run));
  const applied = allFinite(value, grads);
  if (applied) run.models.optimizer.applyGradients(grads);
  const loss = value.dataSync()[0]!;
  const [recon, kl, ce] = sums!.dataSync();
  tf.dispose([value, sums!, ...Object.values(grads)]);
  for (const c of cleanup) c.dispose();
  return { loss, recon: recon!, kl: kl!, ce: ce!, applied };
}

/** Runs `view` on rows in batches and returns the outputs' values, row-major. */
export async function predictRows(view: tf.LayersModel, config: Pick<ClassifierTrainConfig, 'encoder' | 'bowSkip'>, rows: readonly Int32Array[], vocabSize: number, seqLength: number, extra?: (start: number, n: number) => tf.Tensor[]): Promise<Float32Array[]> {
  const outs: number[][] = [];
  for (let start = 0; start < rows.length; start += 256) {
    const chunk = rows.slice(start, start + 256);
    const x = classifierInput(config, chunk, vocabSize, seqLength + 1);
    const more = extra?.(start, chunk.length) ?? [];
    const y = tf.tidy(() => {
      const r = view.apply(more.length ? [x, ...more] : x) as tf.Tensor | tf.Tensor[];
      return Array.isArray(r) ? r : [r];
    }) as tf.Tensor[];
    const values = await Promise.all(y.map((t) => t.data()));
    values.forEach((v, k) => (outs[k] ??= []).push(...(v as Float32Array)));
    tf.dispose([x, ...more, ...y]);
  }
  return outs.map((o) => Float32Array.from(o));
}

/**
 * M1: refits the classifier on the posterior means of the labelled examples from zero weights (full
 * batch Adam, 300 steps; remedies applied: resampled rows, class weights, focal loss, and `augment`:
 * synthetic minority points drawn from the minority examples' posteriors until the classes are even).
 */
export async function refitM1Head(config: ClassifierTrainConfig, data: ClassifierData, views: ClassifierNet): Promise<void> {
  const C = data.corpus.labelNames.length;
  const Z = config.latent;
  const labeled = data.corpus.labeled;
  const [mus, logvars] = await predictRows(views.encode!, config, labeled.ids, data.corpus.tokenizer.vocabSize, data.corpus.seqLength);
  const points: number[] = [];
  const targets: number[] = [];
  const rows = resampleRows(Array.from(labeled.ids, (_, i) => i), labeled.labels, C, config.remedy, config.seed);
  for (const r of rows) {
    points.push(...mus!.subarray(r * Z, (r + 1) * Z));
    targets.push(labeled.labels[r]!);
  }
  if (config.remedy === 'augment') {
    const rng = createRng(evalSeed(config.seed, 0) + 99);
    const counts = data.corpus.stats.labeledPerClass;
    const most = Math.max(...counts);
    for (let c = 0; c < C; c++) {
      const members = rows.filter((r) => labeled.labels[r] === c);
      for (let k = counts[c]!; k < most && members.length > 0; k++) {
        const r = members[rng.int(members.length)]!;
        for (let d = 0; d < Z; d++) points.push(mus![r * Z + d]! + Math.exp(0.5 * logvars![r * Z + d]!) * rng.normal());
        targets.push(c);
      }
    }
  }
  const n = targets.length;
  // Standardised means (centred per dimension, scaled by one spread, over the labelled texts and up to
  // 2,000 unlabelled ones, all of the training split), so the L2 grid means the same whatever the
  // latent space's scale; folded into the fitted layer's weights below, so the graphs do not change.
  const [spreadMus] = await predictRows(views.encode!, config, data.corpus.unlabeled.ids.slice(0, 2000), data.corpus.tokenizer.vocabSize, data.corpus.seqLength);
  const { mean, std: perDim } = columnStats([mus!, spreadMus ?? new Float32Array()], Z);
  // One spread for every dimension (their root mean square): per-dimension scaling would blow the
  // noise of collapsed (inactive) latent dimensions up to the size of the informative ones.
  const rms = Math.sqrt(perDim.reduce((a, v) => a + v * v, 0) / Z);
  const std = perDim.map(() => rms);
  const standardise = (values: ArrayLike<number>, rows: number) => {
    const out = new Float32Array(rows * Z);
    for (let i = 0; i < rows; i++) for (let d = 0; d < Z; d++) out[i * Z + d] = (values[i * Z + d]! - mean[d]!) / std[d]!;
    return tf.tensor2d(out, [rows, Z]);
  };
  const x = standardise(points, n);
  const y = oneHot(targets, C);
  const focal = config.remedy === 'focal' ? config.focalGamma : 0;
  const fit = (l2: number): [tf.Variable, tf.Variable] => {
    const w = tf.variable(tf.zeros([Z, C]));
    const b = tf.variable(tf.zeros([C]));
    const optimizer = tf.train.adam(0.05);
    for (let i = 0; i < 300; i++) {
      optimizer.minimize(() => {
        const probs = tf.softmax(x.matMul(w).add(b)) as tf.Tensor2D;
        return labeledLoss(probs, y, data.classWeights, focal).mean().add(tf.sum(tf.square(w)).mul(l2)) as tf.Scalar;
      });
    }
    optimizer.dispose();
    return [w, b];
  };
  // The L2 weight: config.l2 times 1000 down to 0.1, picked by validation balanced accuracy (ties:
  // the stronger penalty), as a user would tune it on the validation split.
  const [validMus] = await predictRows(views.encode!, config, data.corpus.valid.ids, data.corpus.tokenizer.vocabSize, data.corpus.seqLength);
  const xv = standardise(validMus!, data.corpus.valid.ids.length);
  let best: { score: number; w: tf.Variable; b: tf.Variable } | undefined;
  for (const factor of [1000, 300, 100, 30, 10, 3, 1, 0.1]) {
    const [w, b] = fit(config.l2 * factor);
    const probs = tf.tidy(() => tf.softmax(xv.matMul(w).add(b)).dataSync() as Float32Array);
    const score = classificationMetrics(data.corpus.valid.labels, probs, C).balancedAccuracy;
    if (!best || score > best.score + 1e-9) {
      if (best) tf.dispose([best.w, best.b]);
      best = { score, w, b };
    } else tf.dispose([w, b]);
  }
  // softmax(((mu - mean) / std) W + b) = softmax(mu (W / std) + (b - (mean / std) W)).
  const [kernel, bias] = tf.tidy(() => {
    const scale = tf.tensor2d(Array.from(std, (s) => 1 / s), [Z, 1]);
    const k = best!.w.mul(scale);
    return [k, best!.b.sub(tf.tensor2d(Array.from(mean), [1, Z]).matMul(k).reshape([C]))];
  });
  views.net.getLayer(CLASSIFIER_MODEL.layers.probs).setWeights([kernel!, bias!]);
  tf.dispose([x, y, xv, best!.w, best!.b, kernel!, bias!]);
}

/** Mean and standard deviation (floored at 1e-6) of each of Z columns over row-major blocks. */
function columnStats(blocks: readonly Float32Array[], Z: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(Z);
  const sq = new Float64Array(Z);
  let rows = 0;
  for (const block of blocks) {
    for (let i = 0; i < block.length; i++) {
      mean[i % Z] = mean[i % Z]! + block[i]!;
      sq[i % Z] = sq[i % Z]! + block[i]! * block[i]!;
    }
    rows += block.length / Z;
  }
  const std = new Float64Array(Z);
  for (let d = 0; d < Z; d++) {
    mean[d] = mean[d]! / Math.max(1, rows);
    std[d] = Math.max(1e-6, Math.sqrt(Math.max(0, sq[d]! / Math.max(1, rows) - mean[d]! ** 2)));
  }
  return { mean, std };
}

/** Class probabilities of the rows of a split, `[n, C]` row-major. */
export async function classifyRows(views: ClassifierNet, config: ClassifierTrainConfig, corpus: ClassifierCorpus, rows: readonly Int32Array[]): Promise<Float32Array> {
  return (await predictRows(views.classify, config, rows, corpus.tokenizer.vocabSize, corpus.seqLength))[0] ?? new Float32Array();
}

/** Metrics of probabilities against the truth, with the run's moved threshold when it has one. */
export function metricsWithThreshold(truth: Int32Array, probs: Float32Array, classes: number, minority: number, threshold: number | null): ClassificationMetrics {
  return threshold === null ? classificationMetrics(truth, probs, classes) : classificationMetrics(truth, probs, classes, predictWithThreshold(probs, classes, minority, threshold));
}

/** The classifier kind's training spec. */
export const classifierKind: TrainingKind<ClassifierTrainConfig, ClassifierData, ClassifierRunModels, ClassifierRunState, Epoch, ClassifierValidMetrics, ClassifierEpochMetrics, { corpus: ClassifierCorpus['stats'] }> = {
  kind: 'classifier',
  advice: 'Lower the learning rate',
  stateKey: 'classifier',
  validate: validateClassifierConfig,
  loadData: loadClassifierData,
  async writeRunFiles(runDir, _config, data) {
    await writeRunTokenizer(runDir, data.corpus.tokenizer);
    const info = { labels: data.corpus.labelNames, minority: data.corpus.labelNames[data.corpus.minority], stats: data.corpus.stats };
    await writeFileAtomic(path.join(runDir, CLASSIFIER_RUN_FILE), JSON.stringify(info, null, 2) + '\n');
  },
  build(config, data) {
    const views = buildClassifier(config, { vocabSize: data.corpus.tokenizer.vocabSize, classes: data.corpus.labelNames.length, seqLength: data.corpus.seqLength + 1 });
    return { views, optimizer: tf.train.adam(config.learningRate) };
  },
  initialState: () => ({ bestAccuracy: null, badEpochs: 0, threshold: null }),
  async checkResume(runDir, config, data) {
    const saved = await readRunTokenizer(runDir);
    if (saved.vocabulary.join('\n') !== data.corpus.tokenizer.vocabulary.join('\n')) {
      throw new CheckpointError(`The data ${config.data.source} no longer gives the vocabulary saved in ${path.join(runDir, TOKENIZER_FILE)}; was the data file changed?`);
    }
  },
  async restore(config, _data, checkpoint: Checkpoint, runDir) {
    if (!checkpoint.optimizerWeights) throw new CheckpointError(`The checkpoint in ${runDir} has no optimizer state, so it cannot be resumed exactly.`);
    const optimizer = await restoreAdam(config.learningRate, checkpoint.optimizerWeights);
    return { views: classifierViews(checkpoint.decoder, config), optimizer };
  },
  trainCount: (data) => data.trainRows,
  startInfo: (run) => ({ corpus: run.data.corpus.stats }),
  beginEpoch: () => ({ loss: 0, recon: 0, kl: 0, ce: 0, batches: 0, rows: 0, weight: 0 }),
  async step(run, acc, ctx) {
    const { config } = run;
    acc.weight = config.model === 'supervised' ? 0 : config.beta * klWeight(config.anneal, ctx.step, ctx.totalSteps);
    const r = update(run, ctx, acc.weight);
    if (r.applied) {
      acc.loss += r.loss;
      acc.recon += r.recon;
      acc.kl += r.kl;
      acc.ce += r.ce;
      acc.batches++;
      acc.rows += ctx.rows.length;
    }
    return { loss: r.loss, applied: r.applied };
  },
  async evaluate(run, onProgress) {
    const { config, data } = run;
    if (config.model === 'm1') await refitM1Head(config, data, run.models.views);
    const C = data.corpus.labelNames.length;
    const probs = await classifyRows(run.models.views, config, data.corpus, data.corpus.valid.ids);
    onProgress(1, 1);
    const truth = data.corpus.valid.labels;
    let ce = 0;
    for (let i = 0; i < truth.length; i++) ce -= Math.log(Math.max(1e-7, probs[i * C + truth[i]!]!));
    const threshold = config.remedy === 'threshold' ? bestThreshold(truth, probs, C, data.corpus.minority) : null;
    const m = metricsWithThreshold(truth, probs, C, data.corpus.minority, threshold);
    return { accuracy: m.accuracy, macroF1: m.macroF1, balancedAccuracy: m.balancedAccuracy, recall: m.recall, crossEntropy: ce / Math.max(1, truth.length), ...(threshold !== null ? { threshold } : {}) };
  },
  heldOutLoss: (m) => m.crossEntropy,
  metricsLine: (run, acc, valid, info) => {
    const perRow = (v: number) => v / Math.max(1, acc.rows);
    const train: ClassifierEpochMetrics['train'] = { loss: acc.loss / Math.max(1, acc.batches) };
    if (run.config.model !== 'supervised') Object.assign(train, { reconstruction: perRow(acc.recon), kl: perRow(acc.kl), klWeight: acc.weight });
    if (run.config.model !== 'm1') train.crossEntropy = perRow(acc.ce);
    return { epoch: info.epoch, train, valid, ...(info.skippedBatches > 0 ? { skippedBatches: info.skippedBatches } : {}), seconds: info.seconds };
  },
  stateMetrics: (v) => ({ accuracy: v.accuracy, macroF1: v.macroF1, balancedAccuracy: v.balancedAccuracy, crossEntropy: v.crossEntropy }),
  endEpoch(run, _acc, line) {
    const s = run.state;
    s.threshold = line.valid.threshold ?? null;
    if (s.bestAccuracy === null || line.valid.accuracy > s.bestAccuracy) {
      s.bestAccuracy = line.valid.accuracy;
      s.badEpochs = 0;
    } else s.badEpochs++;
  },
  stopReason(run) {
    const s = run.state;
    if (run.config.patience > 0 && s.badEpochs >= run.config.patience) return `validation accuracy has not improved for ${s.badEpochs} epochs (best ${s.bestAccuracy!.toFixed(4)})`;
    return undefined;
  },
  // The whole network is one tfjs model, saved in the checkpoint's one required model folder.
  checkpoint: (run) => ({ decoder: run.models.views.net, optimizer: run.models.optimizer }),
  dispose(m) {
    m.optimizer.dispose();
    m.views.net.dispose();
  },
};
