/**
 * The classifier kind's export plan (docs/classifier.md): from the run's one training network,
 *
 * - `classify.onnx`  `tokens [B,T] int32, lengths [B] int32` (gru) or `features [B,V]` (bow)
 *   `-> probabilities [B,C]`;
 * - `encoder.onnx`   the same input (m2: and `y [B,C]`) `-> mu, logvar` (m1, m2);
 * - m2 with a GRU: the text kind's `decoder_init.onnx` / `decoder_step.onnx`, whose `z` input is
 *   `[z; onehot(y)]` (built by the text plan's own graph builder);
 *
 * plus `tokenizer.json` and the manifest section `classifier` (class names, model, encoder, the
 * moved threshold). Bag-of-words graphs take core's `bowFeatures` of the token ids as input.
 */
import type * as tf from '@tensorflow/tfjs';
import { CLASSIFIER_MODEL, WordTokenizer, type ClassifierEncoder, type ClassifierModelType, type ClassifierSpec, type TrainingSummary } from '@vaekit/core';
import { ExportError } from '../errors.js';
import { rowLengths } from '../parity.js';
import type { ExportPlan, PlanGraph } from '../plans.js';
import { buildTextGraphs, textDecoderPlanGraphs } from './text.js';

const G = CLASSIFIER_MODEL.graphs;
const I = CLASSIFIER_MODEL.inputs;

/** What a classifier bundle is exported from: the trained network's views, its tokenizer and class names. */
export interface ClassifierBundleSource {
  kind: 'classifier';
  model: ClassifierModelType;
  encoder: ClassifierEncoder;
  /** `x -> probabilities`. */
  classify: tf.LayersModel;
  /** `x (, y) -> mu, logvar` (m1, m2). */
  encode?: tf.LayersModel;
  /** m2 with a GRU: `tokens_in, z -> logits`, z being `[z; onehot(y)]`. */
  generate?: tf.LayersModel;
  tokenizer: WordTokenizer | string | object;
  labels: string[];
  /** Tokens read per text. */
  maxLength: number;
  /** Bag-of-words models: the most frequent words their features ignore. */
  bowSkip?: number;
  latentSize?: number;
  threshold?: { label: string; value: number };
  training?: TrainingSummary;
}

/** The export plan of a classifier. Throws {@link ExportError} for a tokenizer or label list that does not fit the graphs. */
export async function classifierPlan(source: ClassifierBundleSource): Promise<ExportPlan> {
  let tokenizer: WordTokenizer;
  try {
    tokenizer = source.tokenizer instanceof WordTokenizer ? source.tokenizer : WordTokenizer.fromJSON(source.tokenizer);
  } catch (err) {
    throw new ExportError(`Cannot read the tokenizer: ${(err as Error).message}`, { cause: err });
  }
  const classes = source.classify.outputs[0]!.shape[1];
  if (classes !== source.labels.length) throw new ExportError(`The classifier has ${classes} outputs but ${source.labels.length} class names.`);
  const V = tokenizer.vocabSize;
  const bow = source.encoder === 'bow';
  const xNames = bow ? [I.features] : [I.tokens];
  const sequence = bow
    ? {}
    : { lengthsInput: 'lengths', dynamicDims: { [I.tokens]: { 1: 'time' } } };
  const parity: PlanGraph['parity'] = bow ? { scale: 1 } : { ids: { vocab: V, padRight: true }, extraInputs: ([tokens]) => ({ lengths: rowLengths(tokens!) }) };
  const graphs: PlanGraph[] = [
    { key: 'classify', file: G.classify.file, model: source.classify, convert: { inputNames: xNames, outputNames: [G.classify.outputs.probabilities], ...sequence }, parity },
  ];
  if (source.encode) {
    graphs.push({
      key: 'encoder',
      file: G.encoder.file,
      model: source.encode,
      convert: { inputNames: source.model === 'm2' ? [...xNames, I.y] : xNames, outputNames: [G.encoder.outputs.mu, G.encoder.outputs.logvar], ...sequence },
      parity,
    });
  }
  let built: ReturnType<typeof buildTextGraphs> | undefined;
  if (source.generate && source.encode && !bow) {
    built = buildTextGraphs(source.encode, source.generate);
    graphs.push(...textDecoderPlanGraphs(built));
  }
  const section: ClassifierSpec = {
    model: source.model,
    encoder: source.encoder,
    labels: source.labels,
    vocabSize: V,
    maxLength: source.maxLength,
    ...(bow ? { bowSkip: source.bowSkip ?? 0 } : {}),
    ...(source.latentSize ? { latentSize: source.latentSize } : {}),
    ...(built ? { hiddenSize: built.hiddenSize } : {}),
    ...(source.threshold ? { threshold: source.threshold } : {}),
    tokenizer: CLASSIFIER_MODEL.tokenizerFile,
  };
  return {
    kind: 'classifier',
    // A supervised classifier has no latent space; its "latent" is the class probabilities.
    latentSize: source.latentSize ?? source.labels.length,
    description: `vaekit ${source.model} ${source.encoder} classifier`,
    graphs,
    section: { classifier: section },
    metadata: { 'vaekit.labels': source.labels.join(',') },
    files: [{ path: CLASSIFIER_MODEL.tokenizerFile, bytes: new TextEncoder().encode(JSON.stringify(tokenizer.toJSON(), null, 2) + '\n') }],
    ...(source.training ? { training: source.training } : {}),
    dispose: () => built?.dispose(),
  };
}
