/**
 * Images of a bundle's held-out split (for `reconstruct` and `demo`) and
 * PNG grids. Loads the trainer's data loaders: import this module inside an action.
 */
import { defaultImageConfig, loadImageFolder, loadMnist, type ImageSet } from '@vaekit/trainer';
import type { ImageVae } from '@vaekit/runtime';
import { UsageError } from '../errors.js';
import { writeOutput } from './output.js';
import { imageGridPng } from './png.js';

/** The first `n` images of a set, one array each. */
export function firstImages(set: ImageSet, n: number): Float32Array[] {
  const count = Math.min(n, set.count);
  return Array.from({ length: count }, (_, i) => set.images.slice(i * set.pixels, (i + 1) * set.pixels));
}

/**
 * Images held out from the bundle's training run (same seed and split as the trainer): the MNIST digits,
 * or, for a bundle trained on an image folder, that folder given again as `dataDir` (bundles record only
 * its name).
 */
export async function heldOutImages(vae: ImageVae, n: number, dataDir?: string): Promise<Float32Array[]> {
  // Bundles record their run's split; the trainer's defaults apply to bundles that do not.
  const training = vae.manifest.training;
  const defaults = defaultImageConfig();
  const seed = typeof training?.seed === 'number' ? training.seed : defaults.seed;
  const testFraction = typeof training?.testFraction === 'number' ? training.testFraction : defaults.testFraction;
  const dataset = training?.dataset ?? 'mnist';
  if (dataDir === undefined) {
    if (dataset !== 'mnist') {
      throw new UsageError(`This bundle was trained on the image folder "${dataset}": give that folder with --data DIR to reconstruct its held-out images.`);
    }
    return firstImages((await loadMnist({ seed, testFraction })).test, n);
  }
  const [height, width, channels] = vae.imageShape;
  return firstImages((await loadImageFolder(dataDir, { height, width, channels, seed, testFraction })).test, n);
}

/** Writes a grid PNG of images shaped like the bundle's. */
export async function writeGrid(vae: ImageVae, images: Float32Array[], file: string, columns?: number): Promise<void> {
  const [height, width, channels] = vae.imageShape;
  await writeOutput(file, imageGridPng(images, { height, width, channels, ...(columns ? { columns } : {}) }));
}

/** Held-out images interleaved with their reconstructions, 8 per row, and the pixel MSE. */
export async function reconstructionGrid(vae: ImageVae, originals: Float32Array[]): Promise<{ images: Float32Array[]; mse: number }> {
  const recon = await vae.reconstruct(originals);
  let se = 0;
  originals.forEach((o, i) => o.forEach((v, j) => (se += (v - recon[i]![j]!) ** 2)));
  const images: Float32Array[] = [];
  for (let start = 0; start < originals.length; start += 8) {
    const end = Math.min(start + 8, originals.length);
    images.push(...originals.slice(start, end), ...Array.from({ length: 8 - (end - start) }, () => new Float32Array(originals[0]!.length)));
    images.push(...recon.slice(start, end));
  }
  return { images, mse: se / (originals.length * originals[0]!.length) };
}
