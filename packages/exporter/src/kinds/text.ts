/**
 * The text kind's export plan (docs/text-model.md): the sentence VAE's training graphs become three
 * ONNX graphs,
 *
 * - `encoder.onnx`       `tokens [B,T] int32, lengths [B] int32 -> mu [B,Z], logvar [B,Z]` (T dynamic);
 * - `decoder_init.onnx`  `z [B,Z] -> h [B,H] (, c [B,H])`;
 * - `decoder_step.onnx`  `token [B] int32, h (, c), z -> logits [B,V], h_out (, c_out)`,
 *
 * plus `tokenizer.json`, with the manifest section `text`. The step graph is one step of the training
 * decoder's RNN with the state as input and output, so generating a token costs O(1) instead of
 * re-running the whole prefix. Each graph is first built as a small tfjs model holding copies of the
 * trained weights, so the ordinary converter and parity check apply to it unchanged. Every layer,
 * graph and tensor name comes from core's TEXT_MODEL.
 */
import * as tf from '@tensorflow/tfjs';
import {
  TEXT_LAYER_NAMES,
  TEXT_MODEL,
  WordTokenizer,
  sha256Hex,
  stateNames,
  stateOutputName,
  type TextCell,
  type TextSpec,
  type TrainingSummary,
} from '@vaekit/core';
import { ExportError } from '../errors.js';
import { ConversionContext, DataType, attr, type IrValueInfo } from '../ir.js';
import { textHeldOutLoss } from '../held-out.js';
import { cloneLayer, layerOf as findLayer, quietly } from './layers.js';
import { rowLengths } from '../parity.js';
import type { ExportPlan, PlanGraph } from '../plans.js';

const L = TEXT_MODEL.layers;
const G = TEXT_MODEL.graphs;

/** What a text bundle is exported from: the trained sentence VAE graphs in memory and its tokenizer. */
export interface TextBundleSource {
  kind: 'text';
  /** Training encoder `tokens [B,T] -> mu, logvar` (TEXT_MODEL layer names). */
  encoder: tf.LayersModel;
  /** Training decoder `tokens_in [B,T], z -> logits [B,T,V]`. */
  decoder: tf.LayersModel;
  /** The run's tokenizer: a {@link WordTokenizer} or its `tokenizer.json` text / parsed JSON. */
  tokenizer: WordTokenizer | string | object;
  /** Written into the manifest's `training`. */
  training?: TrainingSummary;
  /**
   * Held-out sentences (token ids without `<bos>`/`<eos>`) for the held-out loss of a dtype variant
   * against fp32; the `heldOutLoss` option, when given, takes precedence.
   */
  heldOut?: number[][];
}

/** The three inference graphs of a text bundle as tfjs models, and what the manifest says about them. */
export interface TextInferenceGraphs {
  /** `tokens [B,T] -> mu, logvar` (the training encoder itself). */
  encoder: tf.LayersModel;
  /** `z -> h (, c)`. */
  decoderInit: tf.LayersModel;
  /** `token [B], h (, c), z -> logits, h_out (, c_out)`. */
  decoderStep: tf.LayersModel;
  cell: TextCell;
  vocabSize: number;
  embeddingSize: number;
  hiddenSize: number;
  latentSize: number;
  /** Padded length T of the training graphs. */
  seqLength: number;
  /** Releases the tfjs models built here (not the training encoder). */
  dispose(): void;
}

/** A layer of the text model's training graphs; a missing one names every layer a text model needs. */
function layerOf(model: tf.LayersModel, name: string, graph: string): tf.layers.Layer {
  return findLayer(model, name, graph, `a text model needs the layers ${[...TEXT_LAYER_NAMES.encoder, ...TEXT_LAYER_NAMES.decoder].join(', ')} (docs/text-model.md)`);
}

function cellOf(layer: tf.layers.Layer): TextCell {
  const cls = layer.getClassName();
  if (cls === 'GRU') return 'gru';
  if (cls === 'LSTM') return 'lstm';
  throw new ExportError(`${L.decoder.rnn} is a ${cls} layer. Should be one of: GRU, LSTM.`);
}

/**
 * Builds the inference graphs of a text VAE from its training graphs (docs/text-model.md). The
 * returned tfjs models share no layers with the training decoder: their weights are copies.
 */
export function buildTextGraphs(encoder: tf.LayersModel, decoder: tf.LayersModel): TextInferenceGraphs {
  for (const name of TEXT_LAYER_NAMES.encoder) layerOf(encoder, name, 'encoder');
  const embedding = layerOf(decoder, L.decoder.embedding, 'decoder');
  const rnn = layerOf(decoder, L.decoder.rnn, 'decoder');
  const logits = layerOf(decoder, L.decoder.logits, 'decoder');
  const initH = layerOf(decoder, L.decoder.initH, 'decoder');
  const cell = cellOf(rnn);
  const initC = cell === 'lstm' ? layerOf(decoder, L.decoder.initC, 'decoder') : undefined;
  const zInput = decoder.inputs.find((t) => t.shape.length === 2 && t.dtype === 'float32');
  const tokensInput = decoder.inputs.find((t) => t !== zInput);
  if (!zInput || !tokensInput) throw new ExportError('The text decoder should have the inputs tokens_in [B,T] and z [B,Z].');
  const [table] = embedding.getWeights();
  const [rnnKernel] = rnn.getWeights();
  if (!table || !rnnKernel) throw new ExportError('The text decoder has no weights; build or load it first.');
  const latentSize = zInput.shape[1]!;
  const vocabSize = table.shape[0]!;
  const embeddingSize = table.shape[1]!;
  const hiddenSize = rnnKernel.shape[1]! / (cell === 'lstm' ? 4 : 3);
  const seqLength = tokensInput.shape[1] ?? 0;

  const built: tf.LayersModel[] = [];
  const copy = (layer: tf.layers.Layer, name: string, overrides: tf.serialization.ConfigDict, input: tf.SymbolicTensor | tf.SymbolicTensor[], kwargs?: object) => {
    const l = cloneLayer(layer, name, overrides);
    const out = l.apply(input, kwargs);
    l.setWeights(layer.getWeights());
    return out;
  };

  // decoder_init: z -> h (, c)
  const [hName, cName] = stateNames(cell) as [string, string | undefined];
  const zi = tf.input({ shape: [latentSize], name: G.decoderInit.inputs.z });
  const h0 = copy(initH, hName, {}, zi) as tf.SymbolicTensor;
  const c0 = initC ? (copy(initC, cName!, {}, zi) as tf.SymbolicTensor) : undefined;
  const decoderInit = tf.model({ inputs: zi, outputs: c0 ? [h0, c0] : [h0], name: 'decoder_init' });
  built.push(decoderInit);

  // decoder_step: one step of dec_rnn on [embed(token), z] from state (h, c).
  const token = tf.input({ shape: [], dtype: 'int32', name: G.decoderStep.inputs.token });
  const h = tf.input({ shape: [hiddenSize], name: hName });
  const c = cName ? tf.input({ shape: [hiddenSize], name: cName }) : undefined;
  const zs = tf.input({ shape: [latentSize], name: G.decoderStep.inputs.z });
  const tok1 = tf.layers.reshape({ targetShape: [1], name: 'token_as_sequence' }).apply(token) as tf.SymbolicTensor;
  const emb = copy(embedding, 'step_embedding', { inputLength: null }, tok1) as tf.SymbolicTensor;
  const z1 = tf.layers.reshape({ targetShape: [1, latentSize], name: 'z_as_sequence' }).apply(zs) as tf.SymbolicTensor;
  const xz = tf.layers.concatenate({ axis: -1, name: 'step_concat' }).apply([emb, z1]) as tf.SymbolicTensor;
  const states = c ? [h, c] : [h];
  const stepOut = quietly(() =>
    copy(rnn, 'step_rnn', { returnSequences: false, returnState: true }, xz, { initialState: states }),
  ) as tf.SymbolicTensor[];
  const [, hOut, cOut] = stepOut;
  const stepLogits = copy(logits, 'step_logits', {}, hOut!) as tf.SymbolicTensor;
  const decoderStep = tf.model({
    inputs: c ? [token, h, c, zs] : [token, h, zs],
    outputs: cOut ? [stepLogits, hOut!, cOut] : [stepLogits, hOut!],
    name: 'decoder_step',
  });
  built.push(decoderStep);

  return {
    encoder,
    decoderInit,
    decoderStep,
    cell,
    vocabSize,
    embeddingSize,
    hiddenSize,
    latentSize,
    seqLength,
    dispose: () => built.forEach((m) => m.dispose()),
  };
}

/** ONNX `TensorProto.DataType` DOUBLE: `log_z` is summed in float64 inside the graph. */
const ONNX_DOUBLE = 11;

/**
 * The step graph's decoding heads (TEXT_MODEL.graphs.decoderStep.heads), appended after its logits:
 * `best_id`/`best_logit` (ArgMax and the row's max), `top_ids`/`top_logits` (TopK `k`, at most the
 * vocabulary), `log_z` (float32 exponentials summed in float64, within ~1e-6 of the float64
 * log-sum-exp, written as a float32 pair hi + lo) and `best_logprob` (the largest LogSoftmax value,
 * greedy decoding's log-probability without TopK or float64). With them the runtime
 * fetches a few numbers per sequence instead of the whole logits row for greedy, top-k and top-p
 * decoding (docs/text-model.md).
 */
export function decodingHeads(vocabSize: number, k: number = G.decoderStep.topK) {
  const H = G.decoderStep.heads;
  const K = Math.min(k, vocabSize);
  return (ctx: ConversionContext, outputs: readonly string[]): IrValueInfo[] => {
    const logits = outputs[0]!;
    // ArgMax (first index of the max: ties by lower id) and ReduceMax: TopK with k = 1 costs several
    // times more in ONNX Runtime.
    const max = ctx.reduce('ReduceMax', logits, [1], true);
    const axis1 = ctx.constInt64([1]);
    ctx.makeNode('Squeeze', [max, axis1], {}, { outputs: [H.bestLogit], name: 'best/squeeze' });
    const bestId64 = ctx.op('ArgMax', [logits], { axis: attr.int(1), keepdims: attr.int(0), select_last_index: attr.int(0) }, 'best/argmax');
    ctx.makeNode('Cast', [bestId64], { to: attr.int(DataType.INT32) }, { outputs: [H.bestId], name: 'best/cast' });
    const topIds = ctx.uniqueName('top/indices');
    ctx.makeNode('TopK', [logits, ctx.constInt64([K])], { axis: attr.int(-1), largest: attr.int(1), sorted: attr.int(1) }, { outputs: [H.topLogits, topIds], name: 'top' });
    ctx.makeNode('Cast', [topIds], { to: attr.int(DataType.INT32) }, { outputs: [H.topIds], name: 'top/cast' });
    // log-sum-exp: exp of (logit - max) in float32 (vectorised), summed in float64. Double exp in ONNX
    // Runtime costs ~20x the step's other work at batch 64; this stays within ~1e-6 of the float64
    // log-sum-exp, and the runtime widens nucleus decisions by LOG_Z_SLACK accordingly.
    const e = ctx.op('Exp', [ctx.op('Sub', [logits, max], {}, 'log_z/shift')], {}, 'log_z/exp');
    const sum = ctx.reduce('ReduceSum', ctx.op('Cast', [e], { to: attr.int(ONNX_DOUBLE) }, 'log_z/to_double'), [1], true);
    const lse = ctx.op('Add', [ctx.op('Log', [sum], {}, 'log_z/log'), ctx.op('Cast', [max], { to: attr.int(ONNX_DOUBLE) }, 'log_z/max_double')], {}, 'log_z/add');
    const hi = ctx.op('Cast', [lse], { to: attr.int(DataType.FLOAT) }, 'log_z/hi');
    const rest = ctx.op('Sub', [lse, ctx.op('Cast', [hi], { to: attr.int(ONNX_DOUBLE) }, 'log_z/hi_double')], {}, 'log_z/rest');
    const lo = ctx.op('Cast', [rest], { to: attr.int(DataType.FLOAT) }, 'log_z/lo');
    ctx.makeNode('Concat', [hi, lo], { axis: attr.int(1) }, { outputs: [H.logZ], name: 'log_z/concat' });
    // Greedy's log-probability in float32: LogSoftmax is one fused, vectorised kernel.
    const logSoftmax = ctx.op('LogSoftmax', [logits], { axis: attr.int(1) }, 'best_logprob/log_softmax');
    ctx.makeNode('Identity', [ctx.reduce('ReduceMax', logSoftmax, [1], false)], {}, { outputs: [G.decoderStep.greedyHead], name: 'best_logprob' });
    return [
      { name: H.bestId, elemType: DataType.INT32, shape: ['batch'] },
      { name: H.bestLogit, elemType: DataType.FLOAT, shape: ['batch'] },
      { name: H.topIds, elemType: DataType.INT32, shape: ['batch', K] },
      { name: H.topLogits, elemType: DataType.FLOAT, shape: ['batch', K] },
      { name: H.logZ, elemType: DataType.FLOAT, shape: ['batch', 2] },
      { name: G.decoderStep.greedyHead, elemType: DataType.FLOAT, shape: ['batch'] },
    ];
  };
}

/** sha256 of the vocabulary: tokens joined by `\n` in id order (identifies the id mapping). */
export async function vocabularyHash(tokenizer: WordTokenizer): Promise<string> {
  return sha256Hex(new TextEncoder().encode(tokenizer.vocabulary.join('\n')));
}

/** The `text` section of a text bundle manifest. */
export async function textSpecFor(graphs: TextInferenceGraphs, tokenizer: WordTokenizer, tokenizerFile: string): Promise<TextSpec> {
  if (tokenizer.vocabSize !== graphs.vocabSize) {
    throw new ExportError(
      `tokenizer.json has ${tokenizer.vocabSize} tokens but the model's embedding has ${graphs.vocabSize} rows; they must come from the same run.`,
    );
  }
  return {
    cell: graphs.cell,
    vocabSize: graphs.vocabSize,
    embeddingSize: graphs.embeddingSize,
    hiddenSize: graphs.hiddenSize,
    maxLength: Math.max(1, graphs.seqLength - 1),
    stateNames: stateNames(graphs.cell),
    specialTokens: { ...TEXT_MODEL.specialIds },
    tokenizer: tokenizerFile,
    vocabularySha256: await vocabularyHash(tokenizer),
  };
}

/** The plan entries of the step decoder's two graphs (`decoder_init`, `decoder_step`), also used by kinds that reuse the sentence decoder. */
export function textDecoderPlanGraphs(graphs: TextInferenceGraphs): PlanGraph[] {
  const states = stateNames(graphs.cell);
  return [
    {
      key: 'decoder_init',
      file: G.decoderInit.file,
      model: graphs.decoderInit,
      convert: { inputNames: [G.decoderInit.inputs.z], outputNames: states },
    },
    {
      key: 'decoder_step',
      file: G.decoderStep.file,
      model: graphs.decoderStep,
      convert: {
        inputNames: [G.decoderStep.inputs.token, ...states, G.decoderStep.inputs.z],
        outputNames: [G.decoderStep.outputs.logits, ...states.map(stateOutputName)],
        extraOutputs: decodingHeads(graphs.vocabSize),
      },
      parity: { ids: { vocab: graphs.vocabSize } },
    },
  ];
}

/**
 * The export plan of a sentence VAE. Throws {@link ExportError} when the tokenizer cannot be read or
 * does not match the embedding, or when a layer named by the contract is missing.
 */
export async function textPlan(source: TextBundleSource): Promise<ExportPlan> {
  let tokenizer: WordTokenizer;
  try {
    tokenizer = source.tokenizer instanceof WordTokenizer ? source.tokenizer : WordTokenizer.fromJSON(source.tokenizer);
  } catch (err) {
    throw new ExportError(`Cannot read the tokenizer: ${(err as Error).message}`, { cause: err });
  }
  const graphs = buildTextGraphs(source.encoder, source.decoder);
  try {
    const text = await textSpecFor(graphs, tokenizer, TEXT_MODEL.tokenizerFile);
    const states = stateNames(graphs.cell);
    return {
      kind: 'text',
      latentSize: graphs.latentSize,
      description: `vaekit ${graphs.cell} sentence VAE`,
      graphs: [
        {
          key: 'encoder',
          file: G.encoder.file,
          model: graphs.encoder,
          convert: {
            inputNames: [G.encoder.inputs.tokens],
            outputNames: [G.encoder.outputs.mu, G.encoder.outputs.logvar],
            lengthsInput: G.encoder.inputs.lengths,
            dynamicDims: { [G.encoder.inputs.tokens]: { 1: 'time' } },
          },
          parity: { ids: { vocab: graphs.vocabSize, padRight: true }, extraInputs: ([tokens]) => ({ [G.encoder.inputs.lengths]: rowLengths(tokens!) }) },
        },
        ...textDecoderPlanGraphs(graphs),
      ],
      section: { text },
      metadata: { 'vaekit.cell': graphs.cell, 'vaekit.vocabulary_sha256': text.vocabularySha256 ?? '' },
      files: [{ path: TEXT_MODEL.tokenizerFile, bytes: new TextEncoder().encode(JSON.stringify(tokenizer.toJSON(), null, 2) + '\n') }],
      ...(source.training ? { training: source.training } : {}),
      ...(source.heldOut && source.heldOut.length > 0 ? { heldOutLoss: textHeldOutLoss(source.heldOut, TEXT_MODEL.specialIds, states) } : {}),
      dispose: () => graphs.dispose(),
    };
  } catch (err) {
    graphs.dispose();
    throw err;
  }
}
