import { BundleError } from '../errors.js';
import { isPositiveInt, isRecord } from '../manifest-checks.js';

/**
 * The contract of the image kind: the ONNX graphs of an image bundle with their tensor names
 * (`encoder.onnx`: `x -> mu, logvar`; `decoder.onnx`: `z -> logits`).
 */
export const IMAGE_MODEL = {
  graphs: {
    encoder: { file: 'encoder.onnx', inputs: { x: 'x' }, outputs: { mu: 'mu', logvar: 'logvar' } },
    decoder: { file: 'decoder.onnx', inputs: { z: 'z' }, outputs: { logits: 'logits' } },
  },
} as const;

/** The image kind's part of the bundle format: its graphs and its manifest section `image`. */
export const IMAGE_BUNDLE_KIND = {
  kind: 'image',
  graphNames: ['encoder', 'decoder'],
  checkSection(manifest: Record<string, unknown>): Array<{ field: string; file: string }> {
    const image = manifest.image;
    if (!isRecord(image) || ![image.height, image.width, image.channels].every(isPositiveInt)) {
      throw new BundleError('manifest.json: image must give positive integer height, width and channels.');
    }
    return [];
  },
} as const;
