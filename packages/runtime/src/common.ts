/** Everything of @vaekit/runtime that is the same on every platform (re-exported by both entry points). */
export * from './bundle.js';
export {
  applyRepetitionPenalty,
  argmax,
  beamScore,
  beamSearch,
  chooseToken,
  decodeBatch,
  decodeSteps,
  logSoftmax,
  logSumExp,
  resolveDecodingOptions,
  sampleFromLogProbs,
  sequenceRng,
  topIndices,
  topKFilter,
  topPFilter,
  type DecodingOptions,
  type DecodingStrategy,
  type GeneratedSequence,
  type ResolvedDecodingOptions,
  type StepEvent,
  type StepFn,
  type TokenChoice,
} from './decoding.js';
export { BundleError, InputError, RuntimeError } from './errors.js';
export { interpolateLatent, samplePrior } from './latent.js';
export { pickVariant, unsuitableBackend } from './load.js';
export { createRng, permutation, type Rng } from './rng.js';
export { WordTokenizer, TokenizerError } from './tokenizer.js';
export { BACKEND_NAMES } from './types.js';
export type * from './types.js';
