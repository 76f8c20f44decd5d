/**
 * @vaekit/trainer: trains variational autoencoders with TensorFlow.js and writes run folders that the
 * exporter turns into ONNX bundles.
 */
export {
  BACKEND_CHOICES,
  ensureBackend,
  initBackend,
  parseBackendChoice,
  type BackendChoice,
  type BackendInfo,
  type BackendOptions,
} from './backend.js';
export {
  CONFIG_FILE,
  LATEST_FILE,
  METRICS_FILE,
  loadCheckpoint,
  readConfig,
  saveCheckpoint,
  writeConfig,
  type Checkpoint,
  type TrainState,
} from './checkpoint.js';
export { IMAGE_ARCHS, defaultImageConfig, type ImageTrainConfig } from '@vaekit/core';
export { loadMnist, type ImageSet, type ImageSplit } from './data/mnist.js';
export { CheckpointError, DataError, NonFiniteLossError, TrainerError } from './errors.js';
export { allFinite, guardedStep, restoreAdam } from './step.js';
export { MODEL_JSON, WEIGHTS_BIN, folderIO } from '@vaekit/core/tfjs';
export { bernoulliNll, gaussianKl, reparameterize, vaeLoss, type ElboTerms } from './losses.js';
export { buildImageVae, type VaeModels } from './models/image.js';
export { sparseSoftmaxCrossEntropy } from './kernels/softmax-xent.js';
export { setNativeThreads } from './kernels/native.js';
export {
  elboTerms,
  evaluateImageVae,
  resumeImageVae,
  trainImageVae,
  validateImageConfig,
  type ElboMetrics,
  type EpochMetrics,
  type NonFinitePolicy,
  type TrainHooks,
  type TrainOptions,
  type TrainResult,
} from './train-image.js';
export { removeStaleTemps, tempSibling, writeFileAtomic } from '@vaekit/core/node';
export {
  ANNEAL_SCHEDULES,
  TEXT_CELLS,
  defaultTextConfig,
  type AggressiveMode,
  type AnnealConfig,
  type AnnealSchedule,
  type TextCell,
  type TextDataConfig,
  type TextTrainConfig,
  type TrainConfig,
} from '@vaekit/core';
export { SOTU, loadSentences, loadSotuSentences, makeBatch, prepareCorpus, readSentenceFile, splitSentences, type SentenceSet, type TextBatch, type TextCorpus } from './data/text.js';
export { freeBitsKl, gaussianKlPerDim, tokenCrossEntropy } from './losses.js';
export { ACTIVE_UNIT_THRESHOLD, activeUnits, logImportanceWeight, logMeanExp, mutualInformation } from './metrics.js';
export { buildTextVae, type TextModelShape } from './models/text.js';
export { klWeight } from './schedules.js';
export { decodeLatents, type TfDecodeOptions } from './text-decode.js';
export {
  evaluateText,
  latentSizeOf,
  textBatchTensors,
  textLoss,
  textTerms,
  type TextBatchTensors,
  type TextEvalMetrics,
  type TextEvalOptions,
  type TextModels,
  type TextTerms,
} from './text-vae.js';
export {
  TOKENIZER_FILE,
  loadTextCorpus,
  readRunTokenizer,
  resumeTextVae,
  trainTextVae,
  validateTextConfig,
  type TextEpochMetrics,
  type TextTrainAverages,
  type TextTrainHooks,
  type TextTrainResult,
} from './train-text.js';
export { evaluateTextRun, loadTextRun, type TextQualitative, type TextRunEvalOptions, type TextRunReport } from './eval-text.js';
