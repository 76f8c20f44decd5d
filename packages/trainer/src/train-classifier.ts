/**
 * The classifier kind's use cases over the shared loop (`loop.ts`) with `kinds/classifier.ts`: train a
 * run, resume it, evaluate it on its test split, and load what the exporter needs.
 */
import type { ClassifierTrainConfig } from '@vaekit/core';
import { readRunTokenizer } from '@vaekit/core/node';
import { loadCheckpoint, type Checkpoint } from './checkpoint.js';
import { bestThreshold, type ClassificationMetrics } from './classification-metrics.js';
import type { ClassifierCorpus } from './data/labeled.js';
import { TrainerError } from './errors.js';
import { classifierKind, classifyRows, loadClassifierData, metricsWithThreshold, refitM1Head, type ClassifierData, type ClassifierEpochMetrics } from './kinds/classifier.js';
import { resumeRun, trainRun, type RunHooks, type RunResult } from './loop.js';
import { classifierViews, type ClassifierNet } from './models/classifier.js';
import type { TrainOptions } from './step.js';

/** Callbacks through which classifier training reports progress. */
export type ClassifierTrainHooks = RunHooks<{ corpus: ClassifierCorpus['stats'] }, ClassifierEpochMetrics>;

/** Trains a classifier and writes the run folder (`config.json`, `tokenizer.json`, `classifier.json`, checkpoints). */
export async function trainClassifier(config: ClassifierTrainConfig, runDir: string, hooks: ClassifierTrainHooks = {}, options: TrainOptions = {}): Promise<RunResult<ClassifierEpochMetrics>> {
  return trainRun(classifierKind, config, runDir, hooks, options);
}

/** Continues a classifier run from its newest checkpoint; equals an uninterrupted run with the same seed. */
export async function resumeClassifier(runDir: string, hooks: ClassifierTrainHooks = {}, options: { epochs?: number } & TrainOptions = {}): Promise<RunResult<ClassifierEpochMetrics>> {
  return resumeRun(runDir, hooks, options, classifierKind);
}

/** A classifier run loaded for evaluation or export. Free it with {@link dispose}. */
export interface ClassifierRun {
  config: ClassifierTrainConfig;
  checkpoint: Checkpoint;
  views: ClassifierNet;
  /** The decision threshold chosen on validation (remedy `threshold`), else null. */
  threshold: number | null;
  epoch: number;
  dispose(): void;
}

/** Loads a classifier run's newest checkpoint (no optimizer state). */
export async function loadClassifierRun(runDir: string): Promise<ClassifierRun> {
  const checkpoint = await loadCheckpoint(runDir, { optimizer: false });
  const config = checkpoint.config as unknown as ClassifierTrainConfig;
  if (config.kind !== 'classifier') {
    checkpoint.dispose();
    throw new TrainerError(`${runDir} is a ${String(config.kind)} run, not a classifier run.`);
  }
  const state = (checkpoint.state as unknown as { classifier?: { threshold?: number | null } }).classifier;
  return { config, checkpoint, views: classifierViews(checkpoint.decoder, config), threshold: state?.threshold ?? null, epoch: checkpoint.state.epoch, dispose: () => checkpoint.dispose() };
}

/** Test-split evaluation of a classifier run. */
export interface ClassifierReport {
  config: ClassifierTrainConfig;
  epoch: number;
  labels: string[];
  minority: string;
  threshold: number | null;
  stats: ClassifierCorpus['stats'];
  test: ClassificationMetrics;
  valid: ClassificationMetrics;
}

/** Evaluates a run on its test and validation splits (the data is rebuilt from `config.json`). */
export async function evaluateClassifierRun(runDir: string): Promise<ClassifierReport> {
  const run = await loadClassifierRun(runDir);
  try {
    const data = await loadRunData(runDir, run.config);
    return await report(run, run.config, data, run.threshold);
  } finally {
    run.dispose();
  }
}

/**
 * Evaluates an M1 run at another number of labels without training its VAE again: M1's VAE learns
 * from every training text without their labels, and every `--labels` of a seed has the same training
 * texts (the validation split is drawn first; the labelled ones are then taken from the rest), so the
 * VAE serves any N. The classifier on the posterior means is refitted, as after each training epoch, on
 * the `labels` examples that a run with `--labels labels` picks (remedy `threshold`: its threshold is
 * chosen again on the validation split). Writes nothing; the run folder is unchanged. The sentiment
 * benchmark trains one VAE per seed this way.
 */
export async function evaluateM1RunWithLabels(runDir: string, labels: number): Promise<ClassifierReport> {
  const run = await loadClassifierRun(runDir);
  try {
    if (run.config.model !== 'm1') throw new TrainerError(`${runDir} is an ${run.config.model} run; only an M1 run's VAE is trained without labels.`);
    if (run.config.data.unlabeledLimit > 0) throw new TrainerError(`${runDir} limits its unlabelled texts (unlabeledLimit ${run.config.data.unlabeledLimit}), so its training texts depend on --labels.`);
    const config: ClassifierTrainConfig = { ...run.config, data: { ...run.config.data, labels } };
    const data = await loadRunData(runDir, config);
    await refitM1Head(config, data, run.views);
    const C = data.corpus.labelNames.length;
    const threshold =
      config.remedy === 'threshold' ? bestThreshold(data.corpus.valid.labels, await classifyRows(run.views, config, data.corpus, data.corpus.valid.ids), C, data.corpus.minority) : null;
    return await report(run, config, data, threshold);
  } finally {
    run.dispose();
  }
}

/** The data of a configuration, checked against the run's saved vocabulary. */
async function loadRunData(runDir: string, config: ClassifierTrainConfig): Promise<ClassifierData> {
  const data = await loadClassifierData(config);
  const saved = await readRunTokenizer(runDir);
  if (saved.vocabulary.join('\n') !== data.corpus.tokenizer.vocabulary.join('\n')) {
    throw new TrainerError(`The data ${config.data.source} no longer gives the vocabulary of ${runDir}; was the data file changed?`);
  }
  return data;
}

/** Test- and validation-split metrics of a run's network on the data of `config`. */
async function report(run: ClassifierRun, config: ClassifierTrainConfig, data: ClassifierData, threshold: number | null): Promise<ClassifierReport> {
  const C = data.corpus.labelNames.length;
  const split = async (set: ClassifierCorpus['test']) =>
    metricsWithThreshold(set.labels, await classifyRows(run.views, config, data.corpus, set.ids), C, data.corpus.minority, threshold);
  return {
    config,
    epoch: run.epoch,
    labels: data.corpus.labelNames,
    minority: data.corpus.labelNames[data.corpus.minority]!,
    threshold,
    stats: data.corpus.stats,
    test: await split(data.corpus.test),
    valid: await split(data.corpus.valid),
  };
}
