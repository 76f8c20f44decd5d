/** Image commands over a bundle: `vaekit sample`, `vaekit reconstruct`. */
import type { Command } from 'commander';
import { loadVae, type ImageVae, type BackendName, type DecodingOptions } from '@vaekit/runtime';
import { UsageError } from '../errors.js';
import { printGenerations } from './generate.js';
import { defaultImageConfig, loadMnist } from '@vaekit/trainer';
import { intIn, numberIn, oneOf, positiveInt } from '../options.js';
import { printJson, writeOutput } from '../output.js';
import { imageGridPng } from '../png.js';

/** Backends of the Node runtime, offered by every command that runs a bundle. */
export const NODE_BACKENDS = ['cpu', 'wasm'] as const;

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
      if (vae.kind === 'text') {
        await vae.dispose();
        throw new UsageError(`${bundle} is a text bundle; vaekit sample draws images. Use: vaekit generate ${bundle}`);
      }
      try {
        const { z, images } = await vae.sample(opts.n, { seed: opts.seed, latentTemperature: opts.temperature });
        await writeGrid(vae, images, opts.out);
        if (opts.json) printJson({ out: opts.out, n: opts.n, seed: opts.seed, backend: vae.backend, z: z.map((v) => Array.from(v)) });
        else process.stdout.write(`Wrote ${opts.n} samples to ${opts.out} (seed ${opts.seed}, backend ${vae.backend}).\n`);
      } finally {
        await vae.dispose();
      }
    });
}

/** Registers `vaekit reconstruct` (images: held-out digits; text: the sentence given). */
export function registerReconstruct(program: Command): void {
  program
    .command('reconstruct')
    .description('image bundle: reconstruct held-out digits into a PNG (rows of originals, each followed by reconstructions); text bundle: encode a sentence and decode its posterior mean')
    .argument('<bundle>', 'bundle folder made by vaekit export')
    .argument('[sentence]', 'text bundles: the sentence to reconstruct')
    .option('--n <count>', 'image bundles: number of held-out digits', positiveInt(1000), 32)
    .option('--out <file>', 'image bundles: PNG file to write', 'reconstructions.png')
    .option('--strategy <name>', 'text bundles: greedy | sample | beam', oneOf(['greedy', 'sample', 'beam'] as const), 'greedy')
    .option('--beam <width>', 'text bundles: beam width', positiveInt(256), 4)
    .option('--max-tokens <n>', 'text bundles: most tokens generated', positiveInt(10_000), 40)
    .option('--seed <s>', 'text bundles: seed of sampling', intIn(0, 2 ** 31 - 1), 0)
    .option('--backend <name>', `ONNX Runtime backend: ${NODE_BACKENDS.join(' | ')}`, oneOf(NODE_BACKENDS), 'cpu')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        bundle: string,
        sentence: string | undefined,
        opts: { n: number; out: string; backend: BackendName; json?: boolean; strategy: DecodingOptions['strategy']; beam: number; maxTokens: number; seed: number },
      ) => {
        const vae = await loadVae(bundle, { backend: opts.backend });
        try {
          if (vae.kind === 'text') {
            if (sentence === undefined) throw new UsageError(`${bundle} is a text bundle: give the sentence to reconstruct, e.g. vaekit reconstruct ${bundle} "a sentence"`);
            const decoding = { strategy: opts.strategy, beamWidth: opts.beam, maxTokens: opts.maxTokens, seed: opts.seed };
            const [g] = await vae.reconstruct(sentence, decoding);
            printGenerations([g!], Boolean(opts.json), { input: sentence, backend: vae.backend });
            return;
          }
          if (sentence !== undefined) throw new UsageError(`${bundle} is an image bundle: it reconstructs held-out digits, not a sentence (got ${JSON.stringify(sentence)}).`);
          const { images, mse } = await reconstructionGrid(vae, opts.n);
          await writeGrid(vae, images, opts.out, 8);
          if (opts.json) printJson({ out: opts.out, n: opts.n, meanSquaredError: mse, backend: vae.backend });
          else process.stdout.write(`Wrote ${opts.n} held-out digits and their reconstructions to ${opts.out} (pixel MSE ${mse.toFixed(4)}).\n`);
        } finally {
          await vae.dispose();
        }
      },
    );
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
