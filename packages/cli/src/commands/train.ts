/** `vaekit train image`: trains an image VAE on the built-in MNIST digits. */
import type { Command } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BACKEND_CHOICES,
  IMAGE_ARCHS,
  defaultImageConfig,
  initBackend,
  resumeImageVae,
  trainImageVae,
  type BackendChoice,
  type ImageTrainConfig,
  type TrainHooks,
  type TrainResult,
} from '@vaekit/trainer';
import { UsageError } from '../errors.js';
import { assertFolderTarget } from '../output.js';
import { intIn, intList, numberIn, oneOf, positiveInt } from '../options.js';
import { createProgress, type Progress } from '../progress.js';
import { liveReport } from '../report/live.js';
import { REPORT_FILE } from '../report/file.js';

/** Options shared by `train image` and `demo`. */
export interface ImageTrainCliOptions {
  arch: ImageTrainConfig['arch'];
  epochs: number;
  latent: number;
  hidden?: number[];
  beta: number;
  batchSize: number;
  lr: number;
  limit?: number;
  seed: number;
  backend: BackendChoice;
  force?: boolean;
  quiet?: boolean;
  /** Skip batches whose loss or gradients are NaN or infinite instead of stopping. */
  skipNonfinite?: boolean;
  /** Continue the run in `out` from its newest checkpoint; `epochs` applies only when `epochsGiven`. */
  resume?: boolean;
  epochsGiven?: boolean;
  /** Rewrite RUN/report.html after every epoch (`--report`). */
  report?: boolean;
}

const fmt = (v: number) => v.toFixed(2);

/** Prepares `out` for a new run: refuses a path through a file, and a non-empty folder unless `force` (then empties it). */
export async function claimRunFolder(out: string, force: boolean | undefined): Promise<void> {
  await assertFolderTarget(out, '--out');
  let entries: string[] = [];
  try {
    const stat = await fs.stat(out);
    if (!stat.isDirectory()) throw new UsageError(`--out ${out} exists and is not a folder.`);
    entries = await fs.readdir(out);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    return;
  }
  if (entries.length > 0) {
    if (!force) throw new UsageError(`Run folder ${out} already exists and is not empty. Choose another --out or pass --force to replace it.`);
    await fs.rm(out, { recursive: true, force: true });
  }
}

/** Trains with progress on stderr; removes the run folder if training fails before the first checkpoint. */
export async function runImageTraining(out: string, options: ImageTrainCliOptions): Promise<{ config: ImageTrainConfig; result: TrainResult; backend: string }> {
  const config = defaultImageConfig({
    arch: options.arch,
    epochs: options.epochs,
    latent: options.latent,
    beta: options.beta,
    batchSize: options.batchSize,
    learningRate: options.lr,
    seed: options.seed,
    trainLimit: options.limit ?? 0,
    ...(options.hidden ? { hidden: options.hidden } : {}),
  });
  if (!options.resume) await claimRunFolder(out, options.force);
  const backend = await initBackend(options.backend);
  const log = (line: string) => {
    if (!options.quiet) process.stderr.write(line + '\n');
  };
  log(`backend: ${backend.name} (${backend.note})`);
  let bar: Progress | undefined;
  let completed = 0;
  const live = options.report ? liveReport(out, (line) => process.stderr.write(line + '\n')) : undefined;
  // The run's own epoch count: on --resume it comes from the saved configuration, not from these options.
  let totalEpochs = config.epochs;
  const hooks: TrainHooks = {
    onStart: (i) => {
      totalEpochs = i.epochs;
      log(
        options.resume
          ? `resuming ${out}: ${i.trainCount} training and ${i.testCount} held-out MNIST digits, up to epoch ${i.epochs}`
          : `data: ${i.trainCount} training and ${i.testCount} held-out MNIST digits; ${config.arch} VAE, latent ${config.latent}, ${config.epochs} epochs`,
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
          `held-out -ELBO ${fmt(m.test.elbo)} (rec ${fmt(m.test.reconstruction)}, KL ${fmt(m.test.kl)}) | ${m.seconds.toFixed(1)}s`,
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

/** Registers `vaekit train` with its `image` subcommand; returns the `train` command for more kinds. */
export function registerTrain(program: Command): Command {
  const train = program.command('train').description('train a VAE (see: vaekit train image --help, vaekit train text --help)');
  train
    .command('image')
    .description('train an image VAE on the built-in MNIST digits (10,000 real digits, seeded 9,000/1,000 split)')
    .option('--arch <arch>', `architecture: ${IMAGE_ARCHS.join(' | ')}`, oneOf(IMAGE_ARCHS), 'dense')
    .option('--epochs <n>', 'passes over the training digits', positiveInt(100_000), 10)
    .option('--latent <z>', 'latent size', positiveInt(4096), 20)
    .option('--hidden <sizes>', 'hidden layer sizes, comma-separated (default: 400 dense, 256 conv)', intList)
    .option('--beta <b>', 'weight of the KL term', numberIn(0, 1000), 1)
    .option('--batch-size <n>', 'examples per step', positiveInt(65_536), 128)
    .option('--lr <rate>', 'Adam learning rate', numberIn(1e-9, 10), 1e-3)
    .option('--limit <n>', 'train on at most n digits (quick runs)', positiveInt(1_000_000))
    .option('--out <dir>', 'run folder to create', 'runs/image')
    .option('--force', 'replace the run folder if it exists')
    .option('--resume', 'continue the run in --out from its newest complete checkpoint (its saved configuration applies; --epochs may extend it)')
    .option('--seed <s>', 'seed for the split, initialisation and sampling', intIn(0, 2 ** 31 - 1), 42)
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf(BACKEND_CHOICES), 'auto')
    .option('--skip-nonfinite', 'skip batches whose loss or gradients are NaN or infinite (default: stop, keeping the last good checkpoint)')
    .option('--report', 'rewrite RUN/report.html (curves, samples, latent map) after every epoch')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (opts: ImageTrainCliOptions & { out: string; json?: boolean }, cmd: Command) => {
      if (opts.resume && opts.force) throw new UsageError('--resume and --force cannot be used together.');
      const epochsGiven = cmd.getOptionValueSource('epochs') === 'cli';
      const { result, backend } = await runImageTraining(opts.out, { ...opts, epochsGiven, quiet: false });
      const last = result.epochs[result.epochs.length - 1];
      if (opts.json) {
        process.stdout.write(JSON.stringify({ runDir: opts.out, ...(opts.report ? { report: path.join(opts.out, REPORT_FILE) } : {}), backend, seconds: result.seconds, epochs: result.epochs }, null, 2) + '\n');
      } else {
        process.stdout.write(
          `Trained in ${result.seconds.toFixed(1)}s. Held-out -ELBO ${last ? fmt(last.test.elbo) : '?'} nats per digit. Run folder: ${opts.out}\n` +
            (opts.report ? `Report: ${path.join(opts.out, REPORT_FILE)}\n` : '') +
            `Next: vaekit export ${opts.out} bundle\n`,
        );
      }
    });
  return train;
}
