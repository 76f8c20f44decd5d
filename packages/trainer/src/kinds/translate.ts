/**
 * The translate kind: the attention encoder-decoder, its VNMT latent (`latent > 0`) and variational
 * attention, trained on sentence pairs. Its training spec for the shared loop ({@link translateKind}),
 * the `--init` warm start from a baseline run, and the use-case wrappers.
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import {
  ANNEAL_SCHEDULES,
  ATTENTION_KINDS,
  ATTENTION_SCORES,
  CONFIG_FILE,
  SEQ2SEQ_MODEL,
  WordTokenizer,
  createRng,
  noiseSeed,
  type TranslateTrainConfig,
} from '@vaekit/core';
import { readRunJson, writeFileAtomic } from '@vaekit/core/node';
import { loadCheckpoint, type Checkpoint } from '../checkpoint.js';
import { prepareParallel, readParallelTsv, type ParallelCorpus } from '../data/parallel.js';
import { CheckpointError, DataError, TrainerError } from '../errors.js';
import { resumeRun, trainRun, type RunHooks, type RunResult } from '../loop.js';
import { buildSeq2Seq, seq2seqDims, type Seq2SeqModels } from '../models/seq2seq.js';
import { klWeight } from '../schedules.js';
import { allFinite, restoreAdam, type TrainOptions } from '../step.js';
import { disposeNoise, disposePair, drawNoise, evaluateSeq2Seq, pairTensors, scoreTranslations, seq2seqLoss, seq2seqTerms, type Seq2SeqEvalMetrics, type TranslationScores } from '../seq2seq.js';
import { registerTrainingKind } from './registry.js';
import type { KindRun, TrainingKind } from './types.js';

/** Training-set averages of one epoch. */
export interface TranslateTrainAverages {
  loss: number;
  reconstruction: number;
  kl: number;
  klAttention: number;
  /** KL weight (annealing times beta) at the end of the epoch. */
  klWeight: number;
}

/** One line of `metrics.jsonl` of a translation run. */
export interface TranslateEpochMetrics {
  epoch: number;
  train: TranslateTrainAverages;
  valid: Seq2SeqEvalMetrics;
  seconds: number;
  skippedBatches?: number;
}

/** Models and the optimizer of a translation run. */
export interface TranslateRunModels {
  models: Seq2SeqModels;
  optimizer: tf.Optimizer;
}

interface TranslateEpoch {
  lossSum: number;
  recon: number;
  kl: number;
  klAtt: number;
  batches: number;
  rows: number;
  weight: number;
}

type Run = KindRun<TranslateTrainConfig, ParallelCorpus, TranslateRunModels, Record<string, never>>;

/** Validates a translation configuration; throws {@link TrainerError} naming the bad field and what is accepted. */
export function validateTranslateConfig(config: TranslateTrainConfig): void {
  const positiveInts: Array<[string, number]> = [
    ['epochs', config.epochs],
    ['batchSize', config.batchSize],
    ['embedding', config.embedding],
    ['hidden', config.hidden],
    ['maxTokens', config.data?.maxTokens],
    ['minCount', config.data?.minCount],
    ['maxVocab', config.data?.maxVocab],
  ];
  for (const [name, v] of positiveInts) {
    if (!Number.isInteger(v) || v <= 0 || v > 1_000_000) throw new TrainerError(`${name} must be a positive integer (at most 1000000), got ${v}.`);
  }
  const nonNegative: Array<[string, number]> = [
    ['latent', config.latent],
    ['beta', config.beta],
    ['attentionBeta', config.attentionBeta],
    ['freeBits', config.freeBits],
    ['clipNorm', config.clipNorm],
    ['trainLimit', config.data.trainLimit],
    ['evalLimit', config.data.evalLimit],
  ];
  for (const [name, v] of nonNegative) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new TrainerError(`${name} must be a finite number >= 0, got ${v}.`);
  }
  if (!Number.isInteger(config.latent) || config.latent > 4096) throw new TrainerError(`latent must be an integer from 0 to 4096, got ${config.latent}.`);
  if (!(config.learningRate > 0) || !Number.isFinite(config.learningRate)) throw new TrainerError(`learningRate must be > 0, got ${config.learningRate}.`);
  if (config.learningRateFinal !== undefined && (!(config.learningRateFinal > 0) || !Number.isFinite(config.learningRateFinal))) {
    throw new TrainerError(`learningRateFinal must be > 0, got ${config.learningRateFinal}.`);
  }
  if (!(config.wordDropout >= 0 && config.wordDropout < 1)) throw new TrainerError(`wordDropout must be in [0, 1), got ${config.wordDropout}.`);
  for (const [name, v] of [['validFraction', config.data.validFraction], ['testFraction', config.data.testFraction]] as const) {
    if (!(v > 0 && v < 0.5)) throw new TrainerError(`${name} must be in (0, 0.5), got ${v}.`);
  }
  if (!ATTENTION_KINDS.includes(config.attention)) {
    throw new TrainerError(`Unsupported attention "${String(config.attention)}". Should be one of: ${ATTENTION_KINDS.join(', ')}.`);
  }
  if (!ATTENTION_SCORES.includes(config.attentionScore)) {
    throw new TrainerError(`Unsupported attention score "${String(config.attentionScore)}". Should be one of: ${ATTENTION_SCORES.join(', ')}.`);
  }
  if (!ANNEAL_SCHEDULES.includes(config.anneal.schedule)) {
    throw new TrainerError(`Unsupported KL annealing "${String(config.anneal.schedule)}". Should be one of: ${ANNEAL_SCHEDULES.join(', ')}.`);
  }
  if (typeof config.data.source !== 'string' || config.data.source === '') throw new TrainerError('data.source must name a TSV file of sentence pairs (--data FILE.tsv).');
  if (config.init !== undefined && typeof config.init !== 'string') throw new TrainerError('init must name a run folder.');
}

/** Reads and splits the pairs a configuration names (deterministic for a configuration). */
export async function loadTranslateCorpus(config: TranslateTrainConfig): Promise<ParallelCorpus> {
  const corpus = prepareParallel(await readParallelTsv(config.data.source, config.data.reverse), config.data, config.seed);
  if (corpus.train.source.length < config.batchSize) {
    throw new DataError(`The training split has ${corpus.train.source.length} pairs, fewer than one batch (${config.batchSize}); use more data or --batch-size.`);
  }
  return corpus;
}

const F = SEQ2SEQ_MODEL;

/** Reads the two tokenizers of a translation run folder. */
export async function readTranslateTokenizers(runDir: string): Promise<{ source: WordTokenizer; target: WordTokenizer }> {
  const read = async (file: string) => WordTokenizer.fromJSON(await readRunJson<unknown>(path.join(runDir, file), 'Tokenizer'));
  return { source: await read(F.sourceTokenizerFile), target: await read(F.targetTokenizerFile) };
}

function variables(models: Seq2SeqModels): tf.Variable[] {
  return [...models.encoder.trainableWeights, ...models.decoder.trainableWeights].map((w) => w.read() as tf.Variable);
}

function clipByGlobalNorm(grads: tf.NamedTensorMap, clipNorm: number): tf.NamedTensorMap {
  if (!(clipNorm > 0)) return grads;
  const norm = tf.tidy(() => tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))).dataSync()[0]!);
  if (!(norm > clipNorm)) return grads;
  const clipped: tf.NamedTensorMap = {};
  for (const [name, g] of Object.entries(grads)) {
    clipped[name] = tf.mul(g, clipNorm / norm);
    g.dispose();
  }
  return clipped;
}

/**
 * The learning rate of step `step` (0-based) of `totalSteps`: `learningRate` falling linearly to
 * `learningRateFinal` at the last step, or constant without `learningRateFinal`.
 */
export function translateLearningRate(config: Pick<TranslateTrainConfig, 'learningRate' | 'learningRateFinal'>, step: number, totalSteps: number): number {
  const final = config.learningRateFinal;
  if (final === undefined || totalSteps <= 1) return config.learningRate;
  const t = Math.min(1, Math.max(0, step / (totalSteps - 1)));
  return config.learningRate + (final - config.learningRate) * t;
}

/** The weights of a baseline run read for `--init`, by layer name, with the run's sizes. */
export interface InitWeights {
  dir: string;
  layers: Map<string, tf.Tensor[]>;
  dims: ReturnType<typeof seq2seqDims>;
  dispose(): void;
}

/**
 * Reads the weights of the run `initDir` for a warm start (`--init`, VNMT's recipe). Throws
 * {@link TrainerError} when it is not a translate run or was trained on other vocabularies.
 */
export async function readInitWeights(initDir: string, corpus: ParallelCorpus): Promise<InitWeights> {
  let kind: unknown;
  try {
    kind = (await readRunJson<{ kind?: unknown }>(path.join(initDir, CONFIG_FILE), 'Run configuration'))?.kind;
  } catch (err) {
    throw new TrainerError(`--init ${initDir} is not a vaekit run folder: ${(err as Error).message}`);
  }
  if (kind !== 'translate') throw new TrainerError(`--init ${initDir} is a ${String(kind)} run; it must be a translate run (an attention baseline).`);
  const tokenizers = await readTranslateTokenizers(initDir);
  if (tokenizers.source.vocabulary.join('\n') !== corpus.sourceTokenizer.vocabulary.join('\n') || tokenizers.target.vocabulary.join('\n') !== corpus.targetTokenizer.vocabulary.join('\n')) {
    throw new TrainerError(`--init ${initDir} was trained with other vocabularies; use the same data, --max-tokens, --min-count and seed.`);
  }
  const checkpoint = await loadCheckpoint(initDir, { optimizer: false });
  try {
    if (!checkpoint.encoder) throw new TrainerError(`--init ${initDir} has no encoder.`);
    const models = { encoder: checkpoint.encoder, decoder: checkpoint.decoder };
    const layers = new Map<string, tf.Tensor[]>();
    for (const model of [models.encoder, models.decoder]) {
      for (const layer of model.layers) {
        const w = layer.getWeights();
        if (w.length > 0) layers.set(layer.name, w.map((t) => t.clone()));
      }
    }
    const dims = seq2seqDims(models);
    return { dir: initDir, layers, dims, dispose: () => tf.dispose([...layers.values()].flat()) };
  } finally {
    checkpoint.dispose();
  }
}

/**
 * Copies a baseline's weights into fresh models: every layer with the same name and shapes; a kernel
 * that only gained input rows for z (the decoder GRU, the attentional layer) gets the baseline's rows and
 * zeros for z, so the warm-started model starts out translating exactly as the baseline. Throws
 * {@link TrainerError} when the sizes differ. Returns the number of layers copied.
 */
export function applyInitWeights(models: Seq2SeqModels, init: InitWeights): number {
  const want = seq2seqDims(models);
  for (const key of ['embedding', 'hidden', 'seqLength', 'attentionScore'] as const) {
    if (init.dims[key] !== want[key]) throw new TrainerError(`--init ${init.dir} has ${key} ${init.dims[key]}, this run ${want[key]}; they must match.`);
  }
  let copied = 0;
  for (const model of [models.encoder, models.decoder]) {
    for (const layer of model.layers) {
      const src = init.layers.get(layer.name);
      const dst = layer.getWeights();
      if (!src || src.length !== dst.length || src.length === 0) continue;
      const merged: Array<tf.Tensor | null> = src.map((w, i) => {
        const d = dst[i]!;
        if (tf.util.arraysEqual(w.shape, d.shape)) return w.clone();
        // Extra input rows (z) in a kernel: the baseline's rows first, zeros for the new ones.
        if (w.rank === 2 && d.rank === 2 && w.shape[1] === d.shape[1] && w.shape[0]! < d.shape[0]!) {
          return tf.tidy(() => tf.concat([w, tf.zeros([d.shape[0]! - w.shape[0]!, d.shape[1]!])], 0));
        }
        return null;
      });
      if (merged.every((m) => m !== null)) {
        layer.setWeights(merged as tf.Tensor[]);
        copied++;
      }
      tf.dispose(merged.filter((m): m is tf.Tensor => m !== null));
    }
  }
  if (copied === 0) throw new TrainerError(`--init ${init.dir}: no layer of that run fits this model.`);
  return copied;
}

/** The translate kind's training spec. */
export const translateKind: TrainingKind<
  TranslateTrainConfig,
  ParallelCorpus,
  TranslateRunModels,
  Record<string, never>,
  TranslateEpoch,
  Seq2SeqEvalMetrics,
  TranslateEpochMetrics,
  { corpus: ParallelCorpus['stats'] }
> = {
  kind: 'translate',
  advice: 'Lower the learning rate or --clip-norm',
  validate: validateTranslateConfig,
  loadData: loadTranslateCorpus,
  async writeRunFiles(runDir, _config, corpus) {
    await writeFileAtomic(path.join(runDir, F.sourceTokenizerFile), JSON.stringify(corpus.sourceTokenizer.toJSON(), null, 2) + '\n');
    await writeFileAtomic(path.join(runDir, F.targetTokenizerFile), JSON.stringify(corpus.targetTokenizer.toJSON(), null, 2) + '\n');
  },
  build(config, corpus) {
    const models = buildSeq2Seq(config, { sourceVocab: corpus.sourceTokenizer.vocabSize, targetVocab: corpus.targetTokenizer.vocabSize, seqLength: corpus.seqLength });
    return { models, optimizer: tf.train.adam(config.learningRate) };
  },
  initialState: () => ({}),
  async checkResume(runDir, config, corpus) {
    const saved = await readTranslateTokenizers(runDir);
    if (saved.source.vocabulary.join('\n') !== corpus.sourceTokenizer.vocabulary.join('\n') || saved.target.vocabulary.join('\n') !== corpus.targetTokenizer.vocabulary.join('\n')) {
      throw new CheckpointError(`The data ${config.data.source} no longer gives the vocabularies saved in ${runDir}; was the data file changed?`);
    }
  },
  async restore(config, _corpus, checkpoint: Checkpoint, runDir) {
    if (!checkpoint.encoder) throw new CheckpointError(`The checkpoint in ${runDir} has no encoder.`);
    if (!checkpoint.optimizerWeights) throw new CheckpointError(`The checkpoint in ${runDir} has no optimizer state, so it cannot be resumed exactly.`);
    const optimizer = await restoreAdam(config.learningRate, checkpoint.optimizerWeights);
    return { models: { encoder: checkpoint.encoder, decoder: checkpoint.decoder }, optimizer };
  },
  trainCount: (corpus) => corpus.train.source.length,
  startInfo: (run) => ({ corpus: run.data.stats }),
  beginEpoch: () => ({ lossSum: 0, recon: 0, kl: 0, klAtt: 0, batches: 0, rows: 0, weight: 0 }),
  async step(run, acc, ctx) {
    const { config } = run;
    const { models } = run.models;
    const train = run.data.train;
    const noise = noiseSeed(config.seed, ctx.step);
    const anneal = klWeight(config.anneal, ctx.step, ctx.totalSteps);
    acc.weight = config.beta * anneal;
    const uniform = createRng(noise).uniform;
    const batch = pairTensors(ctx.rows.map((i) => train.source[i]!), ctx.rows.map((i) => train.target[i]!), run.data.seqLength, config.wordDropout, uniform);
    const eps = drawNoise(models, ctx.rows.length, noise);
    let sums: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const terms = seq2seqTerms(models, batch, eps, true);
      sums = tf.keep(
        tf.stack([terms.reconstruction.sum(), terms.klPerDim ? terms.klPerDim.sum() : tf.scalar(0), terms.klAttention ? terms.klAttention.sum() : tf.scalar(0)]),
      );
      return seq2seqLoss(terms, acc.weight, config.freeBits, config.attentionBeta * anneal);
    }, variables(models));
    const clipped = clipByGlobalNorm(grads, config.clipNorm);
    const applied = allFinite(value, clipped);
    if (applied) {
      // tfjs' Adam (and vaekit's native Adam) read `learningRate` at every update.
      (run.models.optimizer as unknown as { learningRate: number }).learningRate = translateLearningRate(config, ctx.step, ctx.totalSteps);
      run.models.optimizer.applyGradients(clipped);
    }
    const loss = value.dataSync()[0]!;
    const [recon, kl, klAtt] = sums!.dataSync();
    tf.dispose([value, sums!, ...Object.values(clipped)]);
    disposePair(batch);
    disposeNoise(eps);
    if (applied) {
      acc.lossSum += loss;
      acc.recon += recon!;
      acc.kl += kl!;
      acc.klAtt += klAtt!;
      acc.batches++;
      acc.rows += ctx.rows.length;
    }
    return { loss, applied };
  },
  evaluate: (run, onProgress) => evaluateSeq2Seq(run.models.models, run.data.valid, { seed: run.config.seed, onProgress }),
  heldOutLoss: (m) => m.loss,
  metricsLine: (_run, acc, valid, info) => ({
    epoch: info.epoch,
    train: { loss: acc.lossSum / acc.batches, reconstruction: acc.recon / acc.rows, kl: acc.kl / acc.rows, klAttention: acc.klAtt / acc.rows, klWeight: acc.weight },
    valid,
    ...(info.skippedBatches > 0 ? { skippedBatches: info.skippedBatches } : {}),
    seconds: info.seconds,
  }),
  stateMetrics: (v) => ({ loss: v.loss, reconstruction: v.reconstruction, kl: v.kl, klAttention: v.klAttention, ppl: v.ppl }),
  checkpoint: (run) => ({ encoder: run.models.models.encoder, decoder: run.models.models.decoder, optimizer: run.models.optimizer }),
  dispose(m) {
    m.optimizer.dispose();
    m.models.encoder.dispose();
    m.models.decoder.dispose();
  },
};

registerTrainingKind(translateKind);

/** Hooks of a translation run. */
export type TranslateHooks = RunHooks<{ corpus: ParallelCorpus['stats'] } & { batchesPerEpoch: number; epochs: number; startEpoch: number }, TranslateEpochMetrics>;

/**
 * Trains a translator into `runDir` (`config.json`, both tokenizers, `metrics.jsonl`, a checkpoint per
 * epoch). With `config.init` the models start from that baseline run's weights ({@link applyInitWeights});
 * a bad `--init` is refused before anything is written.
 */
export async function trainTranslate(config: TranslateTrainConfig, runDir: string, hooks: TranslateHooks = {}, options: TrainOptions = {}): Promise<RunResult<TranslateEpochMetrics>> {
  if (config.init === undefined) return trainRun(translateKind, config, runDir, hooks as never, options);
  validateTranslateConfig(config);
  const corpus = await loadTranslateCorpus(config);
  const init = await readInitWeights(config.init, corpus);
  try {
    const kind: typeof translateKind = {
      ...translateKind,
      loadData: async () => corpus,
      async build(c, d, runDir) {
        const built = await translateKind.build(c, d, runDir);
        try {
          applyInitWeights(built.models, init);
        } catch (err) {
          translateKind.dispose(built);
          throw err;
        }
        return built;
      },
    };
    return await trainRun(kind, config, runDir, hooks as never, options);
  } finally {
    init.dispose();
  }
}

/** Continues a translation run from its newest checkpoint (see `resumeRun`). */
export async function resumeTranslate(runDir: string, hooks: TranslateHooks = {}, options: { epochs?: number } & TrainOptions = {}): Promise<RunResult<TranslateEpochMetrics>> {
  return resumeRun(runDir, hooks as never, options, translateKind);
}

/** A trained translator loaded from its run folder, with the data it was trained on. */
export interface TranslateRun {
  config: TranslateTrainConfig;
  models: Seq2SeqModels;
  corpus: ParallelCorpus;
  /** Frees the models. */
  dispose(): void;
}

/**
 * Loads a translation run's newest checkpoint and its data split (the same split as training: the
 * configuration's data, seed and limits; `data` points at the TSV file when it moved).
 */
export async function loadTranslateRun(runDir: string, options: { data?: string } = {}): Promise<TranslateRun> {
  const checkpoint = await loadCheckpoint(runDir, { optimizer: false });
  try {
    const saved = checkpoint.config as unknown as TranslateTrainConfig;
    if (saved.kind !== 'translate') throw new TrainerError(`${runDir} is a ${String(saved.kind)} run, not a translate run.`);
    const config: TranslateTrainConfig = options.data ? { ...saved, data: { ...saved.data, source: options.data } } : saved;
    const corpus = await loadTranslateCorpus(config);
    await translateKind.checkResume!(runDir, config, corpus);
    if (!checkpoint.encoder) throw new CheckpointError(`The checkpoint in ${runDir} has no encoder.`);
    const models = { encoder: checkpoint.encoder, decoder: checkpoint.decoder };
    return { config, models, corpus, dispose: () => checkpoint.dispose() };
  } catch (err) {
    checkpoint.dispose();
    throw err;
  }
}

/** Options of {@link evaluateTranslateRun}. */
export interface TranslateEvalOptions {
  /** Split to score. Default `test`. */
  split?: 'valid' | 'test';
  /** Score at most this many pairs (0 = all). */
  limit?: number;
  /** Beam width (0 = no beam search). Default 4. */
  beamWidth?: number;
  /** Sources for the diversity of sampled translations. Default 100. */
  diversityPairs?: number;
  /** Translations per source for diversity. Default 10. */
  samples?: number;
  data?: string;
  onProgress?: (stage: string) => void;
}

/** What `vaekit eval` reports for a translation run. */
export interface TranslateEvalReport {
  split: 'valid' | 'test';
  heldOut: Seq2SeqEvalMetrics;
  scores: TranslationScores;
}

/** BLEU (greedy and beam), chrF, KL, active units and sample diversity of a translation run on its test split. */
export async function evaluateTranslateRun(runDir: string, options: TranslateEvalOptions = {}): Promise<TranslateEvalReport> {
  const run = await loadTranslateRun(runDir, options.data ? { data: options.data } : {});
  try {
    const split = options.split ?? 'test';
    const full = run.corpus[split];
    const n = options.limit && options.limit > 0 ? Math.min(options.limit, full.source.length) : full.source.length;
    const set = { source: full.source.slice(0, n), target: full.target.slice(0, n), sourceText: full.sourceText.slice(0, n), targetText: full.targetText.slice(0, n) };
    const heldOut = await evaluateSeq2Seq(run.models, set, { seed: run.config.seed });
    options.onProgress?.('loss');
    const scores = await scoreTranslations(run.models, run.corpus.targetTokenizer, set, {
      beamWidth: options.beamWidth ?? 4,
      diversityPairs: options.diversityPairs ?? 100,
      samples: options.samples ?? 10,
      seed: run.config.seed,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return { split, heldOut, scores };
  } finally {
    run.dispose();
  }
}
