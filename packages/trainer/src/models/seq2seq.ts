/**
 * The translator's training graphs as tfjs-layers functional models (docs/seq2seq-model.md; layer and
 * input names are core's `SEQ2SEQ_MODEL`):
 *
 * - encoder `src_tokens [B,S] (, tgt_tokens [B,T]) -> enc_states [B,S,2H], enc_mask [B,S], summary [B,2H],
 *   h0 [B,H] (, prior_mu, prior_logvar, post_mu, post_logvar [B,Z])`: Embedding (mask on `<pad>`) ->
 *   bidirectional GRU; the masked mean of the states is the source summary; the decoder's initial state
 *   is tanh(Dense(summary)). With a latent (VNMT, Zhang et al. 2016) the prior p(z|x) is a tanh layer
 *   and two Dense on the summary, the posterior q(z|x,y) the same on [summary, GRU(target)].
 * - decoder `tgt_in [B,T], enc_states, enc_mask, h0 (, z) (, attention_noise [B,T,2H]) -> logits [B,T,V],
 *   attention [B,T,S] (, context mean, context logvar)`: Embedding ([., z] at every step) -> GRU over the
 *   whole target (teacher forcing, one fused kernel call) -> attention of each output over the encoder
 *   states (Luong et al. 2015's global attention, with an additive or multiplicative score) -> tanh
 *   Dense on [GRU output, context (, z)] -> logits. Attention after the recurrent step (not inside it, as
 *   Bahdanau's) keeps teacher forcing one graph. `variational` attention (Bahuleyan et al. 2018) samples
 *   the context from N(context, exp(logvar)), logvar a Dense of [GRU output, context].
 */
import * as tf from '@tensorflow/tfjs';
import { SEQ2SEQ_MODEL, type TranslateTrainConfig } from '@vaekit/core';
import { Attention, GaussianSample, MaskedMean, SequenceMask } from './attention.js';

const L = SEQ2SEQ_MODEL.layers;
const I = SEQ2SEQ_MODEL.trainingInputs;

/** Sizes the models need besides the configuration. */
export interface Seq2SeqShape {
  sourceVocab: number;
  targetVocab: number;
  /** Padded length of both sides. */
  seqLength: number;
}

/** The training models of a translator. */
export interface Seq2SeqModels {
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
}

function seededInitializers(seed: number) {
  let n = 0;
  return {
    glorot: () => tf.initializers.glorotUniform({ seed: seed * 1000 + n++ }),
    orthogonal: () => tf.initializers.orthogonal({ seed: seed * 1000 + n++, gain: 1 }),
    uniform: () => tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed * 1000 + n++ }),
    next: () => seed * 1000 + (n += 3),
  };
}

/** Builds the encoder and decoder with weights initialised from `config.seed`. */
export function buildSeq2Seq(config: TranslateTrainConfig, shape: Seq2SeqShape): Seq2SeqModels {
  const { sourceVocab, targetVocab, seqLength: T } = shape;
  const H = config.hidden;
  const E = config.embedding;
  const Z = config.latent;
  const init = seededInitializers(config.seed);
  const gru = (name: string, returnSequences: boolean) =>
    tf.layers.gru({ units: H, returnSequences, name, kernelInitializer: init.glorot(), recurrentInitializer: init.orthogonal() });
  const dense = (units: number, name: string, activation?: 'tanh') =>
    tf.layers.dense({ units, name, kernelInitializer: init.glorot(), ...(activation ? { activation } : {}) });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[], kwargs?: object) => layer.apply(x, kwargs) as tf.SymbolicTensor;

  // Encoder.
  const src = tf.input({ shape: [T], dtype: 'int32', name: I.sourceTokens });
  const srcEmb = apply(tf.layers.embedding({ inputDim: sourceVocab, outputDim: E, maskZero: true, name: L.encoder.embedding, embeddingsInitializer: init.uniform() }), src);
  const states = apply(tf.layers.bidirectional({ layer: gru('enc_gru', true) as unknown as tf.layers.RNN, mergeMode: 'concat', name: L.encoder.rnn }), srcEmb);
  const mask = apply(new SequenceMask({ name: L.encoder.mask }), src);
  const summary = apply(new MaskedMean({ name: L.encoder.summary }), [states, mask]);
  const h0 = apply(dense(H, L.encoder.initH, 'tanh'), summary);
  const encInputs = [src];
  const encOutputs = [states, mask, summary, h0];
  if (Z > 0) {
    const ph = apply(dense(H, L.encoder.priorHidden, 'tanh'), summary);
    const tgt = tf.input({ shape: [T], dtype: 'int32', name: I.targetTokens });
    const tgtEmb = apply(tf.layers.embedding({ inputDim: targetVocab, outputDim: E, maskZero: true, name: L.encoder.postEmbedding, embeddingsInitializer: init.uniform() }), tgt);
    const tgtSummary = apply(gru(L.encoder.postRnn, false), tgtEmb);
    const qc = apply(tf.layers.concatenate({ axis: -1, name: L.encoder.postConcat }), [summary, tgtSummary]);
    const qh = apply(dense(H, L.encoder.postHidden, 'tanh'), qc);
    encInputs.push(tgt);
    encOutputs.push(apply(dense(Z, L.encoder.priorMu), ph), apply(dense(Z, L.encoder.priorLogvar), ph), apply(dense(Z, L.encoder.postMu), qh), apply(dense(Z, L.encoder.postLogvar), qh));
  }
  const encoder = tf.model({ inputs: encInputs, outputs: encOutputs, name: 'encoder' });

  // Decoder (teacher forcing over the whole target).
  const tgtIn = tf.input({ shape: [T], dtype: 'int32', name: I.decoderTokens });
  const encStates = tf.input({ shape: [T, 2 * H], name: I.encoderStates });
  const encMask = tf.input({ shape: [T], name: I.mask });
  const hInit = tf.input({ shape: [H], name: I.initialState });
  const decInputs = [tgtIn, encStates, encMask, hInit];
  let x = apply(tf.layers.embedding({ inputDim: targetVocab, outputDim: E, name: L.decoder.embedding, embeddingsInitializer: init.uniform() }), tgtIn);
  let zs: tf.SymbolicTensor | undefined;
  if (Z > 0) {
    const z = tf.input({ shape: [Z], name: I.z });
    decInputs.push(z);
    zs = apply(tf.layers.repeatVector({ n: T, name: L.decoder.repeatZ }), z);
    x = apply(tf.layers.concatenate({ axis: -1, name: L.decoder.concat }), [x, zs]);
  }
  const d = apply(gru(L.decoder.rnn, true), x, { initialState: [hInit] });
  const [context, weights] = new Attention({ score: config.attentionScore, units: H, name: L.decoder.attention, seed: init.next() }).apply([d, encStates, encMask]) as tf.SymbolicTensor[];
  let attended = context!;
  const decOutputs: tf.SymbolicTensor[] = [];
  let contextLogvar: tf.SymbolicTensor | undefined;
  if (config.attention === 'variational') {
    const noise = tf.input({ shape: [T, 2 * H], name: I.attentionNoise });
    decInputs.push(noise);
    const dc = apply(tf.layers.concatenate({ axis: -1, name: 'attention_logvar_input' }), [d, context!]);
    contextLogvar = apply(dense(2 * H, 'attention_logvar'), dc);
    attended = apply(new GaussianSample({ name: L.decoder.attentionSample }), [context!, contextLogvar, noise]);
  }
  const o = apply(tf.layers.concatenate({ axis: -1, name: L.decoder.output }), zs ? [d, attended, zs] : [d, attended]);
  const hidden = apply(dense(H, L.decoder.hidden, 'tanh'), o);
  const logits = apply(dense(targetVocab, L.decoder.logits), hidden);
  decOutputs.push(logits, weights!);
  if (contextLogvar) decOutputs.push(context!, contextLogvar);
  const decoder = tf.model({ inputs: decInputs, outputs: decOutputs, name: 'decoder' });
  return { encoder, decoder };
}

/** Sizes read back from trained models (for `--init` checks, export and evaluation). */
export interface Seq2SeqDims {
  sourceVocab: number;
  targetVocab: number;
  embedding: number;
  hidden: number;
  latent: number;
  seqLength: number;
  attention: 'deterministic' | 'variational';
  attentionScore: string;
}

/** The sizes of a translator's trained models. */
export function seq2seqDims(models: Seq2SeqModels): Seq2SeqDims {
  const srcTable = models.encoder.getLayer(L.encoder.embedding).getWeights()[0]!;
  const tgtTable = models.decoder.getLayer(L.decoder.embedding).getWeights()[0]!;
  const names = models.decoder.inputNames;
  const input = (name: string) => models.decoder.inputs[names.indexOf(name)];
  const h0 = input(I.initialState);
  const z = input(I.z);
  const att = models.decoder.getLayer(L.decoder.attention) as Attention;
  return {
    sourceVocab: srcTable.shape[0]!,
    targetVocab: tgtTable.shape[0]!,
    embedding: srcTable.shape[1]!,
    hidden: h0!.shape[1] as number,
    latent: z ? (z.shape[1] as number) : 0,
    seqLength: models.decoder.inputs[0]!.shape[1] as number,
    attention: names.includes(I.attentionNoise) ? 'variational' : 'deterministic',
    attentionScore: att.score,
  };
}
