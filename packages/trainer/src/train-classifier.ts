/**
 * The classifier kind's use cases over the shared loop (`loop.ts`) with `kinds/classifier.ts`: train a
 * run, resume it, evaluate it on its test split, and load what the exporter needs.
 */
import type { ClassifierTrainConfig } from '@vaekit/core';
import { readRunTokenizer } from '@vaekit/core/node';
import { loadCheckpoint, type Checkpoint } from './checkpoint.js';
import type { ClassificationMetrics } from './classification-metrics.js';
import type { ClassifierCorpus } from './data/labeled.js';
import { TrainerError } from './errors.js';
import { classifierKind, classifyRows, loadClassifierData, metricsWithThreshold, type ClassifierEpochMetrics } from './kinds/classifier.js';
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
    const data = await loadClassifierData(run.config);
    const saved = await readRunTokenizer(runDir);
    if (saved.vocabulary.join('\n') !== data.corpus.tokenizer.vocabulary.join('\n')) {
      throw new TrainerError(`The data ${run.config.data.source} no longer gives the vocabulary of ${runDir}; was the data file changed?`);
    }
    const C = data.corpus.labelNames.length;
    const split = async (set: ClassifierCorpus['test']) =>
      metricsWithThreshold(set.labels, await classifyRows(run.views, run.config, data.corpus, set.ids), C, data.corpus.minority, run.threshold);
    return {
      config: run.config,
      epoch: run.epoch,
      labels: data.corpus.labelNames,
      minority: data.corpus.labelNames[data.corpus.minority]!,
      threshold: run.threshold,
      stats: data.corpus.stats,
      test: await split(data.corpus.test),
      valid: await split(data.corpus.valid),
    };
  } finally {
    run.dispose();
  }
}
