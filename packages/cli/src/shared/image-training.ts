/**
 * Image training with progress on stderr, shared by `vaekit train image` and `vaekit demo`. Loads the
 * trainer: import this module inside an action.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  DataError,
  defaultImageConfig,
  resumeImageVae,
  trainImageVae,
  validateImageConfig,
  type ImageTrainConfig,
  type TrainHooks,
  type TrainResult,
} from '@vaekit/trainer';
import { UsageError } from '../errors.js';
import type { TfBackend } from './choices.js';
import { createProgress, type Progress } from './progress.js';
import { claimRunFolder } from './run-folder.js';
import { startTfBackend } from './tf-backend.js';
import { liveReport } from '../report/live.js';

/** Options shared by `train image` and `demo`. */
export interface ImageTrainCliOptions {
  arch: ImageTrainConfig['arch'];
  /** `mnist` (default) or a folder of PNG/JPEG images. */
  data?: string;
  /** Side of the square images (default 28). */
  size?: number;
  /** 1 grey or 3 RGB (default 1). */
  channels?: number;
  epochs: number;
  latent: number;
  hidden?: number[];
  beta: number;
  batchSize: number;
  lr: number;
  limit?: number;
  seed: number;
  backend: TfBackend;
  force?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  /** Skip batches whose loss or gradients are NaN or infinite instead of stopping. */
  skipNonfinite?: boolean;
  /** Continue the run in `out` from its newest checkpoint; `epochs` applies only when `epochsGiven`. */
  resume?: boolean;
  epochsGiven?: boolean;
  /** Rewrite RUN/report.html after every epoch (`--report`). */
  report?: boolean;
  /** VAE-GAN training (`--adversarial vaegan` and its options). */
  adversarial?: ImageTrainConfig['adversarial'];
}

const fmt = (v: number) => v.toFixed(2);

/** Fails fast, before the backend starts, on a `--data` that is not a folder. */
async function assertImageFolder(dir: string, given: string): Promise<void> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat) throw new DataError(`--data ${given}: folder not found. Expected mnist or a folder of .png/.jpg images (or one subfolder of images per class).`);
  if (!stat.isDirectory()) throw new DataError(`--data ${given} is not a folder. Expected mnist or a folder of .png/.jpg images (or one subfolder of images per class).`);
}

/** Trains with progress on stderr; removes the run folder if training fails before the first checkpoint. */
export async function runImageTraining(out: string, options: ImageTrainCliOptions): Promise<{ config: ImageTrainConfig; result: TrainResult; backend: string }> {
  const dataset = options.data === undefined || options.data === 'mnist' ? 'mnist' : path.resolve(options.data);
  const size = options.size ?? 28;
  const channels = options.channels ?? 1;
  if (dataset === 'mnist' && (size !== 28 || channels !== 1)) {
    throw new UsageError(`--size and --channels apply to --data DIR; the built-in MNIST digits are 28x28 grey (got --size ${size} --channels ${channels}).`);
  }
  if (dataset !== 'mnist') await assertImageFolder(dataset, options.data!);
  const config = defaultImageConfig({
    dataset,
    image: { height: size, width: size, channels },
    arch: options.arch,
    epochs: options.epochs,
    latent: options.latent,
    beta: options.beta,
    batchSize: options.batchSize,
    learningRate: options.lr,
    seed: options.seed,
    trainLimit: options.limit ?? 0,
    ...(options.hidden ? { hidden: options.hidden } : {}),
    ...(options.adversarial ? { adversarial: options.adversarial } : {}),
  });
  if (!options.resume) validateImageConfig(config);
  if (!options.resume) await claimRunFolder(out, options.force);
  const backend = await startTfBackend(options.backend, options.verbose === true);
  const log = (line: string) => {
    if (!options.quiet) process.stderr.write(line + '\n');
  };
  let bar: Progress | undefined;
  let completed = 0;
  // The run's own epoch count: on --resume it comes from the saved configuration, not from these options.
  let totalEpochs = config.epochs;
  const live = options.report ? liveReport(out, (line) => process.stderr.write(line + '\n')) : undefined;
  const hooks: TrainHooks = {
    onStart: (i) => {
      // The backend line waits until the data has been read: bad input is reported alone.
      log(backend.line);
      totalEpochs = i.epochs;
      const what = dataset === 'mnist' ? 'MNIST digits' : `images of ${path.basename(dataset)} (${size}x${size}x${channels})`;
      log(
        options.resume
          ? `resuming ${out}: ${i.trainCount} training and ${i.testCount} held-out ${what}, up to epoch ${i.epochs}`
          : `data: ${i.trainCount} training and ${i.testCount} held-out ${what}; ${config.arch} ${config.adversarial ? 'VAE-GAN' : 'VAE'}, latent ${config.latent}, ${config.epochs} epochs`,
      );
    },
    onBatch: (b) => {
      if (b.batch === 1) bar = createProgress(`epoch ${b.epoch}/${totalEpochs}`, b.batches, { quiet: options.quiet });
      bar?.update(b.batch, { loss: b.loss.toFixed(1) });
      if (b.batch === b.batches) bar?.stop();
    },
    onSkip: (s) => log(`epoch ${s.epoch}, batch ${s.batch}: skipped (loss ${s.loss}, or a gradient, is not finite)`),
    onEpoch: (m) => {
      completed = m.epoch;
      log(
        `epoch ${m.epoch}: train -ELBO ${fmt(m.train.elbo)} (rec ${fmt(m.train.reconstruction)}, KL ${fmt(m.train.kl)}) | ` +
          `held-out -ELBO ${fmt(m.test.elbo)} (rec ${fmt(m.test.reconstruction)}, KL ${fmt(m.test.kl)}) | ` +
          (m.train.adversarial ? `D loss ${fmt(m.train.adversarial.disc)} (updated ${Math.round(m.train.adversarial.discUpdates * 100)}%), fool ${fmt(m.train.adversarial.fool)}, feature ${fmt(m.train.adversarial.feature)} | ` : '') +
          `${m.seconds.toFixed(1)}s`,
      );
      live?.epochDone(m.epoch);
    },
  };
  try {
    const trainOptions = { nonFinite: options.skipNonfinite ? ('skip' as const) : ('stop' as const) };
    const result = options.resume
      ? await resumeImageVae(out, hooks, { ...(options.epochsGiven ? { epochs: options.epochs } : {}), ...trainOptions })
      : await trainImageVae(config, out, hooks, trainOptions);
    await live?.flush();
    return { config, result, backend: backend.name };
  } catch (err) {
    bar?.stop();
    await live?.flush();
    // A fresh run that failed before its first checkpoint leaves nothing behind; a resumable one stays.
    if (completed === 0 && !options.resume) await fs.rm(out, { recursive: true, force: true });
    throw err;
  }
}

