/**
 * Image VAE graphs as tfjs-layers functional models, so the exporter can read them:
 * encoder `x[B, H*W*C] -> mu[B, Z], logvar[B, Z]`, decoder `z[B, Z] -> logits[B, H*W*C]`.
 */
import * as tf from '@tensorflow/tfjs';
import type { ImageTrainConfig } from '@vaekit/core';
import type { DenseVaeParams } from '../kernels/dense-vae.js';

/** The two halves of a VAE. */
export interface VaeModels {
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
}

function seededInit(seed: number) {
  let n = 0;
  return () => tf.initializers.glorotUniform({ seed: seed * 1000 + n++ });
}

/** Builds the encoder and decoder for `config.arch`, with weights initialised from `config.seed`. */
export function buildImageVae(config: ImageTrainConfig): VaeModels {
  const { height, width, channels } = config.image;
  const pixels = height * width * channels;
  const init = seededInit(config.seed);
  const dense = (units: number, activation: 'relu' | 'linear', name?: string) =>
    tf.layers.dense({ units, activation, kernelInitializer: init(), ...(name ? { name } : {}) });

  const x = tf.input({ shape: [pixels], name: 'x' });
  let h: tf.SymbolicTensor = x;
  if (config.arch === 'conv') {
    h = tf.layers.reshape({ targetShape: [height, width, channels] }).apply(h) as tf.SymbolicTensor;
    for (const filters of [32, 64]) {
      h = tf.layers
        .conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() })
        .apply(h) as tf.SymbolicTensor;
    }
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  }
  for (const units of config.hidden) h = dense(units, 'relu').apply(h) as tf.SymbolicTensor;
  const mu = dense(config.latent, 'linear', 'mu').apply(h) as tf.SymbolicTensor;
  const logvar = dense(config.latent, 'linear', 'logvar').apply(h) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: x, outputs: [mu, logvar], name: 'encoder' });

  const z = tf.input({ shape: [config.latent], name: 'z' });
  let g: tf.SymbolicTensor = z;
  for (const units of [...config.hidden].reverse()) g = dense(units, 'relu').apply(g) as tf.SymbolicTensor;
  let logits: tf.SymbolicTensor;
  if (config.arch === 'conv') {
    const h4 = Math.ceil(height / 4);
    const w4 = Math.ceil(width / 4);
    g = dense(h4 * w4 * 64, 'relu').apply(g) as tf.SymbolicTensor;
    g = tf.layers.reshape({ targetShape: [h4, w4, 64] }).apply(g) as tf.SymbolicTensor;
    g = tf.layers
      .conv2dTranspose({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() })
      .apply(g) as tf.SymbolicTensor;
    g = tf.layers
      .conv2dTranspose({ filters: channels, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init() })
      .apply(g) as tf.SymbolicTensor;
    logits = tf.layers.flatten({ name: 'logits' }).apply(g) as tf.SymbolicTensor;
  } else {
    logits = dense(pixels, 'linear', 'logits').apply(g) as tf.SymbolicTensor;
  }
  const decoder = tf.model({ inputs: z, outputs: logits, name: 'decoder' });
  return { encoder, decoder };
}

const denseParamsCache = new WeakMap<tf.LayersModel, { decoder: tf.LayersModel; params: DenseVaeParams | undefined }>();

/**
 * The weights of a dense VAE as built by {@link buildImageVae} (`arch: 'dense'`, also after a checkpoint
 * reload), in the order of the fused training op (`kernels/dense-vae.ts`), or undefined for any other
 * model: conv layers, other activations, no bias, shapes that do not chain, non-float32 weights.
 */
export function denseVaeParams(encoder: tf.LayersModel, decoder: tf.LayersModel): DenseVaeParams | undefined {
  const hit = denseParamsCache.get(encoder);
  if (hit && hit.decoder === decoder) return hit.params;
  const params = findDenseParams(encoder, decoder);
  denseParamsCache.set(encoder, { decoder, params });
  return params;
}

function findDenseParams(encoder: tf.LayersModel, decoder: tf.LayersModel): DenseVaeParams | undefined {
  const outNames = (m: tf.LayersModel) => m.outputLayers.map((l) => l.name).join();
  if (outNames(encoder) !== 'mu,logvar' || outNames(decoder) !== 'logits') return undefined;
  if (encoder.inputs.length !== 1 || decoder.inputs.length !== 1) return undefined;
  const dense = (m: tf.LayersModel) => m.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const enc = dense(encoder);
  const dec = dense(decoder);
  const encHidden = enc.filter((l) => l.name !== 'mu' && l.name !== 'logvar');
  const ordered = [...encHidden, ...['mu', 'logvar'].map((n) => enc.find((l) => l.name === n)!), ...dec];
  const params: tf.Tensor[] = [];
  for (const [i, layer] of ordered.entries()) {
    if (layer.getClassName() !== 'Dense') return undefined;
    const config = layer.getConfig();
    const hidden = i < encHidden.length || (i >= encHidden.length + 2 && i < ordered.length - 1);
    if (config.activation !== (hidden ? 'relu' : 'linear') || config.useBias !== true) return undefined;
    const weights = layer.trainableWeights.map((w) => w.read());
    if (weights.length !== 2 || weights.some((w) => w.dtype !== 'float32')) return undefined;
    params.push(...weights);
  }
  // Each layer's input width is the previous layer's output width (mu and logvar both read the last
  // hidden layer; the decoder starts from the latent and ends at the image size).
  const pixels = encoder.inputs[0]!.shape[1];
  const latent = decoder.inputs[0]!.shape[1];
  const kernel = (i: number) => params[2 * i]!.shape as [number, number];
  const h = encHidden.length;
  // [input width, expected] pairs along the chain.
  const pairs: Array<[number, number | null | undefined]> = [];
  let width: number | null | undefined = pixels;
  for (let i = 0; i < ordered.length; i++) {
    if (i === h + 1) continue; // logvar: checked with mu
    pairs.push([kernel(i)[0], width]);
    width = kernel(i)[1];
    if (i === h) {
      pairs.push([kernel(h + 1)[0], kernel(h)[0]], [kernel(h)[1], latent], [kernel(h + 1)[1], latent]);
      width = latent;
    }
  }
  pairs.push([width as number, pixels]);
  const biasesFit = params.every((p, i) => i % 2 === 0 || (p.rank === 1 && p.shape[0] === kernel((i - 1) / 2)[1]));
  if (!biasesFit || pairs.some(([a, b]) => a !== b)) return undefined;
  return { params, encoderHidden: h };
}
