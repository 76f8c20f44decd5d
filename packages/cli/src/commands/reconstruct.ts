/**
 * `vaekit reconstruct`: a thin dispatcher. It loads the bundle and hands it to the image or the text
 * reconstruction (shared/reconstruct-image.ts, shared/reconstruct-text.ts); the options of each kind are
 * declared here so that `--help` lists them all.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { STRATEGIES } from '../shared/choices.js';
import { addDeviceOption, deviceOf, type DeviceOptions } from '../shared/device.js';
import { intIn, numberIn, oneOf, positiveInt } from '../shared/options.js';
import { warn } from '../shared/text-output.js';
import type { ImageReconstructOptions } from '../shared/reconstruct-image.js';
import type { TextReconstructOptions } from '../shared/reconstruct-text.js';

/** Options of one kind of bundle, by commander key. */
const IMAGE_ONLY = [
  { flag: '--n', key: 'n' },
  { flag: '--out', key: 'out' },
  { flag: '--data', key: 'data' },
];
const TEXT_ONLY = [
  { flag: '--strategy', key: 'strategy' },
  { flag: '--temperature', key: 'temperature' },
  { flag: '--top-k', key: 'topK' },
  { flag: '--top-p', key: 'topP' },
  { flag: '--beam', key: 'beam' },
  { flag: '--max-tokens', key: 'maxTokens' },
  { flag: '--seed', key: 'seed' },
];

/** Registers `vaekit reconstruct` (images: held-out images; text: the sentence given). */
export function registerReconstruct(program: Command): void {
  addDeviceOption(
    program
      .command('reconstruct')
      .description('image bundle: reconstruct held-out images into a PNG (rows of originals, each followed by reconstructions); text bundle: encode a sentence and decode its posterior mean')
      .argument('<bundle>', 'bundle folder made by vaekit export')
      .argument('[sentence]', 'text bundles: the sentence to reconstruct')
      .option('--n <count>', 'image bundles: number of held-out images', positiveInt(1000), 32)
      .option('--out <file>', 'image bundles: PNG file to write', 'reconstructions.png')
      .option('--data <dir>', 'image bundles trained on a folder: that folder (bundles record only its name)')
      .option('--strategy <name>', `text bundles: ${STRATEGIES.join(' | ')}`, oneOf(STRATEGIES), 'greedy')
      .option('--temperature <t>', 'text bundles: sampling temperature (strategy sample)', numberIn(1e-3, 100), 1)
      .option('--top-k <k>', 'text bundles: sample among the k most likely tokens (0 = off; strategy sample)', intIn(0, 1_000_000), 0)
      .option('--top-p <p>', 'text bundles: nucleus sampling threshold (1 = off; strategy sample)', numberIn(1e-6, 1), 1)
      .option('--beam <width>', 'text bundles: beam width (strategy beam)', positiveInt(256), 4)
      .option('--max-tokens <n>', 'text bundles: most tokens generated', positiveInt(10_000), 40)
      .option('--seed <s>', 'text bundles: seed of sampling', intIn(0, 2 ** 31 - 1), 0),
  )
    .option('--json', 'print the result as JSON')
    .action(async (bundle: string, sentence: string | undefined, opts: DeviceOptions & ImageReconstructOptions & TextReconstructOptions, cmd: Command) => {
      const device = deviceOf(opts, cmd);
      const { loadVae } = await import('@vaekit/runtime');
      const vae = await loadVae(bundle, { backend: device });
      try {
        // Options of the other kind do nothing: say so rather than ignore them silently.
        const otherKind = (vae.kind === 'text' ? IMAGE_ONLY : TEXT_ONLY).filter((o) => cmd.getOptionValueSource(o.key) === 'cli');
        if (otherKind.length > 0) {
          warn(`${otherKind.map((o) => o.flag).join(', ')} ${otherKind.length > 1 ? 'apply' : 'applies'} to ${vae.kind === 'text' ? 'image' : 'text'} bundles only; ignored for this ${vae.kind} bundle.`);
        }
        if (vae.kind === 'text') {
          if (sentence === undefined) throw new UsageError(`${bundle} is a text bundle: give the sentence to reconstruct, e.g. vaekit reconstruct ${bundle} "a sentence"`);
          const { reconstructText } = await import('../shared/reconstruct-text.js');
          await reconstructText(vae, sentence, opts, (key) => cmd.getOptionValueSource(key) === 'cli');
        } else {
          if (sentence !== undefined) throw new UsageError(`${bundle} is an image bundle: it reconstructs held-out images, not a sentence (got ${JSON.stringify(sentence)}).`);
          const { reconstructImages } = await import('../shared/reconstruct-image.js');
          await reconstructImages(vae, opts);
        }
      } finally {
        await vae.dispose();
      }
    });
}
