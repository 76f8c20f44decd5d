/**
 * @vaekit/trainer: trains variational autoencoders with TensorFlow.js and writes run folders that the
 * exporter turns into ONNX bundles. The use cases: train, resume and evaluate a run of each kind, load a
 * checkpoint, generate sentences with a trained decoder; the seam to add a model kind
 * ({@link TrainingKind}, {@link registerTrainingKind}, {@link runEpochs}). Internals used by the
 * benchmarks and the exporter's tests are in `@vaekit/trainer/internal` (no compatibility promise).
 */

// Backends.
export { BACKEND_CHOICES, initBackend, parseBackendChoice, type BackendChoice, type BackendInfo, type BackendOptions } from './backend.js';

// Configurations (the run-folder format lives in core).
export {
  ADVERSARIAL_MODES,
  ANNEAL_SCHEDULES,
  IMAGE_ARCHS,
  defaultImageAdversarial,
  defaultTextAdversarial,
  type ImageAdversarialConfig,
  type TextAdversarialConfig,
  TEXT_CELLS,
  TEXT_EMBEDDING_SOURCES,
  defaultImageConfig,
  defaultTextConfig,
  type AggressiveMode,
  type AnnealConfig,
  type AnnealSchedule,
  type ImageTrainConfig,
  type TextCell,
  type TextDataConfig,
  type TextDistillConfig,
  type TextPretrainedConfig,
  type TextTrainConfig,
  type TrainConfig,
} from '@vaekit/core';

// Run folders and checkpoints.
export {
  loadCheckpoint,
  saveCheckpoint,
  writeConfig,
  type Checkpoint,
  type CheckpointContent,
  type LoadCheckpointOptions,
  type NamedTensor,
  type TrainState,
} from './checkpoint.js';
export { readRunTokenizer } from '@vaekit/core/node';

// Errors.
export { CheckpointError, DataError, NonFiniteLossError, TrainerError } from './errors.js';

// Pretrained parts of text runs: word-vector sources (the CLI registers glove), the cached rows.
export {
  EMBEDDINGS_FILE,
  PretrainedError,
  readEmbeddingRows,
  registerEmbeddingSource,
  type EmbeddingCoverage,
  type EmbeddingRows,
  type InitReport,
  type WordVectors,
} from './pretrained.js';
export type { TextPretrainedReport } from './kinds/text.js';

// Data the CLI reads.
export { loadMnist, type ImageSet, type ImageSplit } from './data/mnist.js';
export { loadImageFolder, loadImageSplit, type ImageFolderOptions } from './data/images.js';
export type { TextCorpus } from './data/text.js';

// Models.
export { buildImageVae, type VaeModels } from './models/image.js';
export { buildTextVae, type TextModelShape } from './models/text.js';

// Image kind: train, resume, evaluate.
export {
  evaluateImageVae,
  resumeImageVae,
  trainImageVae,
  validateImageConfig,
  type AdversarialAverages,
  type ElboMetrics,
  type EpochMetrics,
  type NonFinitePolicy,
  type TrainHooks,
  type TrainOptions,
  type TrainResult,
} from './train-image.js';

// Text kind: train, resume, evaluate, generate.
export {
  loadTextCorpus,
  resumeTextVae,
  trainTextVae,
  validateTextConfig,
  type LatentAdversarialAverages,
  type TextEpochMetrics,
  type TextTrainAverages,
  type TextTrainHooks,
  type TextTrainResult,
} from './train-text.js';
export type { TextEvalMetrics, TextModels } from './text-vae.js';
export { evaluateTextRun, loadTextRun, type TextQualitative, type TextRunEvalOptions, type TextRunReport } from './eval-text.js';
export { generateFromLatents, sampleLatents, type TfDecodeOptions } from './text-decode.js';

// Translate kind (seq2seq): train, resume, evaluate, translate with tfjs.
export {
  applyInitWeights,
  evaluateTranslateRun,
  loadTranslateCorpus,
  loadTranslateRun,
  readInitWeights,
  readTranslateTokenizers,
  resumeTranslate,
  trainTranslate,
  translateKind,
  validateTranslateConfig,
  type TranslateEpochMetrics,
  type TranslateEvalOptions,
  type TranslateEvalReport,
  type TranslateHooks,
  type TranslateRun,
  type TranslateTrainAverages,
} from './kinds/translate.js';
export { parseParallelTsv, prepareParallel, readParallelTsv, type ParallelCorpus, type PairSet, type SentencePair } from './data/parallel.js';
export { buildSeq2Seq, seq2seqDims, type Seq2SeqDims, type Seq2SeqModels, type Seq2SeqShape } from './models/seq2seq.js';
export { Attention, GaussianSample, MaskedMean, SequenceMask } from './models/attention.js';
export { evaluateSeq2Seq, scoreTranslations, translateIds, type Seq2SeqEvalMetrics, type TfTranslateOptions, type TranslationScores } from './seq2seq.js';
// Sample quality (images): FID, precision/recall, confident share on vaekit's own MNIST classifier.
export { confidentShare, featureStats, fid, frechetDistance, precisionRecall, type FeatureSet, type GaussianStats } from './sample-quality/fid.js';
export { CLASSIFIER_FEATURES, defaultCacheDir, loadMnistClassifier, type ClassifierOutputs, type MnistClassifier, type MnistClassifierOptions } from './sample-quality/classifier.js';
export { evaluateTextSampleQuality, textSampleQuality, type TextSampleQuality, type TextSampleQualityOptions } from './sample-quality/text.js';
export { evaluateImageRun, imageSampleQuality, priorSamples, type ImageSampleQuality, type ImageSampleQualityOptions } from './sample-quality/image.js';

// Adversarial training (VAE-GAN).
export { DISCRIMINATOR, buildDiscriminator, validateImageAdversarial } from './adversarial/vaegan.js';

// The model-kind seam: one loop for every kind.
export { resumeRun, runEpochs, trainRun, type LoopRun, type RunHooks, type RunResult } from './loop.js';
export { registerTrainingKind, trainingKind, trainingKinds } from './kinds/registry.js';
export type { AnyTrainingKind, KindRun, RunConfigBase, StepContext, StepOutcome, TrainingKind } from './kinds/types.js';
export { guardedStep, restoreAdam } from './step.js';

// Classifier kind: train, resume, evaluate; labelled corpora and metrics.
export { defaultClassifierConfig, type ClassifierTrainConfig, type ClassifierDataConfig } from '@vaekit/core';
export { evaluateClassifierRun, evaluateM1RunWithLabels, loadClassifierRun, resumeClassifier, trainClassifier, type ClassifierReport, type ClassifierRun, type ClassifierTrainHooks } from './train-classifier.js';
export { classifierViews, type ClassifierNet } from './models/classifier.js';
export { classifierInput } from './kinds/classifier.js';
export { CLASSIFIER_RUN_FILE, loadClassifierData, validateClassifierConfig, type ClassifierEpochMetrics, type ClassifierValidMetrics } from './kinds/classifier.js';
export { labeledCorpora, readLabeledJsonl, registerLabeledCorpus, type LabeledSource, type LabeledText, type ClassifierCorpus } from './data/labeled.js';
export { averagePrecision, bestThreshold, classificationMetrics, confusionMatrix, type ClassificationMetrics } from './classification-metrics.js';
