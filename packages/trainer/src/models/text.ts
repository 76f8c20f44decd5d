/**
 * The sentence VAE as tfjs-layers functional models, exactly as docs/text-model.md specifies (the
 * exporter relies on the layer names, which are core's `TEXT_MODEL`):
 *
 * - encoder `tokens[B,T] -> mu[B,Z], logvar[B,Z]`: Embedding (mask on `<pad>`) -> GRU|LSTM -> two Dense;
 * - decoder `tokens_in[B,T], z[B,Z] -> logits[B,T,V]`: the initial state comes from z (Dense, tanh)
 *   and z is also concatenated to every input embedding.
 */
import * as tf from '@tensorflow/tfjs';
import { TEXT_MODEL, type TextTrainConfig } from '@vaekit/core';
import type { VaeModels } from './image.js';

/** Sizes the text models need besides the configuration. */
export interface TextModelShape {
  vocabSize: number;
  /** Padded sequence length T. */
  seqLength: number;
}

/** Seeded weight initializers, drawn in a fixed order so a seed gives the same weights every time. */
export function seededInitializers(seed: number) {
  let n = 0;
  return {
    glorot: () => tf.initializers.glorotUniform({ seed: seed * 1000 + n++ }),
    orthogonal: () => tf.initializers.orthogonal({ seed: seed * 1000 + n++, gain: 1 }),
    uniform: () => tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed * 1000 + n++ }),
  };
}
/** The initializers of one model build. */
export type SeededInitializers = ReturnType<typeof seededInitializers>;

/** The sizes of the sentence encoder and decoder layers. */
export type RecurrentSizes = Pick<TextTrainConfig, 'cell' | 'hidden' | 'embedding'>;

function recurrentLayer(config: RecurrentSizes, name: string, returnSequences: boolean, init: SeededInitializers) {
  const args = {
    units: config.hidden,
    returnSequences,
    name,
    kernelInitializer: init.glorot(),
    recurrentInitializer: init.orthogonal(),
  };
  return config.cell === 'lstm' ? tf.layers.lstm(args) : tf.layers.gru(args);
}

/**
 * The sentence encoder's summary of `tokens [B,T]`: Embedding (mask on `<pad>`) -> GRU|LSTM final
 * state `[B,H]`, with the layer names `names` (the text kind's by default; the classifier kind's
 * classifier uses its own).
 */
export function textEncoderSummary(
  config: RecurrentSizes,
  vocabSize: number,
  tokens: tf.SymbolicTensor,
  init: SeededInitializers,
  names: { embedding: string; rnn: string } = TEXT_MODEL.layers.encoder,
): tf.SymbolicTensor {
  const embedded = tf.layers
    .embedding({ inputDim: vocabSize, outputDim: config.embedding, maskZero: true, name: names.embedding, embeddingsInitializer: init.uniform() })
    .apply(tokens) as tf.SymbolicTensor;
  return recurrentLayer(config, names.rnn, false, init).apply(embedded) as tf.SymbolicTensor;
}

/**
 * The sentence decoder on `tokens_in [B,T]` and `z [B,Z]` -> logits `[B,T,V]`: the initial state from z
 * (Dense, tanh) and z concatenated to every input embedding (TEXT_MODEL layer names).
 */
export function textDecoderLogits(config: RecurrentSizes, vocabSize: number, seqLength: number, tokensIn: tf.SymbolicTensor, z: tf.SymbolicTensor, init: SeededInitializers): tf.SymbolicTensor {
  const D = TEXT_MODEL.layers.decoder;
  const initState = (name: string) =>
    tf.layers.dense({ units: config.hidden, activation: 'tanh', name, kernelInitializer: init.glorot() }).apply(z) as tf.SymbolicTensor;
  const states = config.cell === 'lstm' ? [initState(D.initH), initState(D.initC)] : [initState(D.initH)];
  const x = tf.layers
    .embedding({ inputDim: vocabSize, outputDim: config.embedding, name: D.embedding, embeddingsInitializer: init.uniform() })
    .apply(tokensIn) as tf.SymbolicTensor;
  const zs = tf.layers.repeatVector({ n: seqLength, name: D.repeatZ }).apply(z) as tf.SymbolicTensor;
  const xz = tf.layers.concatenate({ axis: -1, name: D.concat }).apply([x, zs]) as tf.SymbolicTensor;
  const y = recurrentLayer(config, D.rnn, true, init).apply(xz, { initialState: states }) as tf.SymbolicTensor;
  return tf.layers.dense({ units: vocabSize, name: D.logits, kernelInitializer: init.glorot() }).apply(y) as tf.SymbolicTensor;
}

/** Builds the encoder and decoder with weights initialised from `config.seed`. */
export function buildTextVae(config: TextTrainConfig, shape: TextModelShape): VaeModels {
  const { vocabSize: V, seqLength: T } = shape;
  const init = seededInitializers(config.seed);
  const { encoder: E } = TEXT_MODEL.layers;
  const I = TEXT_MODEL.trainingInputs;

  const tokens = tf.input({ shape: [T], dtype: 'int32', name: I.encoderTokens });
  const summary = textEncoderSummary(config, V, tokens, init);
  const mu = tf.layers.dense({ units: config.latent, name: E.mu, kernelInitializer: init.glorot() }).apply(summary) as tf.SymbolicTensor;
  const logvar = tf.layers.dense({ units: config.latent, name: E.logvar, kernelInitializer: init.glorot() }).apply(summary) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: tokens, outputs: [mu, logvar], name: 'encoder' });

  const tokensIn = tf.input({ shape: [T], dtype: 'int32', name: I.decoderTokens });
  const z = tf.input({ shape: [config.latent], name: I.z });
  const logits = textDecoderLogits(config, V, T, tokensIn, z, init);
  const decoder = tf.model({ inputs: [tokensIn, z], outputs: logits, name: 'decoder' });
  return { encoder, decoder };
}

/** A decoder split before its logits layer (see {@link decoderTrunk}). */
export interface DecoderTrunk {
  /**
   * Decoder inputs -> the logits layer's input `[B, T, H]` (the same layers and weights), followed by the
   * decoder's other outputs in their order when it has more than the logits (the translator's attention
   * weights and context terms): then `apply` returns an array.
   */
  trunk: tf.LayersModel;
  /** The logits layer's kernel `[H, V]` and bias `[V]`. */
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D;
}

const trunks = new WeakMap<tf.LayersModel, Map<string, DecoderTrunk | null>>();

/**
 * The decoder up to its logits layer (its first output, named `logitsLayer`: the text kind's by
 * default), and that layer's weights, so that training can fuse the logits with the cross-entropy
 * (`kernels/logits-xent.ts`); undefined when that output is not the linear, biased, float32 `Dense` that
 * the model builders make (also after a checkpoint reload). The decoder's other outputs stay outputs of
 * the trunk, after the logits layer's input.
 */
export function decoderTrunk(decoder: tf.LayersModel, logitsLayer: string = TEXT_MODEL.layers.decoder.logits): DecoderTrunk | undefined {
  let byName = trunks.get(decoder);
  if (!byName) trunks.set(decoder, (byName = new Map()));
  const hit = byName.get(logitsLayer);
  if (hit !== undefined) return hit ?? undefined;
  let found: DecoderTrunk | null = null;
  const out = decoder.outputLayers[0];
  if (out?.name === logitsLayer && out.getClassName() === 'Dense') {
    const config = out.getConfig();
    const weights = out.trainableWeights.map((w) => w.read());
    const input = out.input as tf.SymbolicTensor;
    if (config.activation === 'linear' && config.useBias === true && weights.length === 2 && weights.every((w) => w.dtype === 'float32') &&
      !Array.isArray(input) && input.shape.length === 3) {
      found = {
        trunk: tf.model({ inputs: decoder.inputs, outputs: decoder.outputs.length === 1 ? input : [input, ...decoder.outputs.slice(1)], name: `${decoder.name}_trunk` }),
        kernel: weights[0] as tf.Tensor2D,
        bias: weights[1] as tf.Tensor1D,
      };
    }
  }
  byName.set(logitsLayer, found);
  return found ?? undefined;
}

/**
 * Two tfjs warnings that say nothing actionable to a vaekit user are dropped, once for the process:
 * that `initialState` is a "non-serializable keyword argument" (printed on every checkpoint and export,
 * although the state tensors are serialized as inbound nodes and the model reloads exactly, tested in
 * models/text.test.ts), and that the orthogonal initializer of the recurrent kernels "may be slow"
 * (it runs once, at model creation). Every other warning passes through.
 */
function silenceTfjsNoise(): void {
  const marker = Symbol.for('vaekit.silencedInitialStateWarning');
  const holder = console as unknown as Record<symbol, boolean>;
  if (holder[marker]) return;
  holder[marker] = true;
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : '';
    if (text.includes('non-serializable keyword arguments') || text.startsWith('Orthogonal initializer is being called')) return;
    warn(...args);
  };
}
silenceTfjsNoise();
