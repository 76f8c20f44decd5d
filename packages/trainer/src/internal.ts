/**
 * `@vaekit/trainer/internal`: building blocks that the benchmarks and other packages' tests use to
 * assemble their own training steps. Not part of the public API: names here may change in any release.
 */
export { bernoulliNll, freeBitsKl, gaussianKl, gaussianKlPerDim, reparameterize, tokenCrossEntropy, vaeLoss, type ElboTerms } from './losses.js';
export { elboTerms, imageTrainingLoss } from './kinds/image.js';
export { m2Batch, m2Loss, sentenceGenerative, type M2Batch, type M2LossOptions } from './kinds/classifier.js';
export { buildClassifier, type ClassifierNet } from './models/classifier.js';
export { textBatchTensors, textLoss, textTerms, type TextBatchTensors, type TextTerms } from './text-vae.js';
export { disposeNoise, disposePair, drawNoise, pairTensors, seq2seqLoss, seq2seqTerms, type PairTensors } from './seq2seq.js';
export { setNativeThreads } from './kernels/native.js';
export { sparseSoftmaxCrossEntropy } from './kernels/softmax-xent.js';
export { ACTIVE_UNIT_THRESHOLD, activeUnits, logImportanceWeight, logMeanExp, mutualInformation } from './metrics.js';
export { klWeight } from './schedules.js';
export { allFinite } from './step.js';
