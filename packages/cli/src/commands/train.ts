/** `vaekit train image`: trains an image VAE on the built-in MNIST digits or a folder of images. */
import type { Command } from 'commander';
import path from 'node:path';
import { REPORT_FILE } from '../report/file.js';
import type { ImageTrainCliOptions } from '../shared/image-training.js';
import type { ImageAdversarialOptions } from '../shared/adversarial.js';
import { intIn, intList, numberIn, oneOf, positiveInt } from '../shared/options.js';
import { addRunFolderOptions, assertResumeWithoutForce } from '../shared/run-folder.js';
import { addTfBackendOption, isVerbose } from '../shared/tf-backend.js';
// Core is plain TypeScript (formats and contracts): it loads no engine at start-up.
import { ADVERSARIAL_MODES, IMAGE_ARCHS } from '@vaekit/core';

/** Registers `vaekit train` with its `image` subcommand; returns the `train` command for more kinds. */
export function registerTrain(program: Command): Command {
  const train = program.command('train').description('train a VAE (see: vaekit train image --help, vaekit train text --help, vaekit train translate --help)');
  addRunFolderOptions(addTfBackendOption(
    train
      .command('image')
      .description('train an image VAE on the built-in MNIST digits (10,000 real digits, seeded 9,000/1,000 split) or on a folder of your own PNG/JPEG images')
      .option('--data <source>', 'mnist (built-in digits), or a folder of .png/.jpg images, optionally one subfolder per class', 'mnist')
      .option('--size <px>', '--data DIR: side of the square the images are resized to', positiveInt(1024), 28)
      .option('--channels <n>', '--data DIR: 1 (grey) or 3 (RGB)', oneOf(['1', '3'] as const), '1')
      .option('--arch <arch>', `architecture: ${IMAGE_ARCHS.join(' | ')} (conv needs a --size divisible by 4)`, oneOf(IMAGE_ARCHS), 'dense')
      .option('--epochs <n>', 'passes over the training images', positiveInt(100_000), 10)
      .option('--latent <z>', 'latent size', positiveInt(4096), 20)
      .option('--hidden <sizes>', 'hidden layer sizes, comma-separated (default: 400 dense, 256 conv)', intList)
      .option('--beta <b>', 'weight of the KL term', numberIn(0, 1000), 1)
      .option('--batch-size <n>', 'examples per step', positiveInt(65_536), 128)
      .option('--lr <rate>', 'Adam learning rate', numberIn(1e-9, 10), 1e-3)
      .option('--limit <n>', 'train on at most n images (quick runs)', positiveInt(1_000_000))
      .option('--seed <s>', 'seed for the split, initialisation and sampling', intIn(0, 2 ** 31 - 1), 42),
  )
    .option('--adversarial <mode>', `adversarial training: ${ADVERSARIAL_MODES.image.join(' | ')} (VAE-GAN, Larsen et al. 2016; docs/adversarial.md)`, oneOf(ADVERSARIAL_MODES.image))
    .option('--adversarial-weight <w>', '--adversarial vaegan: weight of the decoder\'s fool-the-discriminator term', numberIn(0, 1e6))
    .option('--feature-weight <w>', '--adversarial vaegan: weight of the reconstruction in the discriminator\'s features', numberIn(0, 1e6))
    .option('--pixel-weight <w>', '--adversarial vaegan: weight of the pixel reconstruction term', numberIn(0, 1e6))
    .option('--disc-lr <rate>', '--adversarial vaegan: Adam learning rate of the discriminator', numberIn(1e-9, 10))
    .option('--label-smoothing <s>', '--adversarial vaegan: the discriminator\'s target for real images is 1 - s', numberIn(0, 0.49))
    .option('--disc-balance <loss>', '--adversarial vaegan: update the discriminator only while its loss is at least this (0 = always)', numberIn(0, 100))
    .option('--gradient-penalty <gamma>', '--adversarial vaegan: R1 penalty gamma/2 * |grad D(x)|^2 on real images in the discriminator\'s loss (0 = off)', numberIn(0, 1e6))
    .option('--prior-weight <w>', '--adversarial vaegan: weight of the fool-the-discriminator term on prior samples alone (default: --adversarial-weight)', numberIn(0, 1e6))
    .option('--no-encoder-fool', '--adversarial vaegan: keep the fool-the-discriminator gradient out of the encoder (Larsen et al.\'s split; one more decoder pass per step)')
    .option('--report', 'rewrite RUN/report.html (curves, samples, latent map) after every epoch'), 'runs/image')
    .action(async (opts: Omit<ImageTrainCliOptions, 'channels' | 'adversarial'> & ImageAdversarialOptions & { channels: '1' | '3'; out: string; json?: boolean }, cmd: Command) => {
      assertResumeWithoutForce(opts);
      const { adversarialFromOptions } = await import('../shared/adversarial.js');
      const adversarial = adversarialFromOptions(opts, cmd);
      const epochsGiven = cmd.getOptionValueSource('epochs') === 'cli';
      const { runImageTraining } = await import('../shared/image-training.js');
      const { result, backend } = await runImageTraining(opts.out, { ...opts, channels: Number(opts.channels), adversarial, epochsGiven, quiet: false, verbose: isVerbose(cmd) });
      const last = result.epochs[result.epochs.length - 1];
      if (opts.json) {
        process.stdout.write(JSON.stringify({ runDir: opts.out, ...(opts.report ? { report: path.join(opts.out, REPORT_FILE) } : {}), backend, seconds: result.seconds, epochs: result.epochs }, null, 2) + '\n');
      } else {
        process.stdout.write(
          `Trained in ${result.seconds.toFixed(1)}s. Held-out -ELBO ${last ? last.test.elbo.toFixed(2) : '?'} nats per image. Run folder: ${opts.out}\n` +
            (opts.report ? `Report: ${path.join(opts.out, REPORT_FILE)}\n` : '') +
            `Next: vaekit export ${opts.out} bundle\n`,
        );
      }
    });
  return train;
}
