/**
 * Text bundles (docs/text-model.md): the sentence VAE's training graphs become three ONNX graphs,
 *
 * - `encoder.onnx`       `tokens [B,T] int32, lengths [B] int32 -> mu [B,Z], logvar [B,Z]` (T dynamic);
 * - `decoder_init.onnx`  `z [B,Z] -> h [B,H] (, c [B,H])`;
 * - `decoder_step.onnx`  `token [B] int32, h (, c), z -> logits [B,V], h_out (, c_out)`,
 *
 * plus `tokenizer.json` and `manifest.json`. The step graph is one step of the training decoder's RNN
 * with the state as input and output, so generating a token costs O(1) instead of re-running the whole
 * prefix. Each graph is first built as a small tfjs model holding copies of the trained weights, so
 * the ordinary converter and parity check apply to it unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { TEXT_LAYER_NAMES, TEXT_MODEL, sha256Hex, stateNames, stateOutputName, type GraphSpec, type ParityReport, type TextCell, type TextSpec, type WordTokenizer } from '@vaekit/core';
import { convertLayersModel, DEFAULT_OPSET, type ConvertOptions } from './converter.js';
import { ExportError } from './errors.js';
import type { ExportProfile } from './ir.js';
import { makeVariant, type WeightDtype } from './variants.js';
import { checkParity, rowLengths, type ParityOptions, type ParityRuntime } from './parity.js';

export { TEXT_LAYER_NAMES };

/** The three inference graphs of a text bundle as tfjs models, and what the manifest says about them. */
export interface TextGraphs {
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

function layerOf(model: tf.LayersModel, name: string, graph: string): tf.layers.Layer {
  try {
    return model.getLayer(name);
  } catch {
    throw new ExportError(
      `The ${graph} has no layer "${name}"; a text model needs the layers ${[...TEXT_LAYER_NAMES.encoder, ...TEXT_LAYER_NAMES.decoder].join(', ')} (docs/text-model.md).`,
    );
  }
}

/** A copy of a trained layer's configuration with new name and overrides, built with its weights. */
function cloneLayer(
  layer: tf.layers.Layer,
  name: string,
  overrides: tf.serialization.ConfigDict,
): tf.layers.Layer {
  const config = { ...layer.getConfig(), ...overrides, name };
  const ctor = layer.constructor as unknown as { fromConfig(cls: unknown, config: tf.serialization.ConfigDict): tf.layers.Layer };
  return ctor.fromConfig(layer.constructor, config);
}

function cellOf(layer: tf.layers.Layer): TextCell {
  const cls = layer.getClassName();
  if (cls === 'GRU') return 'gru';
  if (cls === 'LSTM') return 'lstm';
  throw new ExportError(`dec_rnn is a ${cls} layer. Should be one of: GRU, LSTM.`);
}

/**
 * Builds the inference graphs of a text VAE from its training graphs (docs/text-model.md). The
 * returned tfjs models share no layers with the training decoder: their weights are copies.
 */
export function buildTextGraphs(encoder: tf.LayersModel, decoder: tf.LayersModel): TextGraphs {
  for (const name of TEXT_LAYER_NAMES.encoder) layerOf(encoder, name, 'encoder');
  const embedding = layerOf(decoder, 'dec_embedding', 'decoder');
  const rnn = layerOf(decoder, 'dec_rnn', 'decoder');
  const logits = layerOf(decoder, 'logits', 'decoder');
  const initH = layerOf(decoder, 'dec_init_h', 'decoder');
  const cell = cellOf(rnn);
  const initC = cell === 'lstm' ? layerOf(decoder, 'dec_init_c', 'decoder') : undefined;
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
  const zi = tf.input({ shape: [latentSize], name: 'z' });
  const h0 = copy(initH, 'h', {}, zi) as tf.SymbolicTensor;
  const c0 = initC ? (copy(initC, 'c', {}, zi) as tf.SymbolicTensor) : undefined;
  const decoderInit = tf.model({ inputs: zi, outputs: c0 ? [h0, c0] : [h0], name: 'decoder_init' });
  built.push(decoderInit);

  // decoder_step: one step of dec_rnn on [embed(token), z] from state (h, c).
  const token = tf.input({ shape: [], dtype: 'int32', name: 'token' });
  const h = tf.input({ shape: [hiddenSize], name: 'h' });
  const c = cell === 'lstm' ? tf.input({ shape: [hiddenSize], name: 'c' }) : undefined;
  const zs = tf.input({ shape: [latentSize], name: 'z' });
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

/** tfjs warns that `initialState` is a non-serializable keyword argument; it is not an issue here. */
function quietly<T>(fn: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('non-serializable keyword arguments')) return;
    warn(...args);
  };
  try {
    return fn();
  } finally {
    console.warn = warn;
  }
}

/** One converted graph of a text bundle. */
export interface ConvertedGraph {
  key: 'encoder' | 'decoder_init' | 'decoder_step';
  file: string;
  /** The file to write (the variant when a dtype other than fp32 was asked for). */
  bytes: Uint8Array;
  /** The fp32 export, which `parity` checked against tfjs. */
  fp32: Uint8Array;
  spec: GraphSpec;
  parity: ParityReport;
  /** The variant against the fp32 file, per output (absent for fp32). */
  maxAbsErrorVsFp32?: Record<string, number>;
}

/** Options of {@link convertTextGraphs}. */
export interface ConvertTextOptions {
  opset?: number;
  /** Extra `metadata_props` written into every graph. */
  metadata?: Record<string, string>;
  tolerance?: number;
  parityBatch?: number;
  seed?: number;
  /** Weight dtype of the written graphs. Default fp32. */
  dtype?: WeightDtype;
  /** Export profile. Default `default`. */
  profile?: ExportProfile;
  /** ONNX Runtime builds for the parity check. Default `['node']`. */
  runtimes?: readonly ParityRuntime[];
  onGraph?: (key: ConvertedGraph['key'], stage: 'convert' | 'parity') => void;
}

/**
 * Converts the three inference graphs to ONNX and checks each against tfjs with ONNX Runtime (token
 * inputs are random right-padded ids; the encoder's `lengths` are their true lengths).
 */
export async function convertTextGraphs(graphs: TextGraphs, opts: ConvertTextOptions = {}): Promise<ConvertedGraph[]> {
  const opset = opts.opset ?? DEFAULT_OPSET;
  const states = stateNames(graphs.cell);
  const G = TEXT_MODEL.graphs;
  const plan: Array<{ key: ConvertedGraph['key']; model: tf.LayersModel; convert: ConvertOptions; parity: ParityOptions }> = [
    {
      key: 'encoder',
      model: graphs.encoder,
      convert: {
        inputNames: [G.encoder.inputs.tokens],
        outputNames: [G.encoder.outputs.mu, G.encoder.outputs.logvar],
        lengthsInput: G.encoder.inputs.lengths,
        // Unrolled (webgl) encoders are built for the training length T.
        ...(opts.profile === 'webgl' ? {} : { dynamicDims: { tokens: { 1: 'time' } } }),
      },
      parity: { ids: { vocab: graphs.vocabSize, padRight: true }, extraInputs: ([tokens]) => ({ lengths: rowLengths(tokens!) }) },
    },
    {
      key: 'decoder_init',
      model: graphs.decoderInit,
      convert: { inputNames: [G.decoderInit.inputs.z], outputNames: states },
      parity: {},
    },
    {
      key: 'decoder_step',
      model: graphs.decoderStep,
      convert: {
        inputNames: [G.decoderStep.inputs.token, ...states, G.decoderStep.inputs.z],
        outputNames: [G.decoderStep.outputs.logits, ...states.map(stateOutputName)],
      },
      parity: { ids: { vocab: graphs.vocabSize } },
    },
  ];
  const out: ConvertedGraph[] = [];
  for (const p of plan) {
    opts.onGraph?.(p.key, 'convert');
    const result = convertLayersModel(p.model, {
      ...p.convert,
      opset,
      metadata: { ...opts.metadata, 'vaekit.graph': p.key },
      docString: `vaekit ${graphs.cell} sentence VAE ${p.key}`,
      graphName: p.key,
      ...(opts.profile ? { profile: opts.profile } : {}),
    });
    opts.onGraph?.(p.key, 'parity');
    const parity = await checkParity(p.model, result.parityBytes, {
      ...p.parity,
      ...(opts.parityBatch !== undefined ? { batch: opts.parityBatch } : {}),
      ...(opts.tolerance !== undefined ? { tolerance: opts.tolerance } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.runtimes ? { runtimes: opts.runtimes } : {}),
    });
    const file = `${p.key}.onnx`;
    const spec = { file, inputs: result.inputs, outputs: result.outputs };
    const dtype = opts.dtype ?? 'fp32';
    if (dtype === 'fp32') {
      out.push({ key: p.key, file, bytes: result.bytes, fp32: result.bytes, spec, parity });
    } else {
      const v = await makeVariant(p.model, result, dtype, { ...p.parity, ...(opts.seed !== undefined ? { seed: opts.seed } : {}) });
      out.push({ key: p.key, file, bytes: v.bytes, fp32: result.bytes, spec, parity, maxAbsErrorVsFp32: v.maxAbsErrorVsFp32 });
    }
  }
  return out;
}

/** sha256 of the vocabulary: tokens joined by `\n` in id order (identifies the id mapping). */
export async function vocabularyHash(tokenizer: WordTokenizer): Promise<string> {
  return sha256Hex(new TextEncoder().encode(tokenizer.vocabulary.join('\n')));
}

/** The `text` section of a text bundle manifest. */
export async function textSpecFor(graphs: TextGraphs, tokenizer: WordTokenizer, tokenizerFile: string): Promise<TextSpec> {
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
