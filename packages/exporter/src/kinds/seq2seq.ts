/**
 * The seq2seq kind's export plan (docs/seq2seq-model.md): the translator's training graphs become two
 * ONNX graphs,
 *
 * - `encoder.onnx`      `tokens [B,S] int32, lengths [B] int32 -> encoder_states [B,S,2H], mask [B,S],
 *   (prior_mu, prior_logvar [B,Z],) h [B,H]` (S dynamic);
 * - `decoder_step.onnx` `token [B] int32, h [B,H], encoder_states, mask, (z [B,Z],) (attention_noise
 *   [B,2H]) -> logits [B,V], h_out [B,H], attention [B,S]`,
 *
 * plus both tokenizers, with the manifest section `seq2seq`. The encoder graph is the training
 * encoder's source half (the posterior, which reads the target, is training-only); the step graph is
 * one step of the training decoder with copies of its weights, so the ordinary converter and parity
 * check apply to both. Every layer, graph and tensor name comes from core's SEQ2SEQ_MODEL.
 */
import * as tf from '@tensorflow/tfjs';
import { SEQ2SEQ_MODEL, WordTokenizer, type Seq2SeqSpec, type TrainingSummary } from '@vaekit/core';
import { ExportError } from '../errors.js';
import { rowLengths, type ParityInput } from '../parity.js';
import type { ExportPlan } from '../plans.js';
import { cloneLayer, layerOf as findLayer, quietly } from './layers.js';

const L = SEQ2SEQ_MODEL.layers;
const G = SEQ2SEQ_MODEL.graphs;
const I = SEQ2SEQ_MODEL.trainingInputs;

/** What a seq2seq bundle is exported from: the trained translator graphs in memory and its tokenizers. */
export interface Seq2SeqBundleSource {
  kind: 'seq2seq';
  /** Training encoder `src_tokens (, tgt_tokens) -> enc_states, enc_mask, summary, h0 (, prior, posterior)`. */
  encoder: tf.LayersModel;
  /** Training decoder `tgt_in, enc_states, enc_mask, h0 (, z) (, attention_noise) -> logits, attention (, ...)`. */
  decoder: tf.LayersModel;
  sourceTokenizer: WordTokenizer | string | object;
  targetTokenizer: WordTokenizer | string | object;
  /** Language tags for the manifest (e.g. `fr`, `en`). */
  sourceLanguage?: string;
  targetLanguage?: string;
  training?: TrainingSummary;
}

/** The inference graphs of a translator as tfjs models, and what the manifest says about them. */
export interface Seq2SeqInferenceGraphs {
  encoder: tf.LayersModel;
  decoderStep: tf.LayersModel;
  spec: Omit<Seq2SeqSpec, 'sourceTokenizer' | 'targetTokenizer' | 'specialTokens'>;
  /** Padded length S of the training graphs (the step graph's static encoder length, dynamic in ONNX). */
  seqLength: number;
  latent: boolean;
  variational: boolean;
  dispose(): void;
}

/** A layer of the translator's training graphs. */
function layerOf(model: tf.LayersModel, name: string, graph: string): tf.layers.Layer {
  return findLayer(model, name, graph, 'it is not a vaekit translator (docs/seq2seq-model.md)');
}

function outputOf(model: tf.LayersModel, name: string, graph: string): tf.SymbolicTensor {
  const out = layerOf(model, name, graph).output;
  return (Array.isArray(out) ? out[0] : out) as tf.SymbolicTensor;
}

/** Builds the inference graphs of a translator from its training graphs (docs/seq2seq-model.md). */
export function buildSeq2SeqGraphs(encoder: tf.LayersModel, decoder: tf.LayersModel): Seq2SeqInferenceGraphs {
  const names = decoder.inputNames;
  const input = (name: string) => decoder.inputs[names.indexOf(name)];
  const hInput = input(I.initialState);
  const statesInput = input(I.encoderStates);
  if (!hInput || !statesInput) throw new ExportError(`The decoder should have the inputs ${I.decoderTokens}, ${I.encoderStates}, ${I.mask}, ${I.initialState}; it is not a vaekit translator.`);
  const zInput = input(I.z);
  const variational = names.includes(I.attentionNoise);
  const hidden = hInput.shape[1] as number;
  const latentSize = zInput ? (zInput.shape[1] as number) : 0;
  const seqLength = statesInput.shape[1] as number;
  const srcEmbedding = layerOf(encoder, L.encoder.embedding, 'encoder');
  const tgtEmbedding = layerOf(decoder, L.decoder.embedding, 'decoder');
  const rnn = layerOf(decoder, L.decoder.rnn, 'decoder');
  const attention = layerOf(decoder, L.decoder.attention, 'decoder');
  const attentional = layerOf(decoder, L.decoder.hidden, 'decoder');
  const logits = layerOf(decoder, L.decoder.logits, 'decoder');
  const [srcTable] = srcEmbedding.getWeights();
  const [tgtTable] = tgtEmbedding.getWeights();
  if (!srcTable || !tgtTable) throw new ExportError('The translator has no weights; build or load it first.');

  // encoder.onnx: the source half of the training encoder (shared layers, no copies).
  const src = encoder.inputs[0]!;
  const encOutputs = [outputOf(encoder, L.encoder.rnn, 'encoder'), outputOf(encoder, L.encoder.mask, 'encoder')];
  if (latentSize > 0) encOutputs.push(outputOf(encoder, L.encoder.priorMu, 'encoder'), outputOf(encoder, L.encoder.priorLogvar, 'encoder'));
  encOutputs.push(outputOf(encoder, L.encoder.initH, 'encoder'));
  const inferenceEncoder = tf.model({ inputs: src, outputs: encOutputs, name: 'encoder' });

  // decoder_step.onnx: one step of the training decoder, with copies of its weights.
  const built: tf.LayersModel[] = [];
  const copy = (layer: tf.layers.Layer, name: string, overrides: tf.serialization.ConfigDict, x: tf.SymbolicTensor | tf.SymbolicTensor[], kwargs?: object) => {
    const l = cloneLayer(layer, name, overrides);
    const out = l.apply(x, kwargs);
    l.setWeights(layer.getWeights());
    return out;
  };
  const S = G.decoderStep.inputs;
  const token = tf.input({ shape: [], dtype: 'int32', name: S.token });
  const h = tf.input({ shape: [hidden], name: S.h });
  const states = tf.input({ shape: [seqLength, 2 * hidden], name: S.states });
  const mask = tf.input({ shape: [seqLength], name: S.mask });
  const z = latentSize > 0 ? tf.input({ shape: [latentSize], name: S.z }) : undefined;
  const noise = variational ? tf.input({ shape: [2 * hidden], name: S.attentionNoise }) : undefined;
  const tok1 = tf.layers.reshape({ targetShape: [1], name: 'token_as_sequence' }).apply(token) as tf.SymbolicTensor;
  let x = copy(tgtEmbedding, 'step_embedding', { inputLength: null }, tok1) as tf.SymbolicTensor;
  if (z) {
    const z1 = tf.layers.reshape({ targetShape: [1, latentSize], name: 'z_as_sequence' }).apply(z) as tf.SymbolicTensor;
    x = tf.layers.concatenate({ axis: -1, name: 'step_concat' }).apply([x, z1]) as tf.SymbolicTensor;
  }
  const [, hOut] = quietly(() => copy(rnn, 'step_rnn', { returnSequences: false, returnState: true }, x, { initialState: [h] })) as tf.SymbolicTensor[];
  const [context, weights] = copy(attention, 'step_attention', {}, [hOut!, states, mask]) as tf.SymbolicTensor[];
  let attended = context!;
  if (noise) {
    const lvIn = tf.layers.concatenate({ axis: -1, name: 'step_logvar_input' }).apply([hOut!, context!]) as tf.SymbolicTensor;
    const lv = copy(layerOf(decoder, 'attention_logvar', 'decoder'), 'step_attention_logvar', {}, lvIn) as tf.SymbolicTensor;
    attended = copy(layerOf(decoder, L.decoder.attentionSample, 'decoder'), 'step_attention_sample', {}, [context!, lv, noise]) as tf.SymbolicTensor;
  }
  const o = tf.layers.concatenate({ axis: -1, name: 'step_concat_out' }).apply(z ? [hOut!, attended, z] : [hOut!, attended]) as tf.SymbolicTensor;
  const hid = copy(attentional, 'step_attentional', {}, o) as tf.SymbolicTensor;
  const stepLogits = copy(logits, 'step_logits', {}, hid) as tf.SymbolicTensor;
  const stepInputs = [token, h, states, mask, ...(z ? [z] : []), ...(noise ? [noise] : [])];
  const decoderStep = tf.model({ inputs: stepInputs, outputs: [stepLogits, hOut!, weights!], name: 'decoder_step' });
  built.push(decoderStep);

  const score = (attention.getConfig() as { score?: string }).score;
  if (score !== 'additive' && score !== 'multiplicative') throw new ExportError(`The attention layer has an unknown score ${JSON.stringify(score)}.`);
  return {
    encoder: inferenceEncoder,
    decoderStep,
    spec: {
      attention: variational ? 'variational' : 'deterministic',
      attentionScore: score,
      sourceVocabSize: srcTable.shape[0]!,
      targetVocabSize: tgtTable.shape[0]!,
      embeddingSize: tgtTable.shape[1]!,
      hiddenSize: hidden,
      latentSize,
      maxLength: Math.max(1, seqLength - 1),
    },
    seqLength,
    latent: latentSize > 0,
    variational,
    dispose: () => built.forEach((m) => m.dispose()),
  };
}

function readTokenizer(value: WordTokenizer | string | object, which: string): WordTokenizer {
  try {
    return value instanceof WordTokenizer ? value : WordTokenizer.fromJSON(value);
  } catch (err) {
    throw new ExportError(`Cannot read the ${which} tokenizer: ${(err as Error).message}`, { cause: err });
  }
}

/** A 0/1 mask `[B,S]` with a random number of leading ones per row (right padding, at least one). */
function maskInput(shape: number[], rng: { int(n: number): number }): ParityInput {
  const [rows, steps] = shape as [number, number];
  const data = new Float32Array(rows * steps);
  for (let b = 0; b < rows; b++) data.fill(1, b * steps, b * steps + 1 + rng.int(steps));
  return { dtype: 'float32', shape, data };
}

/**
 * The export plan of a translator. Throws {@link ExportError} when a tokenizer cannot be read or does not
 * match its embedding, or when a layer named by the contract is missing.
 */
export async function seq2seqPlan(source: Seq2SeqBundleSource): Promise<ExportPlan> {
  const sourceTokenizer = readTokenizer(source.sourceTokenizer, 'source');
  const targetTokenizer = readTokenizer(source.targetTokenizer, 'target');
  const graphs = buildSeq2SeqGraphs(source.encoder, source.decoder);
  try {
    if (sourceTokenizer.vocabSize !== graphs.spec.sourceVocabSize || targetTokenizer.vocabSize !== graphs.spec.targetVocabSize) {
      throw new ExportError(
        `The tokenizers have ${sourceTokenizer.vocabSize} and ${targetTokenizer.vocabSize} tokens but the embeddings ${graphs.spec.sourceVocabSize} and ${graphs.spec.targetVocabSize} rows; they must come from the same run.`,
      );
    }
    const seq2seq: Seq2SeqSpec = {
      ...graphs.spec,
      specialTokens: { ...SEQ2SEQ_MODEL.specialIds },
      sourceTokenizer: SEQ2SEQ_MODEL.sourceTokenizerFile,
      targetTokenizer: SEQ2SEQ_MODEL.targetTokenizerFile,
      ...(source.sourceLanguage ? { sourceLanguage: source.sourceLanguage } : {}),
      ...(source.targetLanguage ? { targetLanguage: source.targetLanguage } : {}),
    };
    const E = G.encoder;
    const D = G.decoderStep;
    const encOutputs = [E.outputs.states, E.outputs.mask, ...(graphs.latent ? [E.outputs.priorMu, E.outputs.priorLogvar] : []), E.outputs.h];
    const stepInputs = [D.inputs.token, D.inputs.h, D.inputs.states, D.inputs.mask, ...(graphs.latent ? [D.inputs.z] : []), ...(graphs.variational ? [D.inputs.attentionNoise] : [])];
    const json = (t: WordTokenizer) => new TextEncoder().encode(JSON.stringify(t.toJSON(), null, 2) + '\n');
    return {
      kind: 'seq2seq',
      latentSize: graphs.spec.latentSize,
      description: `vaekit attention translator (${graphs.spec.attention} ${graphs.spec.attentionScore} attention, z ${graphs.spec.latentSize})`,
      graphs: [
        {
          key: 'encoder',
          file: E.file,
          model: graphs.encoder,
          convert: {
            inputNames: [E.inputs.tokens],
            outputNames: encOutputs,
            lengthsInput: E.inputs.lengths,
            dynamicDims: { [E.inputs.tokens]: { 1: 'source_length' }, [E.outputs.states]: { 1: 'source_length' }, [E.outputs.mask]: { 1: 'source_length' } },
          },
          parity: { ids: { vocab: graphs.spec.sourceVocabSize, padRight: true }, extraInputs: ([tokens]) => ({ [E.inputs.lengths]: rowLengths(tokens!) }) },
        },
        {
          key: 'decoder_step',
          file: D.file,
          model: graphs.decoderStep,
          convert: {
            inputNames: stepInputs,
            outputNames: [D.outputs.logits, D.outputs.h, D.outputs.attention],
            dynamicDims: { [D.inputs.states]: { 1: 'source_length' }, [D.inputs.mask]: { 1: 'source_length' }, [D.outputs.attention]: { 1: 'source_length' } },
          },
          parity: { ids: { vocab: graphs.spec.targetVocabSize }, makeInput: (i, shape, rng) => (i === 3 ? maskInput(shape, rng) : undefined) },
        },
      ],
      section: { seq2seq },
      metadata: { 'vaekit.attention': `${seq2seq.attention}/${seq2seq.attentionScore}` },
      files: [
        { path: SEQ2SEQ_MODEL.sourceTokenizerFile, bytes: json(sourceTokenizer) },
        { path: SEQ2SEQ_MODEL.targetTokenizerFile, bytes: json(targetTokenizer) },
      ],
      ...(source.training ? { training: source.training } : {}),
      dispose: () => graphs.dispose(),
    };
  } catch (err) {
    graphs.dispose();
    throw err;
  }
}
