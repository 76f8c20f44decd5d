/** `vaekit reconstruct` on an image bundle: held-out images and their reconstructions as one PNG. */
import type { ImageVae } from '@vaekit/runtime';
import { heldOutImages, reconstructionGrid, writeGrid } from './image-data.js';
import { printJson } from './output.js';

/** Options of the image reconstruction. */
export interface ImageReconstructOptions {
  n: number;
  out: string;
  /** The image folder the bundle was trained on (bundles record only its name). */
  data?: string;
  json?: boolean;
}

/** Reconstructs `n` held-out images into `out` and prints what it wrote. */
export async function reconstructImages(vae: ImageVae, opts: ImageReconstructOptions): Promise<void> {
  const originals = await heldOutImages(vae, opts.n, opts.data);
  const { images, mse } = await reconstructionGrid(vae, originals);
  await writeGrid(vae, images, opts.out, 8);
  if (opts.json) printJson({ out: opts.out, n: originals.length, meanSquaredError: mse, device: vae.backend });
  else process.stdout.write(`Wrote ${originals.length} held-out images and their reconstructions to ${opts.out} (pixel MSE ${mse.toFixed(4)}).\n`);
}
