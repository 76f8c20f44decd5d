/**
 * Everything of @vaekit/runtime that is the same on every platform (re-exported by both entry points):
 * the bundle format, the tokenizer, the decoding functions and the RNG come from @vaekit/core and are
 * re-exported here, so a runtime user needs one import.
 */
export {
  BUNDLE_FORMAT_VERSION,
  MANIFEST_FILE,
  assertSafeBundlePath,
  parseManifest,
  registerBundleKind,
  registeredBundleKinds,
  sha256Hex,
  verifyFile,
  type BundleKindSpec,
  type BundleManifest,
  type BundleManifestBase,
  type BundleVariant,
  type FileRecord,
  type GraphSpec,
  type ImageBundleManifest,
  type ImageGraphs,
  type ImageSpec,
  type ParityReport,
  type TensorDtype,
  type TensorSpec,
  type TextBundleManifest,
  type TextGraphs,
  type TextSpec,
  type TrainingSummary,
  type VariantReport,
} from '@vaekit/core';
export {
  applyRepetitionPenalty,
  argmax,
  beamScore,
  beamSearch,
  chooseFromStep,
  chooseToken,
  chooseTokenFromHeads,
  collectSequences,
  decodeBatch,
  decodeBatchSteps,
  decodeSteps,
  stepFnDecoder,
  stepNeed,
  logSoftmax,
  logSumExp,
  resolveDecodingOptions,
  sampleFromLogProbs,
  sequenceRng,
  topIndices,
  topKFilter,
  topPFilter,
  type BatchDecoder,
  type BatchStepOutput,
  type DecodingHeads,
  type DecodingOptions,
  type DecodingStrategy,
  type GeneratedSequence,
  type ResolvedDecodingOptions,
  type StepEvent,
  type StepFn,
  type StepNeed,
  type TokenChoice,
} from '@vaekit/core';
export { BOS_ID, EOS_ID, PAD_ID, UNK_ID, SPECIAL_TOKENS, WordTokenizer, TokenizerError, createRng, permutation, type Rng, type TextCell } from '@vaekit/core';
export { BundleError, InputError, RuntimeError } from './errors.js';
export { BackendUnavailableError } from './backend-error.js';
export { bundleDtypes } from './load.js';
export { interpolateLatent, samplePrior } from './latent.js';
export { pickVariant, unsuitableBackend } from './load.js';
export { BACKEND_NAMES } from './types.js';
export type * from './types.js';
export { createClassifier, type Classification, type ClassGenerateOptions, type ClassifierBundleManifest, type TextClassifier } from './classifier.js';
export { registerRuntimeKind, runtimeKind, type FacadeContext, type RuntimeKind } from './kinds.js';
export type { TranslateOptions, Translation, TranslationToken, Translator } from './translator.js';
export type { EngineTensor, GraphSession, GraphValueInfo } from './engine.js';
export { pruneOutputs } from './onnx-prune.js';
