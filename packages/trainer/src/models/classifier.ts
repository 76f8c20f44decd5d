/**
 * The classifier kind's network (docs/classifier.md) as one tfjs-layers model holding every layer of a
 * run, so one checkpoint and one optimizer cover it; views pick the parts a step or an export needs.
 *
 * - `supervised`: `features [B,V]` -> logistic regression (bow), or `tokens [B,T]` -> the sentence
 *   encoder's GRU -> Dense softmax (gru);
 * - `m1`: encoder -> mu, logvar; the classifier reads mu; generator `z` -> bag-of-words logits (bow) or
 *   the sentence decoder (gru, the text kind's layers);
 * - `m2`: the classifier q(y|x) reads the encoder's summary h; q(z|x,y) = Dense([h; y]) (in training
 *   h reaches it without gradients: h is q(y|x)'s own network, see kinds/classifier.ts); the generator's `z` input is
 *   `[z; onehot(y)]`, which the sentence decoder concatenates to every step's input and turns into its
 *   initial state: the label is fed at every step (Xu et al. 2017).
 */
import * as tf from '@tensorflow/tfjs';
import { CLASSIFIER_MODEL, TEXT_MODEL, type ClassifierTrainConfig } from '@vaekit/core';
import { seededInitializers, textDecoderLogits, textEncoderSummary } from './text.js';

const I = CLASSIFIER_MODEL.inputs;
const L = CLASSIFIER_MODEL.layers;

/** Sizes the network needs besides its configuration. */
export interface ClassifierShape {
  vocabSize: number;
  classes: number;
  /** Tokens per text plus `<eos>` (gru). */
  seqLength: number;
}

/** The network of a run and its views (which share its layers: never dispose a view). */
export interface ClassifierNet {
  net: tf.LayersModel;
  /** `x -> probabilities`. */
  classify: tf.LayersModel;
  /** `x (, y) -> mu, logvar` (m1, m2). */
  encode?: tf.LayersModel;
  /** `(tokens_in,) z -> logits` (m1, m2). */
  generate?: tf.LayersModel;
  /** m2: `x -> h`, the encoder's summary that q(y|x) and q(z|x,y) share (computed once per batch in training). */
  trunk?: tf.LayersModel;
}

/** Builds the views of a network (fresh or loaded from a checkpoint) from its layer and input names. */
export function classifierViews(net: tf.LayersModel, config: Pick<ClassifierTrainConfig, 'model' | 'encoder'>): ClassifierNet {
  const input = (name: string) => {
    const layer = net.inputLayers.find((l) => l.name === name);
    return layer ? (layer.output as tf.SymbolicTensor) : undefined;
  };
  const output = (name: string) => net.getLayer(name).output as tf.SymbolicTensor;
  const x = input(config.encoder === 'bow' ? I.features : I.tokens)!;
  const views: ClassifierNet = { net, classify: tf.model({ inputs: x, outputs: output(L.probs), name: 'classify' }) };
  if (config.model !== 'supervised') {
    const y = input(I.y);
    views.encode = tf.model({ inputs: y ? [x, y] : x, outputs: [output(L.mu), output(L.logvar)], name: 'encode' });
    const z = input(I.z)!;
    const tokensIn = input(I.tokensIn);
    const logits = output(config.encoder === 'bow' ? L.bowLogits : TEXT_MODEL.layers.decoder.logits);
    views.generate = tf.model({ inputs: tokensIn ? [tokensIn, z] : z, outputs: logits, name: 'generate' });
    if (y) views.trunk = tf.model({ inputs: x, outputs: output(config.encoder === 'bow' ? L.bowHidden : TEXT_MODEL.layers.encoder.rnn), name: 'trunk' });
  }
  return views;
}

/** Builds a fresh network with weights from `config.seed`. */
export function buildClassifier(config: ClassifierTrainConfig, shape: ClassifierShape): ClassifierNet {
  const { vocabSize: V, classes: C, seqLength: T } = shape;
  const init = seededInitializers(config.seed);
  const sizes = { cell: 'gru' as const, hidden: config.hidden, embedding: config.embedding };
  const dense = (units: number, name: string, activation?: 'relu' | 'softmax' | 'tanh') =>
    tf.layers.dense({ units, name, kernelInitializer: init.glorot(), ...(activation ? { activation } : {}) });
  const x =
    config.encoder === 'bow' ? tf.input({ shape: [V], name: I.features }) : tf.input({ shape: [T], dtype: 'int32', name: I.tokens });
  const summary = () =>
    config.encoder === 'bow' ? (dense(config.hidden, L.bowHidden, 'relu').apply(x) as tf.SymbolicTensor) : textEncoderSummary(sizes, V, x, init);
  if (config.model === 'supervised') {
    // Logistic regression on the bag of words; the sentence encoder's GRU, then softmax.
    const h = config.encoder === 'bow' ? x : summary();
    const probs = dense(C, L.probs, 'softmax').apply(h) as tf.SymbolicTensor;
    return classifierViews(tf.model({ inputs: x, outputs: probs, name: 'classifier' }), config);
  }
  const h = summary();
  const inputs: tf.SymbolicTensor[] = [x];
  let encIn = h;
  let probs: tf.SymbolicTensor;
  if (config.model === 'm2') {
    const y = tf.input({ shape: [C], name: I.y });
    inputs.push(y);
    encIn = tf.layers.concatenate({ axis: -1, name: L.encoderConcatY }).apply([h, y]) as tf.SymbolicTensor;
    probs = dense(C, L.probs, 'softmax').apply(h) as tf.SymbolicTensor;
  }
  const mu = dense(config.latent, L.mu).apply(encIn) as tf.SymbolicTensor;
  const logvar = dense(config.latent, L.logvar).apply(encIn) as tf.SymbolicTensor;
  if (config.model === 'm1') probs = dense(C, L.probs, 'softmax').apply(mu) as tf.SymbolicTensor;
  const zSize = config.latent + (config.model === 'm2' ? C : 0);
  const z = tf.input({ shape: [zSize], name: I.z });
  let logits: tf.SymbolicTensor;
  if (config.encoder === 'bow') {
    inputs.push(z);
    logits = dense(V, L.bowLogits).apply(z) as tf.SymbolicTensor;
  } else {
    const tokensIn = tf.input({ shape: [T], dtype: 'int32', name: I.tokensIn });
    inputs.push(tokensIn, z);
    logits = textDecoderLogits(sizes, V, T, tokensIn, z, init);
  }
  const net = tf.model({ inputs, outputs: [probs!, mu, logvar, logits], name: 'classifier' });
  return classifierViews(net, config);
}
