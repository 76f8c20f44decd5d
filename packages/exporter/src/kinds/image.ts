/**
 * The image kind's export plan: `encoder.onnx` (`x -> mu, logvar`) and `decoder.onnx` (`z -> logits`),
 * named by core's IMAGE_MODEL, with the manifest section `image`.
 */
import type * as tf from '@tensorflow/tfjs';
import { IMAGE_MODEL, type ImageSpec, type TrainingSummary } from '@vaekit/core';
import { ExportError } from '../errors.js';
import { imageHeldOutLoss } from '../held-out.js';
import type { ExportPlan } from '../plans.js';

/** What an image bundle is exported from: the trained graphs in memory and what the manifest says. */
export interface ImageBundleSource {
  kind: 'image';
  /** `x [B, H*W*C] -> mu [B, Z], logvar [B, Z]`. */
  encoder: tf.LayersModel;
  /** `z [B, Z] -> logits [B, H*W*C]` (Bernoulli logits). */
  decoder: tf.LayersModel;
  /** Shape of the images (row-major HWC, flattened on the encoder's input). */
  image: Pick<ImageSpec, 'height' | 'width' | 'channels'>;
  /** Latent size Z. Default: the decoder's input width. */
  latentSize?: number;
  /** Written into the manifest's `training` (data name, epochs, final metrics; never a local path). */
  training?: TrainingSummary;
  /**
   * Held-out images (pixels in [0, 1]) for the held-out loss of a dtype variant against fp32
   * (`manifest.variant.heldOutLossDelta`); the `heldOutLoss` option, when given, takes precedence.
   */
  heldOut?: Float32Array[];
}

/** The export plan of an image VAE. */
export function imagePlan(source: ImageBundleSource): ExportPlan {
  const { height, width, channels } = source.image;
  const pixels = height * width * channels;
  const inWidth = source.encoder.inputs[0]?.shape[1];
  if (source.encoder.inputs.length !== 1 || inWidth !== pixels) {
    throw new ExportError(`The image encoder should take one input x [B, ${pixels}] (${height}x${width}x${channels}), got ${source.encoder.inputs.length} input(s) of width ${String(inWidth)}.`);
  }
  const latentSize = source.latentSize ?? source.decoder.inputs[0]?.shape[1] ?? 0;
  if (!Number.isInteger(latentSize) || latentSize <= 0) throw new ExportError(`The image decoder should take z [B, Z]; cannot read Z from its input.`);
  const G = IMAGE_MODEL.graphs;
  const arch = typeof source.training?.arch === 'string' ? `${source.training.arch} ` : '';
  return {
    kind: 'image',
    latentSize,
    description: `vaekit ${arch}image VAE`,
    graphs: [
      { key: 'encoder', file: G.encoder.file, model: source.encoder, convert: { inputNames: [G.encoder.inputs.x], outputNames: [G.encoder.outputs.mu, G.encoder.outputs.logvar] } },
      { key: 'decoder', file: G.decoder.file, model: source.decoder, convert: { inputNames: [G.decoder.inputs.z], outputNames: [G.decoder.outputs.logits] } },
    ],
    section: { image: { height, width, channels, likelihood: 'bernoulli' } satisfies ImageSpec },
    ...(source.training ? { training: source.training } : {}),
    ...(source.heldOut && source.heldOut.length > 0 ? { heldOutLoss: imageHeldOutLoss(source.heldOut) } : {}),
  };
}
