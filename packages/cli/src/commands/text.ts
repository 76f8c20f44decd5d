/** `vaekit train text` and `vaekit eval`: the sentence VAE, its baseline and the metrics of the field. */
import { InvalidArgumentError, type Command } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  ANNEAL_SCHEDULES,
  BACKEND_CHOICES,
  TEXT_CELLS,
  defaultTextConfig,
  evaluateTextRun,
  initBackend,
  readRunTokenizer,
  resumeTextVae,
  trainTextVae,
  writeFileAtomic,
  type AggressiveMode,
  type BackendChoice,
  type TextEvalMetrics,
  type TextRunReport,
  type TextTrainConfig,
  type TextTrainHooks,
} from '@vaekit/trainer';
import { UsageError } from '../errors.js';
import { intIn, numberIn, oneOf, positiveInt } from '../options.js';
import { printJson } from '../output.js';
import { createProgress, type Progress } from '../progress.js';
import { liveReport } from '../report/live.js';
import { claimRunFolder } from './train.js';

/** Name of the evaluation report written into a run folder. */
const EVAL_FILE = 'eval.json';

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
  backend: BackendChoice;
  out: string;
  force?: boolean;
  resume?: boolean;
  skipNonfinite?: boolean;
  json?: boolean;
}

const f2 = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));

/** One line per metric, VAE and (optionally) baseline side by side. */
export function metricsTable(vae: TextEvalMetrics, baseline?: TextEvalMetrics, label = 'VAE'): string {
  const rows: Array<[string, string, string]> = [
    ['sentences', String(vae.sentences), baseline ? String(baseline.sentences) : ''],
    ['-ELBO (nats/sentence)', f2(vae.elbo), baseline ? `${f2(baseline.elbo)} (exact NLL)` : ''],
    ['  reconstruction', f2(vae.reconstruction), baseline ? f2(baseline.reconstruction) : ''],
    ['  KL', f2(vae.kl), baseline ? '0' : ''],
    [`IW-NLL (K=${vae.k ?? '-'})`, f2(vae.iwNll), baseline ? f2(baseline.elbo) : ''],
    [`perplexity (${vae.pplBound} bound)`, f2(vae.ppl), baseline ? `${f2(baseline.ppl)} (exact)` : ''],
    ['mutual information I_q', f2(vae.mi), ''],
    ['active units', vae.au === undefined ? '-' : String(vae.au), ''],
  ];
  const header: [string, string, string] = ['metric', label, baseline ? 'LM baseline' : ''];
  const all = [header, ...rows];
  const w0 = Math.max(...all.map((r) => r[0].length));
  const w1 = Math.max(...all.map((r) => r[1].length));
  return all.map((r) => `${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2]}`.trimEnd()).join('\n');
}

function qualitativeText(report: TextRunReport): string {
  const q = report.qualitative;
  if (!q) return '';
  const lines = ['', 'Prior samples (greedy):', ...q.priorGreedy.map((s) => `  ${s}`), 'Prior samples (sampled, T=1):', ...q.priorSampled.map((s) => `  ${s}`)];
  lines.push('Reconstructions (greedy from the posterior mean):');
  for (const r of q.reconstructions) lines.push(`  in:  ${r.input}`, `  out: ${r.output}`);
  lines.push(`Interpolation: "${q.interpolation.from}" -> "${q.interpolation.to}"`, ...q.interpolation.steps.map((s, i) => `  ${i}: ${s}`));
  return lines.join('\n');
}

/** Evaluates a run (and its baseline) with an evaluation progress bar; writes RUN/eval.json. */
async function evaluateWithProgress(
  runDir: string,
  options: { data?: string; k: number; limit: number; examples?: number; baseline?: string; quiet?: boolean },
): Promise<{ vae: TextRunReport; baseline?: TextRunReport }> {
  const run = async (dir: string, label: string) => {
    let bar: Progress | undefined;
    const report = await evaluateTextRun(dir, {
      k: options.k,
      limit: options.limit,
      ...(options.examples !== undefined ? { examples: options.examples } : {}),
      ...(options.data !== undefined ? { data: options.data } : {}),
      onProgress: (done, total) => {
        bar ??= createProgress(`eval ${label}`, total, { quiet: options.quiet });
        bar.update(done);
      },
    });
    bar?.stop();
    return report;
  };
  if (options.baseline) {
    const [a, b] = await Promise.all([readRunTokenizer(runDir), readRunTokenizer(options.baseline)]);
    if (a.vocabulary.join('\n') !== b.vocabulary.join('\n')) {
      throw new UsageError(`--baseline ${options.baseline} has another vocabulary than ${runDir}; train both on the same data and settings.`);
    }
  }
  const vae = await run(runDir, path.basename(runDir));
  const baseline = options.baseline ? await run(options.baseline, path.basename(options.baseline)) : undefined;
  await writeFileAtomic(path.join(runDir, EVAL_FILE), JSON.stringify({ vae, ...(baseline ? { baseline } : {}) }, null, 2) + '\n');
  return { vae, ...(baseline ? { baseline } : {}) };
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
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf(BACKEND_CHOICES), 'auto')
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
      if (!opts.resume) await claimRunFolder(opts.out, opts.force);
      const backend = await initBackend(opts.backend);
      const log = (line: string) => process.stderr.write(line + '\n');
      log(`backend: ${backend.name} (${backend.note})`);
      let bar: Progress | undefined;
      let evalBar: Progress | undefined;
      let completed = 0;
      const live = opts.report ? liveReport(opts.out, log) : undefined;
      let totalEpochs = config.epochs;
      const hooks: TextTrainHooks = {
        onStart: ({ corpus: c, epochs, batchesPerEpoch, startEpoch }) => {
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

/** Registers `vaekit eval`. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a text run: -ELBO, IW-NLL, perplexity, mutual information, active units, samples and reconstructions')
    .argument('<run>', 'run folder made by vaekit train text')
    .option('--data <source>', "evaluate on sotu or a file (one sentence per line) instead of the run's test split")
    .option('--k <n>', 'importance samples for the IW-NLL (0 = skip)', intIn(0, 100_000), 500)
    .option('--limit <n>', 'evaluate at most n sentences (0 = all)', intIn(0, 100_000_000), 0)
    .option('--baseline <run>', 'a language-model baseline run (vaekit train text --model lm) to report beside the VAE')
    .option('--examples <n>', 'prior samples and reconstructions to print', intIn(0, 1000), 5)
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join(' | ')}`, oneOf(BACKEND_CHOICES), 'auto')
    .option('--json', 'print the report as JSON on stdout')
    .action(async (runDir: string, opts: { data?: string; k: number; limit: number; baseline?: string; examples: number; backend: BackendChoice; json?: boolean }) => {
      const backend = await initBackend(opts.backend);
      process.stderr.write(`backend: ${backend.name}\n`);
      const report = await evaluateWithProgress(runDir, {
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
