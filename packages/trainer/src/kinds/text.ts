/**
 * The text kind: the sentence VAE with KL annealing, word dropout, free bits, the encoder-only
 * ("aggressive") phase of He et al. (2019), gradient clipping and early stopping; and its
 * language-model baseline (`model: 'lm'`, the same decoder with z = 0 and no encoder). Its training
 * spec for the shared loop ({@link textKind}).
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { ANNEAL_SCHEDULES, TEXT_CELLS, TEXT_EMBEDDING_SOURCES, TOKENIZER_FILE, createRng, noiseSeed, type TextTrainConfig } from '@vaekit/core';
import { readRunTokenizer, writeRunTokenizer } from '@vaekit/core/node';
import type { Checkpoint, NamedTensor } from '../checkpoint.js';
import { loadSentences, prepareCorpus, type TextCorpus } from '../data/text.js';
import { CheckpointError, DataError, TrainerError } from '../errors.js';
import { buildTextVae } from '../models/text.js';
import {
  EMBEDDINGS_FILE,
  PretrainedError,
  applyEmbeddingRows,
  copyWeights,
  embeddingRows,
  freezeEmbeddings,
  initFromRun,
  writeEmbeddingRows,
  type EmbeddingCoverage,
  type EmbeddingRows,
  type InitReport,
} from '../pretrained.js';
import { loadCheckpoint } from '../checkpoint.js';
import { readFileSync } from 'node:fs';
import { klWeight } from '../schedules.js';
import { allFinite, restoreAdam } from '../step.js';
import { evaluateText, textBatchTensors, textLoss, textTerms, type TextEvalMetrics, type TextModels } from '../text-vae.js';
import { reparameterize } from '../losses.js';
import { CRITIC, buildCritic, criticPriorSeed, criticStep, foolCritic, validateTextAdversarial } from '../adversarial/latent.js';
import type { KindRun, TrainingKind } from './types.js';

/** Training-set averages of one epoch. */
export interface TextTrainAverages {
  /** Mean loss actually minimised (annealed, free bits). */
  loss: number;
  reconstruction: number;
  kl: number;
  /** KL weight (annealing times beta) at the end of the epoch. */
  klWeight: number;
  /** Runs with `adversarial` (the latent critic): its training averages. */
  adversarial?: LatentAdversarialAverages;
}

/** Training averages of the latent critic over an epoch (`--adversarial latent`). */
export interface LatentAdversarialAverages {
  /** The encoder's "fool the critic" term, -log sigmoid(C(z)), per sentence (before the weight). */
  fool: number;
  /** The critic's loss (mean over its updates; log 2 = 0.693 when it cannot tell q(z) from the prior). */
  critic: number;
  /** Share of the applied steps whose critic update was applied. */
  criticUpdates: number;
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

/** Extra state of a text run, saved in each checkpoint's state.json. */
export interface TextRunState {
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
  const p = config.pretrained;
  if (p) {
    if (p.embeddings !== undefined && !(TEXT_EMBEDDING_SOURCES as readonly string[]).includes(p.embeddings)) {
      throw new TrainerError(`Unsupported word vectors "${String(p.embeddings)}". Should be one of: ${TEXT_EMBEDDING_SOURCES.join(', ')}.`);
    }
    if (p.freezeEmbeddings && !p.embeddings && !p.init && !p.initDecoder) {
      throw new TrainerError('freezeEmbeddings keeps pretrained embeddings fixed: use it with embeddings, init or initDecoder.');
    }
    if (p.pretrain !== undefined && p.pretrain !== 'ae') throw new TrainerError(`Unsupported pretraining "${String(p.pretrain)}". Should be: ae.`);
    if (p.pretrain && config.model !== 'vae') throw new TrainerError('pretrain ae trains an autoencoder first: it needs model vae.');
    const pe = pretrainEpochs(config);
    if (p.pretrain && !(Number.isInteger(pe) && pe >= 1 && pe < config.epochs)) {
      throw new TrainerError(`pretrainEpochs must be a whole number from 1 to epochs - 1 (${config.epochs - 1}), got ${pe}: the VAE phase needs at least one epoch.`);
    }
  }
  if (config.adversarial !== undefined) validateTextAdversarial(config.adversarial, config.model);
  const d = config.distill;
  if (d) {
    if (config.model !== 'vae') throw new TrainerError('Distillation trains a student VAE: model must be vae.');
    if (!(d.temperature > 0) || !Number.isFinite(d.temperature)) throw new TrainerError(`temperature must be a positive number, got ${d.temperature}.`);
    for (const [name, v] of [['weight', d.weight], ['posteriorWeight', d.posteriorWeight]] as const) {
      if (!(v >= 0) || !Number.isFinite(v)) throw new TrainerError(`distillation ${name} must be a finite number >= 0, got ${v}.`);
    }
  }
}

/** Epochs of the autoencoder phase of `pretrain: 'ae'` (0 without it). */
export function pretrainEpochs(config: TextTrainConfig): number {
  return config.pretrained?.pretrain === 'ae' ? (config.pretrained.pretrainEpochs ?? 1) : 0;
}

/** Reads the corpus a config names and splits it (deterministic for a config). */
export async function loadTextCorpus(config: TextTrainConfig): Promise<TextCorpus> {
  const corpus = prepareCorpus(await loadSentences(config.data.source), config.data, config.seed);
  if (corpus.train.ids.length < config.batchSize) {
    throw new DataError(`The training split has ${corpus.train.ids.length} sentences, fewer than one batch (${config.batchSize}); use a larger corpus or --batch-size.`);
  }
  return corpus;
}

/** Models and optimizers of a text run (`encoder` and its optimizer absent for the baseline). */
export interface TextRunModels {
  models: TextModels;
  encoderOptimizer?: tf.Optimizer;
  decoderOptimizer: tf.Optimizer;
  /** The teacher of a distillation run (frozen, never saved with the student). */
  teacher?: Required<TextModels>;
  /** What the pretrained parts did (a fresh run only), for the start report. */
  pretrained?: TextPretrainedReport;
  /** The latent critic of an adversarial run and its optimizer (training-only: checkpoints, never bundles). */
  critic?: tf.LayersModel;
  criticOptimizer?: tf.Optimizer;
}

/** What a fresh run's pretrained parts did: word-vector coverage and the runs weights came from. */
export interface TextPretrainedReport {
  embeddings?: EmbeddingCoverage;
  init?: InitReport;
  initDecoder?: InitReport;
  frozenEmbeddings?: boolean;
}

interface TextEpoch {
  aggressive: boolean;
  lossSum: number;
  recon: number;
  kl: number;
  /** Batches and sentences of the applied updates. */
  batches: number;
  rows: number;
  encoderSteps: number;
  /** KL weight (annealing times beta) of the epoch's last batch. */
  weight: number;
  /** Adversarial runs: the summed fool term, critic loss and critic updates. */
  fool: number;
  critic: number;
  criticUpdates: number;
}

type Run = KindRun<TextTrainConfig, TextCorpus, TextRunModels, TextRunState>;

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

/** Per-sentence KL between two diagonal Gaussians, KL(N(mu1, e^lv1) || N(mu2, e^lv2)) summed over dimensions, `[B]`. */
function gaussianKlBetween(mu1: tf.Tensor2D, lv1: tf.Tensor2D, mu2: tf.Tensor2D, lv2: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.mul(0.5, tf.sum(tf.sub(lv2, lv1).add(tf.exp(tf.sub(lv1, lv2))).add(tf.square(tf.sub(mu1, mu2)).div(tf.exp(lv2))).sub(1), 1))) as tf.Tensor1D;
}

/**
 * The distillation terms of a batch (Hinton et al. 2015 for the tokens): token-level
 * KL(softmax(teacher / T) || softmax(student / T)) summed over each sentence's tokens, and
 * KL(teacher's q(z|x) || student's q(z|x)); both `[B]`. The teacher decodes its own posterior sample
 * with the student's noise `eps`.
 */
function distillTerms(
  teacherLogits: tf.Tensor3D,
  teacherMu: tf.Tensor2D,
  teacherLogvar: tf.Tensor2D,
  student: { logits: tf.Tensor3D; mu: tf.Tensor2D; logvar: tf.Tensor2D },
  mask: tf.Tensor2D,
  temperature: number,
): { tokens: tf.Tensor1D; posterior: tf.Tensor1D } {
  return tf.tidy(() => {
    const logPt = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const logPs = tf.logSoftmax(tf.div(student.logits, temperature));
    const perToken = tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs)), -1) as tf.Tensor2D;
    return {
      tokens: tf.sum(tf.mul(perToken, mask), 1) as tf.Tensor1D,
      posterior: gaussianKlBetween(teacherMu, teacherLogvar, student.mu, student.logvar),
    };
  });
}

/**
 * One optimizer update on a batch. `update` picks the parameters that change: both halves (joint
 * training), the encoder only, or the decoder only (the two halves of an aggressive-phase round).
 * `autoencoder` (the first phase of `pretrain: 'ae'`) decodes z = mu with no KL term.
 */
function update(run: Run, rows: Int32Array[], seed: number, klScale: number, part: 'joint' | 'encoder' | 'decoder', autoencoder = false) {
  const { config } = run;
  const { models, teacher } = run.models;
  const uniform = createRng(seed).uniform;
  const batch = textBatchTensors(rows, run.data.seqLength, config.wordDropout, uniform);
  const eps = (autoencoder ? tf.zeros([rows.length, config.latent]) : tf.randomNormal([rows.length, config.latent], 0, 1, 'float32', seed)) as tf.Tensor2D;
  const encVars = part === 'decoder' ? [] : variablesOf(models.encoder);
  const decVars = part === 'encoder' ? [] : variablesOf(models.decoder);
  const distill = config.distill;
  // The teacher's outputs are constants of the step (no gradient flows into the teacher).
  const fromTeacher =
    teacher && distill
      ? tf.tidy(() => {
          const [mu, logvar] = teacher.encoder.apply(batch.target) as tf.Tensor2D[];
          const logits = teacher.decoder.apply([batch.decoderInput, reparameterize(mu!, logvar!, eps)]) as tf.Tensor3D;
          return { mu: mu!, logvar: logvar!, logits };
        })
      : undefined;
  let sums: tf.Tensor | undefined;
  // Adversarial runs: the posterior samples of this update (for the critic's update) and the encoder's
  // "fool the critic" term, added when the encoder learns (not in the autoencoder phase).
  const critic = config.adversarial ? run.models.critic : undefined;
  const foolWeight = critic && encVars.length && !autoencoder ? config.adversarial!.weight : 0;
  let zPost: tf.Tensor2D | undefined;
  let fool = 0;
  const { value, grads } = tf.variableGrads(() => {
    const terms = textTerms(models, batch, eps, true, fromTeacher !== undefined);
    let adversarialTerm: tf.Tensor1D | undefined;
    if (critic && terms.mu) {
      const z = reparameterize(terms.mu, terms.logvar!, eps);
      zPost = tf.keep(z);
      adversarialTerm = foolCritic(critic, z);
      sums = tf.keep(tf.stack([terms.reconstruction.sum(), terms.klPerDim.sum(), adversarialTerm.sum()]));
    } else {
      sums = tf.keep(tf.stack([terms.reconstruction.sum(), terms.klPerDim.sum()]));
    }
    let loss = textLoss(terms, klScale, config.freeBits);
    if (adversarialTerm && foolWeight > 0) loss = loss.add(adversarialTerm.mean().mul(foolWeight)) as tf.Scalar;
    if (!fromTeacher) return loss;
    const d = distillTerms(fromTeacher.logits, fromTeacher.mu, fromTeacher.logvar, { logits: terms.logits!, mu: terms.mu!, logvar: terms.logvar! }, batch.mask, distill!.temperature);
    return loss.add(d.tokens.mean().mul(distill!.weight * distill!.temperature ** 2)).add(d.posterior.mean().mul(distill!.posteriorWeight)) as tf.Scalar;
  }, [...encVars, ...decVars]);
  const clipped = clipByGlobalNorm(grads, config.clipNorm);
  // A NaN or infinite loss or gradient is never applied: the weights stay those of the last good step.
  const applied = allFinite(value, clipped);
  const pick = (vars: tf.Variable[]) => Object.fromEntries(vars.map((v) => [v.name, clipped[v.name]!]));
  if (applied && encVars.length) run.models.encoderOptimizer!.applyGradients(pick(encVars));
  if (applied && decVars.length) run.models.decoderOptimizer.applyGradients(pick(decVars));
  const loss = value.dataSync()[0]!;
  const [recon, kl, foolSum] = sums!.dataSync();
  if (foolSum !== undefined) fool = foolSum;
  tf.dispose([value, sums!, eps, batch.target, batch.decoderInput, batch.mask, ...Object.values(clipped), ...(fromTeacher ? Object.values(fromTeacher) : [])]);
  const kept = zPost as tf.Tensor2D | undefined;
  return { loss, recon: recon!, kl: kl!, applied, fool, ...(kept ? { zPost: kept } : {}) };
}

function aggressiveActive(run: Run, epoch: number): boolean {
  const a = run.config.aggressive;
  if (run.config.model === 'lm' || a === 'off') return false;
  if (typeof a === 'number') return epoch <= a;
  return run.state.aggressiveOn;
}

async function restoreOptimizer(learningRate: number, weights: NamedTensor[] | undefined, runDir: string, name: string): Promise<tf.Optimizer> {
  if (!weights) throw new CheckpointError(`The checkpoint in ${runDir} has no ${name} optimizer state, so it cannot be resumed exactly.`);
  return restoreAdam(learningRate, weights);
}

/**
 * Applies `config.pretrained` to freshly built models: weights of earlier runs (`init`, then
 * `initDecoder`), word vectors (cached in `runDir`), frozen embeddings.
 */
async function applyPretrained(config: TextTrainConfig, corpus: TextCorpus, models: TextModels, runDir: string): Promise<TextPretrainedReport | undefined> {
  const p = config.pretrained;
  if (!p) return undefined;
  const report: TextPretrainedReport = {};
  if (p.init) report.init = await initFromRun(models, corpus.tokenizer, config, p.init, 'all');
  if (p.initDecoder) report.initDecoder = await initFromRun(models, corpus.tokenizer, config, p.initDecoder, 'decoder');
  if (p.embeddings) {
    const rows = await embeddingRows(p.embeddings, corpus.tokenizer, corpus.train.ids);
    if (rows.dim !== config.embedding) {
      throw new PretrainedError(`The ${p.embeddings} vectors have ${rows.dim} dimensions; the embedding size must be ${rows.dim} (--embedding ${rows.dim}), got ${config.embedding}.`);
    }
    applyEmbeddingRows(models, rows);
    await writeEmbeddingRows(runDir, rows);
    const { rows: _rows, ...coverage } = rows;
    report.embeddings = coverage;
  }
  if (p.freezeEmbeddings) {
    freezeEmbeddings(models);
    report.frozenEmbeddings = true;
  }
  return report;
}

/** The end of the autoencoder phase: the decoder (and its optimizer) as at initialisation, word vectors and freezing kept. */
function resetDecoder(run: Run): void {
  const { config } = run;
  const fresh = buildTextVae(config, { vocabSize: run.data.tokenizer.vocabSize, seqLength: run.data.seqLength });
  try {
    copyWeights(fresh.decoder, run.models.models.decoder);
  } finally {
    fresh.encoder.dispose();
    fresh.decoder.dispose();
  }
  if (config.pretrained?.embeddings) {
    const rows = JSON.parse(readFileSync(path.join(run.runDir, EMBEDDINGS_FILE), 'utf8')) as EmbeddingRows;
    applyEmbeddingRows({ decoder: run.models.models.decoder }, rows);
  }
  run.models.decoderOptimizer.dispose();
  run.models.decoderOptimizer = tf.train.adam(config.learningRate);
}

/** The teacher of a distillation run: its newest checkpoint, which must still be the one the student started from, with the student's vocabulary. */
async function loadTeacher(config: TextTrainConfig, corpus: TextCorpus): Promise<Required<TextModels>> {
  const d = config.distill!;
  const checkpoint = await loadCheckpoint(d.teacher, { optimizer: false }).catch((err: Error) => {
    throw new PretrainedError(`The teacher run ${d.teacher} cannot be read: ${err.message}`);
  });
  try {
    if (checkpoint.config.kind !== 'text' || checkpoint.config.model !== 'vae' || !checkpoint.encoder) {
      throw new PretrainedError(`The teacher ${d.teacher} is not a sentence VAE run (vaekit train text --model vae).`);
    }
    if (checkpoint.state.epoch !== d.teacherEpoch) {
      throw new PretrainedError(`The teacher ${d.teacher} is now at epoch ${checkpoint.state.epoch}; this student learned from its epoch ${d.teacherEpoch}, so it cannot be continued exactly.`);
    }
    if (checkpoint.config.latent !== config.latent) {
      throw new PretrainedError(`The teacher's latent size is ${checkpoint.config.latent}; the student's must be the same, got ${config.latent}.`);
    }
    const vocabulary = await readRunTokenizer(d.teacher);
    if (vocabulary.vocabulary.join('\n') !== corpus.tokenizer.vocabulary.join('\n')) {
      throw new PretrainedError(`The teacher ${d.teacher} has another vocabulary than the student's data; the student must use the teacher's data options.`);
    }
    checkpoint.disposeOptimizerState();
    return { encoder: checkpoint.encoder, decoder: checkpoint.decoder };
  } catch (err) {
    checkpoint.dispose();
    throw err;
  }
}

/** The text kind's training spec. */
export const textKind: TrainingKind<
  TextTrainConfig,
  TextCorpus,
  TextRunModels,
  TextRunState,
  TextEpoch,
  TextEvalMetrics,
  TextEpochMetrics,
  { corpus: TextCorpus['stats']; pretrained?: TextPretrainedReport },
  { aggressive: boolean }
> = {
  kind: 'text',
  advice: 'Lower the learning rate or use --clip-norm',
  stateKey: 'text',
  validate: validateTextConfig,
  loadData: loadTextCorpus,
  writeRunFiles: (runDir, _config, corpus) => writeRunTokenizer(runDir, corpus.tokenizer),
  async build(config, corpus, runDir) {
    const { encoder, decoder } = buildTextVae(config, { vocabSize: corpus.tokenizer.vocabSize, seqLength: corpus.seqLength });
    if (config.model === 'lm') encoder.dispose();
    const models: TextModels = config.model === 'lm' ? { decoder } : { encoder, decoder };
    let teacher: Required<TextModels> | undefined;
    try {
      const pretrained = await applyPretrained(config, corpus, models, runDir);
      if (config.distill) teacher = await loadTeacher(config, corpus);
      const adversarial = config.adversarial
        ? { critic: buildCritic(config as TextTrainConfig & { adversarial: NonNullable<TextTrainConfig['adversarial']> }), criticOptimizer: tf.train.adam(config.adversarial.criticLearningRate) }
        : {};
      return {
        models,
        ...adversarial,
        ...(config.model === 'vae' ? { encoderOptimizer: tf.train.adam(config.learningRate) } : {}),
        decoderOptimizer: tf.train.adam(config.learningRate),
        ...(teacher ? { teacher } : {}),
        ...(pretrained ? { pretrained } : {}),
      };
    } catch (err) {
      models.encoder?.dispose();
      models.decoder.dispose();
      throw err;
    }
  },
  initialState: (config) => ({ aggressiveOn: config.aggressive !== 'off', bestMi: null, bestValid: null, badEpochs: 0 }),
  async checkResume(runDir, config, corpus) {
    const saved = await readRunTokenizer(runDir);
    if (saved.vocabulary.join('\n') !== corpus.tokenizer.vocabulary.join('\n')) {
      throw new CheckpointError(`The corpus ${config.data.source} no longer gives the vocabulary saved in ${path.join(runDir, TOKENIZER_FILE)}; was the data file changed?`);
    }
  },
  async restore(config, corpus, checkpoint: Checkpoint, runDir) {
    const states = checkpoint.optimizerStates ?? {};
    const isVae = config.model === 'vae';
    if (isVae && !checkpoint.encoder) throw new CheckpointError(`The checkpoint in ${runDir} has no encoder.`);
    const decoderOptimizer = await restoreOptimizer(config.learningRate, states.decoder, runDir, 'decoder');
    let encoderOptimizer: tf.Optimizer | undefined;
    try {
      if (isVae) encoderOptimizer = await restoreOptimizer(config.learningRate, states.encoder, runDir, 'encoder');
    } catch (err) {
      decoderOptimizer.dispose();
      throw err;
    }
    let adversarial: { critic: tf.LayersModel; criticOptimizer: tf.Optimizer } | undefined;
    if (config.adversarial) {
      const critic = checkpoint.trainingModels?.[CRITIC];
      const criticState = checkpoint.optimizerStates?.[CRITIC];
      if (!critic || !criticState) {
        decoderOptimizer.dispose();
        encoderOptimizer?.dispose();
        throw new CheckpointError(`The checkpoint in ${runDir} has no latent critic (or its optimizer state), so this adversarial run cannot be resumed exactly.`);
      }
      adversarial = { critic, criticOptimizer: await restoreAdam(config.adversarial.criticLearningRate, criticState) };
    }
    if (!isVae) checkpoint.encoder?.dispose();
    const models: TextModels = isVae ? { encoder: checkpoint.encoder!, decoder: checkpoint.decoder } : { decoder: checkpoint.decoder };
    if (config.pretrained?.freezeEmbeddings) freezeEmbeddings(models);
    let teacher: Required<TextModels> | undefined;
    try {
      if (config.distill) teacher = await loadTeacher(config, corpus);
    } catch (err) {
      decoderOptimizer.dispose();
      encoderOptimizer?.dispose();
      adversarial?.criticOptimizer.dispose();
      throw err;
    }
    return { models, ...(encoderOptimizer ? { encoderOptimizer } : {}), decoderOptimizer, ...(teacher ? { teacher } : {}), ...(adversarial ?? {}) };
  },
  trainCount: (corpus) => corpus.train.ids.length,
  startInfo: (run) => ({ corpus: run.data.stats, ...(run.models.pretrained ? { pretrained: run.models.pretrained } : {}) }),
  beginEpoch(run, epoch) {
    const p = pretrainEpochs(run.config);
    // Li et al. (2019): after the autoencoder phase the decoder starts again from its initialisation.
    if (p > 0 && epoch === p + 1) resetDecoder(run);
    return { aggressive: epoch > p && aggressiveActive(run, epoch - p), lossSum: 0, recon: 0, kl: 0, batches: 0, rows: 0, encoderSteps: 0, weight: 0, fool: 0, critic: 0, criticUpdates: 0 };
  },
  async step(run, acc, ctx) {
    const { config } = run;
    const train = run.data.train.ids;
    const rows = ctx.rows.map((i) => train[i]!);
    const aeSteps = pretrainEpochs(config) * ctx.batches;
    const autoencoder = ctx.step < aeSteps;
    // With AE pretraining the KL annealing starts with the VAE phase.
    acc.weight = config.model === 'lm' || autoencoder ? 0 : config.beta * klWeight(config.anneal, ctx.step - aeSteps, ctx.totalSteps - aeSteps);
    const noise = noiseSeed(config.seed, ctx.step);
    if (acc.aggressive) {
      // He et al. (2019): update the encoder alone on fresh batches until its loss stops improving
      // (summed over windows of a fifth of the cap, as their 15-of-100), at most aggressiveMaxSteps
      // times; then the decoder once on the batch. Sub-update `sub` draws from noiseSeed + sub.
      const windowSize = Math.max(1, Math.ceil(config.aggressiveMaxSteps / 5));
      let previous = Infinity;
      let window = 0;
      let burnRows = rows;
      for (let sub = 1; sub <= config.aggressiveMaxSteps; sub++) {
        const r = update(run, burnRows, noise + sub, acc.weight, 'encoder');
        r.zPost?.dispose();
        if (!ctx.accept(r)) break;
        acc.encoderSteps++;
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
    const r = update(run, rows, noise, acc.weight, acc.aggressive ? 'decoder' : 'joint', autoencoder);
    try {
      if (r.applied) {
        acc.lossSum += r.loss;
        acc.recon += r.recon;
        acc.kl += r.kl;
        acc.fool += r.fool;
        acc.batches++;
        acc.rows += rows.length;
        // The critic learns from this update's posterior samples against fresh prior draws (not during
        // the autoencoder phase, where the encoder gets no adversarial term).
        const { critic, criticOptimizer } = run.models;
        if (critic && criticOptimizer && r.zPost && !autoencoder) {
          const c = await criticStep(critic, criticOptimizer, r.zPost, criticPriorSeed(noise), ctx.accept);
          if (c.applied) {
            acc.critic += c.loss;
            acc.criticUpdates++;
          }
        }
      }
    } finally {
      r.zPost?.dispose();
    }
    return { loss: r.loss, applied: r.applied, batchInfo: { aggressive: acc.aggressive } };
  },
  evaluate: (run, onProgress) =>
    evaluateText(run.models.models, run.data.valid, { seqLength: run.data.seqLength, seed: run.config.seed, onProgress: (done, total) => onProgress(done, total) }),
  heldOutLoss: (m) => m.elbo,
  metricsLine: (run, acc, valid, info) => ({
    epoch: info.epoch,
    train: {
      loss: acc.lossSum / acc.batches,
      reconstruction: acc.recon / acc.rows,
      kl: acc.kl / acc.rows,
      klWeight: acc.weight,
      ...(run.config.adversarial ? { adversarial: { fool: acc.fool / acc.rows, critic: acc.critic / Math.max(1, acc.criticUpdates), criticUpdates: acc.criticUpdates / Math.max(1, acc.batches) } } : {}),
    },
    valid,
    aggressive: acc.aggressive,
    encoderSteps: acc.encoderSteps,
    ...(info.skippedBatches > 0 ? { skippedBatches: info.skippedBatches } : {}),
    seconds: info.seconds,
  }),
  stateMetrics: (v) => ({ elbo: v.elbo, reconstruction: v.reconstruction, kl: v.kl, ...(v.mi !== undefined ? { mi: v.mi, au: v.au! } : {}) }),
  endEpoch(run, acc, line, notice) {
    const rs = run.state;
    if (acc.aggressive && run.config.aggressive === 'auto') {
      const mi = line.valid.mi ?? 0;
      if (rs.bestMi !== null && mi <= rs.bestMi) {
        rs.aggressiveOn = false;
        notice(`Held-out mutual information stopped rising (${mi.toFixed(3)} <= ${rs.bestMi.toFixed(3)}): encoder-only phase off, joint training from epoch ${line.epoch + 1}.`);
      }
      rs.bestMi = Math.max(rs.bestMi ?? -Infinity, mi);
    }
    if (rs.bestValid === null || line.valid.elbo < rs.bestValid) {
      rs.bestValid = line.valid.elbo;
      rs.badEpochs = 0;
    } else {
      rs.badEpochs++;
    }
  },
  stopReason(run) {
    const rs = run.state;
    if (run.config.patience > 0 && rs.badEpochs >= run.config.patience) {
      return `held-out -ELBO has not improved for ${rs.badEpochs} epochs (best ${rs.bestValid!.toFixed(3)})`;
    }
    return undefined;
  },
  checkpoint: (run) => ({
    ...(run.models.models.encoder ? { encoder: run.models.models.encoder } : {}),
    decoder: run.models.models.decoder,
    optimizers: {
      decoder: run.models.decoderOptimizer,
      ...(run.models.encoderOptimizer ? { encoder: run.models.encoderOptimizer } : {}),
      ...(run.models.criticOptimizer ? { [CRITIC]: run.models.criticOptimizer } : {}),
    },
    ...(run.models.critic ? { trainingModels: { [CRITIC]: run.models.critic } } : {}),
  }),
  dispose(m) {
    m.criticOptimizer?.dispose();
    m.critic?.dispose();
    m.teacher?.encoder.dispose();
    m.teacher?.decoder.dispose();
    m.encoderOptimizer?.dispose();
    m.decoderOptimizer.dispose();
    m.models.encoder?.dispose();
    m.models.decoder.dispose();
  },
};
