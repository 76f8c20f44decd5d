/** `vaekit train classify` and `vaekit classify`: text classifiers (supervised, M1, M2) and their bundles. */
import { InvalidArgumentError, type Command } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ClassifierEpochMetrics, ClassifierTrainConfig, ClassifierTrainHooks } from '@vaekit/trainer';
// Core is plain TypeScript (formats and contracts): it loads no engine at start-up.
import { ANNEAL_SCHEDULES, CLASSIFIER_ENCODERS, CLASSIFIER_MODELS, CLASSIFIER_MODEL_DEFAULTS, REMEDIES, defaultClassifierConfig, type ClassifierRecipeKey } from '@vaekit/core';
import { UsageError } from '../errors.js';
import type { TfBackend } from '../shared/choices.js';
import { intIn, numberIn, oneOf, positiveInt } from '../shared/options.js';
import { addRunFolderOptions, assertResumeWithoutForce, claimRunFolder, trainOrResume, type RunFlags } from '../shared/run-folder.js';
import { isVerbose, tfBackendOption } from '../shared/tf-backend.js';

function imbalanceRatio(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 1 || n > 1_000_000) throw new InvalidArgumentError('Expected a ratio R > 1 (the minority class keeps 1/R of its training examples).');
  return n;
}

interface TrainClassifyOptions extends RunFlags {
  data: string;
  model: ClassifierTrainConfig['model'];
  encoder: ClassifierTrainConfig['encoder'];
  labels: number;
  imbalance?: number;
  remedy: ClassifierTrainConfig['remedy'];
  maxLength: number;
  maxVocab: number;
  minCount: number;
  validSize: number;
  testFraction: number;
  unlabeledLimit: number;
  testLimit: number;
  /** Undefined: the model's default ({@link recipeDefault}). */
  epochs?: number;
  /** Undefined: the model's default ({@link recipeDefault}). */
  latent?: number;
  embedding: number;
  hidden: number;
  bowSkip: number;
  beta: number;
  anneal: ClassifierTrainConfig['anneal']['schedule'];
  annealSteps: number;
  freeBits: number;
  wordDropout: number;
  alpha?: number;
  l2: number;
  patience: number;
  batchSize: number;
  lr: number;
  seed: number;
  backend: TfBackend;
}

/**
 * The help text's default of a setting that a model's recipe may change: the shared default and each
 * model's own, e.g. "default: 5; m1: 8" (core's CLASSIFIER_MODEL_DEFAULTS). The option itself has no
 * commander default, so that an explicit flag always wins and an absent one takes the model's.
 */
export function recipeDefault(key: ClassifierRecipeKey): string {
  const shared = defaultClassifierConfig({ model: 'supervised' })[key];
  const own = CLASSIFIER_MODELS.filter((m) => CLASSIFIER_MODEL_DEFAULTS[m][key] !== undefined && CLASSIFIER_MODEL_DEFAULTS[m][key] !== shared);
  return `(default: ${shared}${own.map((m) => `; ${m}: ${CLASSIFIER_MODEL_DEFAULTS[m][key]}`).join('')})`;
}

/** Registers `vaekit train classify` under `train`. */
export function registerTrainClassify(train: Command): void {
  const d = defaultClassifierConfig();
  addRunFolderOptions(train
    .command('classify')
    .description('train a text classifier: supervised baselines, M1 (VAE + classifier on its means) or M2 (semi-supervised VAE) on IMDB or a JSONL file')
    .option('--data <source>', 'imdb (50,000 reviews, the Stanford split) or a JSONL file of {"text": ..., "label": ...} lines (no label: unlabelled)', 'imdb')
    .option('--model <m>', `${CLASSIFIER_MODELS.join(' | ')}`, oneOf(CLASSIFIER_MODELS), d.model)
    .option('--encoder <e>', `what reads the text: ${CLASSIFIER_ENCODERS.join(' | ')}`, oneOf(CLASSIFIER_ENCODERS), d.encoder)
    .option('--labels <n>', 'labelled training examples, balanced across classes (0 = every label)', intIn(0, 100_000_000), d.data.labels)
    .option('--imbalance <r>', 'keep 1/R of the minority class in the training split (experiments)', imbalanceRatio)
    .option('--remedy <r>', `imbalance remedy: ${REMEDIES.join(' | ')}`, oneOf(REMEDIES), d.remedy)
    .option('--max-length <n>', 'tokens read per text (the rest is cut)', positiveInt(10_000), d.data.maxLength)
    .option('--max-vocab <n>', 'vocabulary size, special tokens included', intIn(5, 1_000_000), d.data.maxVocab)
    .option('--min-count <n>', 'minimum word count in the training split', positiveInt(1_000_000), d.data.minCount)
    .option('--valid-size <n>', 'labelled examples held out for validation', positiveInt(1_000_000), d.data.validSize)
    .option('--test-fraction <f>', 'JSONL data: share of labelled lines held out as the test split', numberIn(0.01, 0.9), d.data.testFraction)
    .option('--unlabeled-limit <n>', 'use at most n unlabelled texts (0 = all)', intIn(0, 100_000_000), 0)
    .option('--test-limit <n>', 'evaluate at most n test texts (0 = all)', intIn(0, 100_000_000), 0)
    .option('--epochs <n>', `passes over the training texts (supervised: over the labelled ones) ${recipeDefault('epochs')}`, positiveInt(100_000))
    .option('--latent <z>', `latent size (m1, m2) ${recipeDefault('latent')}`, positiveInt(4096))
    .option('--embedding <e>', 'word embedding size (gru)', positiveInt(8192), d.embedding)
    .option('--hidden <h>', 'GRU state or bag-of-words hidden layer size', positiveInt(8192), d.hidden)
    .option('--bow-skip <n>', 'bag-of-words models ignore the n most frequent words (function words)', intIn(0, 1_000_000), d.bowSkip)
    .option('--beta <b>', 'weight of the KL term after annealing', numberIn(0, 1000), d.beta)
    .option('--anneal <schedule>', `KL annealing: ${ANNEAL_SCHEDULES.join(' | ')}`, oneOf(ANNEAL_SCHEDULES), d.anneal.schedule)
    .option('--anneal-steps <n>', 'linear: steps to reach full weight', intIn(0, 100_000_000), d.anneal.steps)
    .option('--free-bits <nats>', 'per-dimension KL floor (m1; 0 = off)', numberIn(0, 100), d.freeBits)
    .option('--word-dropout <p>', 'decoder input word dropout (gru m1, m2)', numberIn(0, 0.99), d.wordDropout)
    .option('--alpha <a>', 'm2: weight of the labelled cross-entropy (default 0.1 x labels)', numberIn(0, 1e9))
    .option('--l2 <w>', 'L2 weight of the classifier output layer', numberIn(0, 100), d.l2)
    .option('--patience <n>', 'stop when validation accuracy has not improved for n epochs (0 = never)', intIn(0, 100_000), d.patience)
    .option('--batch-size <n>', 'texts per step', positiveInt(65_536), d.batchSize)
    .option('--lr <rate>', 'Adam learning rate', numberIn(1e-9, 10), d.learningRate)
    .option('--seed <s>', 'seed for the split, labels, initialisation and noise', intIn(0, 2 ** 31 - 1), d.seed)
    .addOption(tfBackendOption()), 'runs/classify')
    .action(async (opts: TrainClassifyOptions, cmd: Command) => {
      assertResumeWithoutForce(opts);
      const source = /\.jsonl?$/i.test(opts.data) ? path.resolve(opts.data) : opts.data;
      if (source !== 'imdb' && !/\.jsonl?$/i.test(source)) throw new UsageError(`Unknown --data "${opts.data}". Should be imdb or a .jsonl file of {"text", "label"} lines.`);
      if (source !== 'imdb') {
        const stat = await fs.stat(source).catch(() => undefined);
        if (!stat?.isFile()) throw new UsageError(`--data ${opts.data}: file not found. Expected imdb or a .jsonl file of {"text", "label"} lines.`);
      }
      const config = defaultClassifierConfig({
        model: opts.model,
        encoder: opts.encoder,
        epochs: opts.epochs,
        latent: opts.latent,
        embedding: opts.embedding,
        hidden: opts.hidden,
        bowSkip: opts.bowSkip,
        beta: opts.beta,
        anneal: { ...d.anneal, schedule: opts.anneal, steps: opts.annealSteps },
        freeBits: opts.freeBits,
        wordDropout: opts.wordDropout,
        alpha: opts.alpha ?? null,
        remedy: opts.remedy,
        l2: opts.l2,
        patience: opts.patience,
        batchSize: opts.batchSize,
        learningRate: opts.lr,
        seed: opts.seed,
        data: {
          source,
          labels: opts.labels,
          maxLength: opts.maxLength,
          maxVocab: opts.maxVocab,
          minCount: opts.minCount,
          validSize: opts.validSize,
          testFraction: opts.testFraction,
          imbalance: opts.imbalance ?? 1,
          unlabeledLimit: opts.unlabeledLimit,
          testLimit: opts.testLimit,
        },
      });
      const { resumeClassifier, trainClassifier, validateClassifierConfig } = await import('@vaekit/trainer');
      (await import('../shared/imdb.js')).registerImdb();
      const { createProgress } = await import('../shared/progress.js');
      const { classifierTable, evaluateClassifier } = await import('../shared/classifier.js');
      const { printJson } = await import('../shared/output.js');
      const { startTfBackend } = await import('../shared/tf-backend.js');
      if (!opts.resume) {
        validateClassifierConfig(config);
        await claimRunFolder(opts.out, opts.force);
      }
      const backend = await startTfBackend(opts.backend, isVerbose(cmd));
      const log = (line: string) => process.stderr.write(line + '\n');
      let bar: ReturnType<typeof createProgress> | undefined;
      let completed = 0;
      let totalEpochs = config.epochs;
      const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
      const hooks: ClassifierTrainHooks = {
        onStart: ({ corpus: c, epochs, batchesPerEpoch, startEpoch }) => {
          log(backend.line);
          totalEpochs = epochs;
          log(`data ${c.source}: ${c.labeled} labelled (${c.labeledPerClass.join('/')}), ${c.unlabeled} unlabelled, valid ${c.valid}, test ${c.test}; vocabulary ${c.vocabSize}`);
          log(`${startEpoch > 0 ? `resuming after epoch ${startEpoch}, ` : ''}${batchesPerEpoch} steps per epoch, ${epochs} epochs`);
        },
        onBatch: (b) => {
          if (b.batch === 1) bar = createProgress(`epoch ${b.epoch}/${totalEpochs}`, b.batches);
          bar?.update(b.batch, { loss: b.loss.toFixed(3) });
          if (b.batch === b.batches) bar?.stop();
        },
        onEpoch: (m: ClassifierEpochMetrics) => {
          completed = m.epoch;
          log(`epoch ${m.epoch}: train loss ${m.train.loss.toFixed(3)} | valid accuracy ${pct(m.valid.accuracy)}, balanced ${pct(m.valid.balancedAccuracy)}, macro-F1 ${pct(m.valid.macroF1)} | ${m.seconds.toFixed(0)}s`);
        },
        onNotice: log,
      };
      const result = await trainOrResume(
        opts,
        cmd,
        { train: (o) => trainClassifier(config, opts.out, hooks, o), resume: (o) => resumeClassifier(opts.out, hooks, o) },
        () => completed,
        () => bar?.stop(),
      );
      const report = await evaluateClassifier(opts.out);
      if (opts.json) {
        printJson({ runDir: opts.out, backend: backend.name, seconds: result.seconds, stoppedEarly: result.stoppedEarly ?? null, epochs: result.epochs, test: report.test, valid: report.valid, labels: report.labels });
        return;
      }
      process.stdout.write(`Trained in ${result.seconds.toFixed(0)}s.\n${classifierTable(report)}\nRun folder: ${opts.out}\nNext: vaekit export ${opts.out} bundle && vaekit classify bundle "a text"\n`);
    });
}

/** Registers `vaekit classify`. */
export function registerClassify(program: Command): void {
  program
    .command('classify')
    .description('classify texts with a classifier bundle (made by vaekit export from a vaekit train classify run)')
    .argument('<bundle>', 'bundle folder or URL')
    .argument('[texts...]', 'texts to classify')
    .option('--file <file>', 'classify each non-blank line of a UTF-8 file')
    .option('--json', 'print one JSON array of {text, label, probabilities}')
    .action(async (bundle: string, texts: string[], opts: { file?: string; json?: boolean }) => {
      const { textsToClassify } = await import('../shared/classifier.js');
      const inputs = await textsToClassify(texts, opts.file);
      const { loadVae } = await import('@vaekit/runtime');
      const classifier = await loadVae(bundle, { kind: 'classifier' });
      try {
        const results = await classifier.classify(inputs);
        if (opts.json) {
          process.stdout.write(JSON.stringify(results.map((r, i) => ({ text: inputs[i], ...r })), null, 2) + '\n');
          return;
        }
        for (const [i, r] of results.entries()) {
          const p = Object.entries(r.probabilities).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
          process.stdout.write(`${r.label}\t(${p})\t${inputs[i]!.length > 60 ? `${inputs[i]!.slice(0, 57)}...` : inputs[i]}\n`);
        }
      } finally {
        await classifier.dispose();
      }
    });
}
