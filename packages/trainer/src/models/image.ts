/**
 * Image VAE graphs as tfjs-layers functional models, so the exporter can read them:
 * encoder `x[B, H*W*C] -> mu[B, Z], logvar[B, Z]`, decoder `z[B, Z] -> logits[B, H*W*C]`.
 */
import * as tf from '@tensorflow/tfjs';
import type { ImageTrainConfig } from '@vaekit/core';

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
