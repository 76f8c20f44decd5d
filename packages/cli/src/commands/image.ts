/** Image commands over a bundle: `vaekit sample`, `vaekit reconstruct`. */
import type { Command } from 'commander';
import { loadVae, type ImageVae, type BackendName } from '@vaekit/runtime';
import { defaultImageConfig, loadMnist } from '@vaekit/trainer';
import { intIn, numberIn, oneOf, positiveInt } from '../options.js';
import { printJson, writeOutput } from '../output.js';
import { imageGridPng } from '../png.js';

const NODE_BACKENDS = ['cpu'] as const;

/** Writes a grid PNG of images shaped like the bundle's. */
export async function writeGrid(vae: ImageVae, images: Float32Array[], file: string, columns?: number): Promise<void> {
  const [height, width, channels] = vae.imageShape;
  await writeOutput(file, imageGridPng(images, { height, width, channels, ...(columns ? { columns } : {}) }));
}

/** The digits held out from the bundle's training run (same seed and split as the trainer). */
export async function heldOutDigits(vae: ImageVae, n: number): Promise<Float32Array[]> {
  // Bundles record their run's split; the trainer's defaults apply to bundles that do not.
  const training = vae.manifest.training;
  const seed = typeof training?.seed === 'number' ? training.seed : defaultImageConfig().seed;
  const testFraction = typeof training?.testFraction === 'number' ? training.testFraction : defaultImageConfig().testFraction;
  const { test } = await loadMnist({ seed, testFraction });
  const count = Math.min(n, test.count);
  return Array.from({ length: count }, (_, i) => test.images.slice(i * test.pixels, (i + 1) * test.pixels));
}

/** Registers `vaekit sample`. */
export function registerSample(program: Command): void {
  program
    .command('sample')
    .description('draw digits from the prior and decode them with ONNX Runtime into a PNG grid')
    .argument('<bundle>', 'bundle folder made by vaekit export')
    .option('--n <count>', 'number of samples', positiveInt(10_000), 64)
    .option('--seed <s>', 'seed of the prior draw', intIn(0, 2 ** 31 - 1), 0)
    .option('--temperature <t>', 'scale of the prior standard deviation', numberIn(1e-6, 100), 1)
    .option('--out <file>', 'PNG file to write', 'samples.png')
    .option('--backend <name>', `ONNX Runtime backend: ${NODE_BACKENDS.join(' | ')}`, oneOf(NODE_BACKENDS), 'cpu')
    .option('--json', 'print the result (file, latent vectors) as JSON')
    .action(async (bundle: string, opts: { n: number; seed: number; temperature: number; out: string; backend: BackendName; json?: boolean }) => {
      const vae = await loadVae(bundle, { backend: opts.backend });
      try {
        const { z, images } = await vae.sample(opts.n, { seed: opts.seed, temperature: opts.temperature });
        await writeGrid(vae, images, opts.out);
        if (opts.json) printJson({ out: opts.out, n: opts.n, seed: opts.seed, backend: vae.backend, z: z.map((v) => Array.from(v)) });
        else process.stdout.write(`Wrote ${opts.n} samples to ${opts.out} (seed ${opts.seed}, backend ${vae.backend}).\n`);
      } finally {
        await vae.dispose();
      }
    });
}

/** Registers `vaekit reconstruct`. */
export function registerReconstruct(program: Command): void {
  program
    .command('reconstruct')
    .description('reconstruct held-out digits: rows of originals, each followed by a row of reconstructions')
    .argument('<bundle>', 'bundle folder made by vaekit export')
    .option('--n <count>', 'number of held-out digits', positiveInt(1000), 32)
    .option('--out <file>', 'PNG file to write', 'reconstructions.png')
    .option('--backend <name>', `ONNX Runtime backend: ${NODE_BACKENDS.join(' | ')}`, oneOf(NODE_BACKENDS), 'cpu')
    .option('--json', 'print the result as JSON (with the mean squared error)')
    .action(async (bundle: string, opts: { n: number; out: string; backend: BackendName; json?: boolean }) => {
      const vae = await loadVae(bundle, { backend: opts.backend });
      try {
        const { images, mse } = await reconstructionGrid(vae, opts.n);
        await writeGrid(vae, images, opts.out, 8);
        if (opts.json) printJson({ out: opts.out, n: opts.n, meanSquaredError: mse, backend: vae.backend });
        else process.stdout.write(`Wrote ${opts.n} held-out digits and their reconstructions to ${opts.out} (pixel MSE ${mse.toFixed(4)}).\n`);
      } finally {
        await vae.dispose();
      }
    });
}

/** Held-out digits interleaved with their reconstructions, 8 per row, and the pixel MSE. */
export async function reconstructionGrid(vae: ImageVae, n: number): Promise<{ images: Float32Array[]; mse: number }> {
  const originals = await heldOutDigits(vae, n);
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
