/** `vaekit train text` and `vaekit eval`: the sentence VAE, its baseline and the metrics of the field. */
import { InvalidArgumentError, type Command } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AggressiveMode, TextTrainConfig, TextTrainHooks } from '@vaekit/trainer';
// Core is plain TypeScript (formats and contracts): it loads no engine at start-up.
import { ANNEAL_SCHEDULES, TEXT_CELLS, defaultTextConfig } from '@vaekit/core';
import { UsageError } from '../errors.js';
import type { TfBackend } from '../shared/choices.js';
import { intIn, numberIn, oneOf, positiveInt } from '../shared/options.js';
import { isVerbose, tfBackendOption } from '../shared/tf-backend.js';

function aggressiveMode(value: string): AggressiveMode {
  if (value === 'auto' || value === 'off') return value;
  if (/^\d+$/.test(value) && Number(value) <= 100_000) return Number(value);
  throw new InvalidArgumentError('Should be auto, off, or a number of epochs.');
}

interface TrainTextOptions {
  /** Rewrite RUN/report.html after every epoch. */
  report?: boolean;
  data: string;
  model: 'vae' | 'lm';
  epochs: number;
  latent: number;
  embedding: number;
  hidden: number;
  cell: TextTrainConfig['cell'];
  beta: number;
  anneal: TextTrainConfig['anneal']['schedule'];
  annealSteps: number;
  annealK: number;
  annealX0: number;
  annealCycles: number;
  annealRatio: number;
  wordDropout: number;
  freeBits: number;
  aggressive: AggressiveMode;
  aggressiveMaxSteps: number;
  maxLength: number;
  overLength: 'drop' | 'cut';
  maxVocab: number;
  minCount: number;
  batchSize: number;
  lr: number;
  clipNorm: number;
  patience: number;
  limit?: number;
  evalLimit: number;
  k: number;
  seed: number;
  backend: TfBackend;
  out: string;
  force?: boolean;
  resume?: boolean;
  skipNonfinite?: boolean;
  json?: boolean;
}

/** Registers `vaekit train text` under `train`. */
export function registerTrainText(train: Command): void {
  const d = defaultTextConfig();
  train
    .command('text')
    .description('train a sentence VAE (or its language-model baseline) on the State of the Union sentences or a text file')
    .option('--data <source>', 'sotu (built-in State of the Union sentences) or a UTF-8 file with one sentence per line', 'sotu')
    .option('--model <kind>', 'vae, or lm: the same decoder with z = 0 (the baseline)', oneOf(['vae', 'lm'] as const), 'vae')
    .option('--epochs <n>', 'passes over the training sentences', positiveInt(100_000), d.epochs)
    .option('--latent <z>', 'latent size', positiveInt(4096), d.latent)
    .option('--embedding <e>', 'word embedding size', positiveInt(8192), d.embedding)
    .option('--hidden <h>', 'recurrent state size', positiveInt(8192), d.hidden)
    .option('--cell <cell>', `recurrent cell: ${TEXT_CELLS.join(' | ')}`, oneOf(TEXT_CELLS), d.cell)
    .option('--beta <b>', 'weight of the KL term after annealing', numberIn(0, 1000), d.beta)
    .option('--anneal <schedule>', `KL annealing: ${ANNEAL_SCHEDULES.join(' | ')}`, oneOf(ANNEAL_SCHEDULES), d.anneal.schedule)
    .option('--anneal-steps <n>', 'linear: steps to reach full weight', intIn(0, 100_000_000), d.anneal.steps)
    .option('--anneal-k <k>', 'logistic: steepness', numberIn(1e-9, 100), d.anneal.k)
    .option('--anneal-x0 <step>', 'logistic: step of weight 0.5', intIn(0, 100_000_000), d.anneal.x0)
    .option('--anneal-cycles <n>', 'cyclical: cycles over the run', positiveInt(100_000), d.anneal.cycles)
    .option('--anneal-ratio <r>', 'cyclical: share of a cycle spent increasing', numberIn(1e-6, 1), d.anneal.ratio)
    .option('--word-dropout <p>', 'probability of replacing a decoder input word by <unk>', numberIn(0, 0.99), d.wordDropout)
    .option('--free-bits <nats>', 'per-dimension KL floor (0 = off)', numberIn(0, 100), d.freeBits)
    .option('--aggressive <mode>', 'encoder-only phase: auto (until held-out MI stops rising), N epochs, or off', aggressiveMode, d.aggressive)
    .option('--aggressive-max-steps <n>', 'cap on encoder-only updates per decoder update', positiveInt(1000), d.aggressiveMaxSteps)
    .option('--max-length <n>', 'longest sentence in words', positiveInt(1000), d.data.maxLength)
    .option('--over-length <policy>', 'longer sentences: drop | cut', oneOf(['drop', 'cut'] as const), d.data.overLength)
    .option('--max-vocab <n>', 'vocabulary size, special tokens included', intIn(5, 1_000_000), d.data.maxVocab)
    .option('--min-count <n>', 'minimum word count in the training split', positiveInt(1_000_000), d.data.minCount)
    .option('--batch-size <n>', 'sentences per step', positiveInt(65_536), d.batchSize)
    .option('--lr <rate>', 'Adam learning rate', numberIn(1e-9, 10), d.learningRate)
    .option('--clip-norm <n>', 'clip gradients to this global norm (0 = off)', numberIn(0, 1e6), d.clipNorm)
    .option('--patience <n>', 'stop when held-out -ELBO has not improved for n epochs (0 = never)', intIn(0, 100_000), d.patience)
    .option('--limit <n>', 'train on at most n sentences (quick runs)', positiveInt(100_000_000))
    .option('--eval-limit <n>', 'validation/test sentences evaluated (0 = all)', intIn(0, 100_000_000), d.data.evalLimit)
    .option('--k <n>', 'importance samples of the final IW-NLL evaluation (0 = skip it)', intIn(0, 100_000), 100)
    .option('--seed <s>', 'seed for the split, initialisation, dropout and sampling', intIn(0, 2 ** 31 - 1), d.seed)
    .addOption(tfBackendOption())
    .option('--out <dir>', 'run folder to create', 'runs/text')
    .option('--force', 'replace the run folder if it exists')
    .option('--resume', 'continue the run in --out from its newest complete checkpoint (its saved configuration applies; --epochs may extend it)')
    .option('--skip-nonfinite', 'skip updates whose loss or gradients are NaN or infinite (default: stop, keeping the last good checkpoint)')
    .option('--report', 'rewrite RUN/report.html (curves, samples, latent map) after every epoch')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (opts: TrainTextOptions, cmd: Command) => {
      if (opts.resume && opts.force) throw new UsageError('--resume and --force cannot be used together.');
      const config = defaultTextConfig({
        model: opts.model,
        epochs: opts.epochs,
        latent: opts.latent,
        embedding: opts.embedding,
        hidden: opts.hidden,
        cell: opts.cell,
        beta: opts.beta,
        anneal: { schedule: opts.anneal, steps: opts.annealSteps, k: opts.annealK, x0: opts.annealX0, cycles: opts.annealCycles, ratio: opts.annealRatio },
        wordDropout: opts.wordDropout,
        freeBits: opts.freeBits,
        aggressive: opts.aggressive,
        aggressiveMaxSteps: opts.aggressiveMaxSteps,
        batchSize: opts.batchSize,
        learningRate: opts.lr,
        clipNorm: opts.clipNorm,
        patience: opts.patience,
        seed: opts.seed,
        data: {
          ...d.data,
          source: opts.data === 'sotu' ? 'sotu' : path.resolve(opts.data),
          maxLength: opts.maxLength,
          overLength: opts.overLength,
          maxVocab: opts.maxVocab,
          minCount: opts.minCount,
          trainLimit: opts.limit ?? 0,
          evalLimit: opts.evalLimit,
        },
      });
      const { resumeTextVae, trainTextVae } = await import('@vaekit/trainer');
      const { claimRunFolder } = await import('../shared/run-folder.js');
      const { createProgress } = await import('../shared/progress.js');
      const { EVAL_FILE, evaluateWithProgress, f2, metricsTable, qualitativeText } = await import('../shared/text-eval.js');
      const { printJson } = await import('../shared/output.js');
      const { startTfBackend } = await import('../shared/tf-backend.js');
      if (!opts.resume) await claimRunFolder(opts.out, opts.force);
      const backend = await startTfBackend(opts.backend, isVerbose(cmd));
      const log = (line: string) => process.stderr.write(line + '\n');
      let bar: ReturnType<typeof createProgress> | undefined;
      let evalBar: ReturnType<typeof createProgress> | undefined;
      let completed = 0;
      const { liveReport } = await import('../report/live.js');
      const live = opts.report ? liveReport(opts.out, log) : undefined;
      let totalEpochs = config.epochs;
      const hooks: TextTrainHooks = {
        onStart: ({ corpus: c, epochs, batchesPerEpoch, startEpoch }) => {
          // The backend line waits until the corpus has been read: bad input is reported alone.
          log(backend.line);
          totalEpochs = epochs;
          log(
            `data: ${c.sentences} sentences read, ${c.empty} empty, ${c.overLength} longer than the maximum length (${c.overLengthPolicy === 'drop' ? 'dropped' : 'cut'}); ` +
              `train ${c.train}, valid ${c.valid}, test ${c.test}; vocabulary ${c.vocabSize} (${(c.unkRate * 100).toFixed(1)}% <unk> in training)`,
          );
          log(`${startEpoch > 0 ? `resuming after epoch ${startEpoch}, ` : ''}${batchesPerEpoch} steps per epoch, ${epochs} epochs`);
        },
        onBatch: (b) => {
          if (b.batch === 1) bar = createProgress(`epoch ${b.epoch}/${totalEpochs}${b.aggressive ? ' (aggressive)' : ''}`, b.batches);
          bar?.update(b.batch, { loss: b.loss.toFixed(2) });
          if (b.batch === b.batches) bar?.stop();
        },
        onEvalProgress: (done, total) => {
          evalBar ??= createProgress('validation', total);
          evalBar.update(done);
          if (done >= total) {
            evalBar.stop();
            evalBar = undefined;
          }
        },
        onEpoch: (m) => {
          completed = m.epoch;
          const v = m.valid;
          log(
            `epoch ${m.epoch}: train loss ${f2(m.train.loss)} (rec ${f2(m.train.reconstruction)}, KL ${f2(m.train.kl)}, KL weight ${m.train.klWeight.toFixed(3)}) | ` +
              `valid -ELBO ${f2(v.elbo)} (rec ${f2(v.reconstruction)}, KL ${f2(v.kl)}) ppl<=${f2(v.ppl)} MI ${f2(v.mi)} AU ${v.au ?? '-'}` +
              `${m.aggressive ? ` | ${m.encoderSteps} encoder-only steps` : ''} | ${m.seconds.toFixed(0)}s`,
          );
          live?.epochDone(m.epoch);
        },
        onNotice: log,
      };
      let result;
      try {
        const epochsGiven = cmd.getOptionValueSource('epochs') === 'cli';
        const nonFinite = opts.skipNonfinite ? ('skip' as const) : ('stop' as const);
        result = opts.resume
          ? await resumeTextVae(opts.out, hooks, { ...(epochsGiven ? { epochs: opts.epochs } : {}), nonFinite })
          : await trainTextVae(config, opts.out, hooks, { nonFinite });
      } catch (err) {
        bar?.stop();
        evalBar?.stop();
        await live?.flush();
        if (completed === 0 && !opts.resume) await fs.rm(opts.out, { recursive: true, force: true });
        throw err;
      }
      await live?.flush();
      const { vae } = await evaluateWithProgress(opts.out, { k: opts.k, limit: 0, examples: opts.model === 'vae' ? 5 : 0 });
      // The final report also shows the test-split evaluation just written to eval.json.
      const reportFile = live ? await (await import('../report/report.js')).writeReport(opts.out).then((r) => r.file) : undefined;
      if (opts.json) {
        printJson({ runDir: opts.out, ...(reportFile ? { report: reportFile } : {}), backend: backend.name, seconds: result.seconds, stoppedEarly: result.stoppedEarly ?? null, epochs: result.epochs, test: vae });
        return;
      }
      process.stdout.write(`Trained in ${result.seconds.toFixed(0)}s. Test split:\n${metricsTable(vae.metrics, undefined, vae.model === 'lm' ? 'LM' : 'VAE')}\n${qualitativeText(vae)}\n`);
      if (reportFile) process.stdout.write(`Report: ${reportFile}\n`);
      process.stdout.write(`Run folder: ${opts.out} (report: ${path.join(opts.out, EVAL_FILE)})\nNext: vaekit eval ${opts.out} --k 500\n`);
    });
}

async function assertNotBundle(dir: string, flag: string): Promise<void> {
  const has = (name: string) => fs.stat(path.join(dir, name)).then((s) => s.isFile(), () => false);
  if (!(await has('config.json')) && (await has('manifest.json'))) {
    throw new UsageError(`${flag}${dir} is a bundle (made by vaekit export); vaekit eval takes a run folder (made by vaekit train text, e.g. runs/text). To try a bundle, use vaekit generate ${dir}.`);
  }
}

/** A bundle folder (manifest.json, no config.json) or a missing folder given where a run folder belongs: one clear line. */
async function assertRunFolder(dir: string): Promise<void> {
  await assertNotBundle(dir, '');
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat) throw new UsageError(`Run folder not found: ${dir}. vaekit eval takes a run folder made by vaekit train text or vaekit train image.`);
  if (!stat.isDirectory()) throw new UsageError(`${dir} is not a folder. vaekit eval takes a run folder made by vaekit train text or vaekit train image.`);
}

/** Registers `vaekit eval`. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a run. text: -ELBO, IW-NLL, perplexity, mutual information, active units, samples and reconstructions; image: FID, precision/recall, confident share (vaekit\'s own MNIST classifier), held-out -ELBO')
    .argument('<run>', 'run folder made by vaekit train text or vaekit train image')
    .option('--data <source>', "evaluate on sotu or a file (one sentence per line) instead of the run's test split")
    .option('--k <n>', 'importance samples for the IW-NLL (0 = skip)', intIn(0, 100_000), 500)
    .option('--limit <n>', 'evaluate at most n sentences (0 = all)', intIn(0, 100_000_000), 0)
    .option('--baseline <run>', 'a language-model baseline run (vaekit train text --model lm) to report beside the VAE')
    .option('--examples <n>', 'prior samples and reconstructions to print', intIn(0, 1000), 5)
    .option('--samples <n>', 'image runs: prior samples compared with as many held-out digits', intIn(10, 100_000), 1000)
    .option('--grid <file.png>', 'image runs: also write a PNG grid of 64 prior samples')
    .option('--seed <s>', 'image runs: seed of the prior samples', intIn(0, 2 ** 31 - 1), 0)
    .addOption(tfBackendOption())
    .option('--json', 'print the report as JSON on stdout')
    .action(async (runDir: string, opts: { data?: string; k: number; limit: number; baseline?: string; examples: number; samples: number; grid?: string; seed: number; backend: TfBackend; json?: boolean }, cmd: Command) => {
      await assertRunFolder(runDir);
      const kind = await fs.readFile(path.join(runDir, 'config.json'), 'utf8').then((t) => (JSON.parse(t) as { kind?: unknown }).kind, () => undefined);
      const textOnly = (['data', 'k', 'limit', 'baseline', 'examples'] as const).filter((o) => cmd.getOptionValueSource(o) === 'cli');
      const imageOnly = (['samples', 'grid', 'seed'] as const).filter((o) => cmd.getOptionValueSource(o) === 'cli');
      if (kind === 'image') {
        if (textOnly.length) throw new UsageError(`--${textOnly[0]} applies to text runs; ${runDir} is an image run (its options: --samples, --grid, --seed).`);
        const { evaluateImageRunCli, imageQualityTable, IMAGE_EVAL_FILE } = await import('../shared/image-eval.js');
        const { printJson } = await import('../shared/output.js');
        const { startTfBackend } = await import('../shared/tf-backend.js');
        const backend = await startTfBackend(opts.backend, isVerbose(cmd));
        process.stderr.write(backend.line + '\n');
        const quality = await evaluateImageRunCli(runDir, { samples: opts.samples, seed: opts.seed, ...(opts.grid ? { grid: opts.grid } : {}), log: (l) => process.stderr.write(l + '\n') });
        if (opts.json) return printJson(quality);
        process.stdout.write(`${imageQualityTable(quality)}\nReport written to ${path.join(runDir, IMAGE_EVAL_FILE)}${opts.grid ? `; samples: ${opts.grid}` : ''}\n`);
        return;
      }
      if (imageOnly.length) throw new UsageError(`--${imageOnly[0]} applies to image runs; ${runDir} is not one.`);
      if (opts.baseline) await assertNotBundle(opts.baseline, '--baseline ');
      const { EVAL_FILE, evaluateWithProgress, metricsTable, qualitativeText } = await import('../shared/text-eval.js');
      const { printJson } = await import('../shared/output.js');
      const { startTfBackend } = await import('../shared/tf-backend.js');
      const backend = await startTfBackend(opts.backend, isVerbose(cmd));
      const report = await evaluateWithProgress(runDir, {
        onStart: () => process.stderr.write(backend.line + '\n'),
        k: opts.k,
        limit: opts.limit,
        examples: opts.examples,
        ...(opts.data !== undefined ? { data: opts.data === 'sotu' ? 'sotu' : path.resolve(opts.data) } : {}),
        ...(opts.baseline ? { baseline: opts.baseline } : {}),
      });
      if (opts.json) {
        printJson(report);
        return;
      }
      process.stdout.write(`Data: ${report.vae.data}\n${metricsTable(report.vae.metrics, report.baseline?.metrics, report.vae.model === 'lm' ? 'LM' : 'VAE')}\n${qualitativeText(report.vae)}\n`);
      process.stdout.write(`Report written to ${path.join(runDir, EVAL_FILE)}\n`);
    });
}
