/** `vaekit train translate` and `vaekit translate`: the variational attention translator (seq2seq kind). */
import type { Command } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { TranslateHooks } from '@vaekit/trainer';
// Core is plain TypeScript (formats and contracts): it loads no engine at start-up.
import { ANNEAL_SCHEDULES, ATTENTION_KINDS, ATTENTION_SCORES, defaultTranslateConfig, type AttentionKind, type AttentionScore, type TranslateTrainConfig } from '@vaekit/core';
import { UsageError } from '../errors.js';
import type { TfBackend } from '../shared/choices.js';
import { intIn, numberIn, oneOf, positiveInt } from '../shared/options.js';
import { addRunFolderOptions, assertResumeWithoutForce, claimRunFolder, trainOrResume, type RunFlags } from '../shared/run-folder.js';
import { isVerbose, tfBackendOption } from '../shared/tf-backend.js';

interface TrainTranslateOptions extends RunFlags {
  data?: string;
  reverse?: boolean;
  epochs: number;
  latent: number;
  embedding: number;
  hidden: number;
  attention: AttentionKind;
  attentionScore: AttentionScore;
  beta: number;
  attentionBeta: number;
  anneal: TranslateTrainConfig['anneal']['schedule'];
  annealSteps: number;
  freeBits: number;
  wordDropout: number;
  init?: string;
  maxTokens: number;
  minCount: number;
  maxVocab: number;
  batchSize: number;
  lr: number;
  lrFinal?: number;
  clipNorm: number;
  limit?: number;
  evalLimit: number;
  seed: number;
  backend: TfBackend;
  json?: boolean;
}

/** Registers `vaekit train translate` under `train`. */
export function registerTrainTranslate(train: Command): void {
  const d = defaultTranslateConfig();
  addRunFolderOptions(train
    .command('translate')
    .description('train an attention translator (bidirectional GRU encoder, GRU decoder), optionally variational (VNMT latent, variational attention), on a TSV file of sentence pairs')
    .option('--data <file.tsv>', 'sentence pairs, one a line: target<TAB>source (the Tatoeba/manythings fra-eng layout, English first); --reverse for source<TAB>target (required unless --resume)')
    .option('--reverse', 'the file is source<TAB>target')
    .option('--epochs <n>', 'passes over the training pairs', positiveInt(100_000), d.epochs)
    .option('--latent <z>', 'latent size (0 = the plain attention baseline; > 0: VNMT)', intIn(0, 4096), d.latent)
    .option('--embedding <e>', 'word embedding size', positiveInt(8192), d.embedding)
    .option('--hidden <h>', 'GRU state size (each encoder direction, and the decoder)', positiveInt(8192), d.hidden)
    .option('--attention <kind>', `attention: ${ATTENTION_KINDS.join(' | ')} (variational: Bahuleyan et al. 2018)`, oneOf(ATTENTION_KINDS), d.attention)
    .option('--attention-score <score>', `attention score: ${ATTENTION_SCORES.join(' | ')} (Bahdanau | Luong)`, oneOf(ATTENTION_SCORES), d.attentionScore)
    .option('--beta <b>', 'weight of the KL of z after annealing', numberIn(0, 1000), d.beta)
    .option('--attention-beta <b>', 'weight of the KL of the variational attention context', numberIn(0, 1000), d.attentionBeta)
    .option('--anneal <schedule>', `KL annealing: ${ANNEAL_SCHEDULES.join(' | ')}`, oneOf(ANNEAL_SCHEDULES), d.anneal.schedule)
    .option('--anneal-steps <n>', 'linear: steps to reach full weight', intIn(0, 100_000_000), d.anneal.steps)
    .option('--free-bits <nats>', 'per-dimension KL floor of z (0 = off)', numberIn(0, 100), d.freeBits)
    .option('--word-dropout <p>', 'probability of replacing a decoder input word by <unk>', numberIn(0, 0.99), d.wordDropout)
    .option('--init <run>', 'start from the weights of an attention baseline run (VNMT recipe; same data, sizes and vocabularies)')
    .option('--max-tokens <n>', 'keep pairs with at most n tokens a side (the standard setting: 12)', positiveInt(1000), d.data.maxTokens)
    .option('--min-count <n>', 'minimum word count in the training split', positiveInt(1_000_000), d.data.minCount)
    .option('--max-vocab <n>', 'vocabulary size per side, special tokens included', intIn(5, 1_000_000), d.data.maxVocab)
    .option('--batch-size <n>', 'pairs per step', positiveInt(65_536), d.batchSize)
    .option('--lr <rate>', 'Adam learning rate', numberIn(1e-9, 10), d.learningRate)
    .option('--lr-final <rate>', 'learning rate at the last step: falls linearly from --lr (default: constant --lr)', numberIn(1e-9, 10))
    .option('--clip-norm <n>', 'clip gradients to this global norm (0 = off)', numberIn(0, 1e6), d.clipNorm)
    .option('--limit <n>', 'train on at most n pairs (quick runs)', positiveInt(100_000_000))
    .option('--eval-limit <n>', 'validation/test pairs used (0 = all)', intIn(0, 100_000_000), d.data.evalLimit)
    .option('--seed <s>', 'seed for the split, initialisation and noise', intIn(0, 2 ** 31 - 1), d.seed)
    .addOption(tfBackendOption()), 'runs/translate')
    .action(async (opts: TrainTranslateOptions, cmd: Command) => {
      assertResumeWithoutForce(opts);
      if (opts.init && opts.resume) throw new UsageError('--init and --resume cannot be used together (a resumed run keeps its own weights).');
      if (opts.init) {
        const hasConfig = await fs.stat(path.join(opts.init, 'config.json')).then((s) => s.isFile(), () => false);
        if (!hasConfig) throw new UsageError(`--init ${opts.init} is not a run folder (no config.json); give an attention baseline run made by vaekit train translate.`);
      }
      if (!opts.resume && opts.data === undefined) throw new UsageError('--data FILE.tsv is required: sentence pairs, one a line (e.g. fra-eng.txt of manythings.org/anki, English first).');
      const dataFile = path.resolve(opts.data ?? '');
      if (!opts.resume && !(await fs.stat(dataFile).then((s) => s.isFile(), () => false))) {
        throw new UsageError(`--data ${opts.data}: no such file. Give a TSV file of sentence pairs (e.g. fra-eng.txt of manythings.org/anki).`);
      }
      const config = defaultTranslateConfig({
        epochs: opts.epochs,
        latent: opts.latent,
        embedding: opts.embedding,
        hidden: opts.hidden,
        attention: opts.attention,
        attentionScore: opts.attentionScore,
        beta: opts.beta,
        attentionBeta: opts.attentionBeta,
        anneal: { ...defaultTranslateConfig().anneal, schedule: opts.anneal, steps: opts.annealSteps },
        freeBits: opts.freeBits,
        wordDropout: opts.wordDropout,
        batchSize: opts.batchSize,
        learningRate: opts.lr,
        ...(opts.lrFinal !== undefined ? { learningRateFinal: opts.lrFinal } : {}),
        clipNorm: opts.clipNorm,
        seed: opts.seed,
        ...(opts.init ? { init: path.resolve(opts.init) } : {}),
        data: {
          ...defaultTranslateConfig().data,
          source: dataFile,
          reverse: opts.reverse === true,
          maxTokens: opts.maxTokens,
          minCount: opts.minCount,
          maxVocab: opts.maxVocab,
          trainLimit: opts.limit ?? 0,
          evalLimit: opts.evalLimit,
        },
      });
      const { resumeTranslate, trainTranslate } = await import('@vaekit/trainer');
      const { createProgress } = await import('../shared/progress.js');
      const { printJson } = await import('../shared/output.js');
      const { startTfBackend } = await import('../shared/tf-backend.js');
      if (!opts.resume) await claimRunFolder(opts.out, opts.force);
      const backend = await startTfBackend(opts.backend, isVerbose(cmd));
      const log = (line: string) => process.stderr.write(line + '\n');
      const f2 = (v: number) => v.toFixed(2);
      let bar: ReturnType<typeof createProgress> | undefined;
      let completed = 0;
      let totalEpochs = config.epochs;
      const hooks: TranslateHooks = {
        onStart: ({ corpus: c, epochs, batchesPerEpoch, startEpoch }) => {
          log(backend.line);
          totalEpochs = epochs;
          log(`data: ${c.pairs} pairs, ${c.kept} with at most ${config.data.maxTokens} tokens a side (${c.uniqueTargets} unique targets); train ${c.train}, valid ${c.valid}, test ${c.test}; vocabularies ${c.sourceVocab} source, ${c.targetVocab} target`);
          log(`${startEpoch > 0 ? `resuming after epoch ${startEpoch}, ` : ''}${batchesPerEpoch} steps per epoch, ${epochs} epochs`);
        },
        onBatch: (b) => {
          if (b.batch === 1) bar = createProgress(`epoch ${b.epoch}/${totalEpochs}`, b.batches);
          bar?.update(b.batch, { loss: b.loss.toFixed(2) });
          if (b.batch === b.batches) bar?.stop();
        },
        onEpoch: (m) => {
          completed = m.epoch;
          const v = m.valid;
          log(
            `epoch ${m.epoch}: train loss ${f2(m.train.loss)} (rec ${f2(m.train.reconstruction)}, KL ${f2(m.train.kl)}, KL att ${f2(m.train.klAttention)}, weight ${m.train.klWeight.toFixed(3)}) | ` +
              `valid loss ${f2(v.loss)} (rec ${f2(v.reconstruction)}, KL ${f2(v.kl)}, KL att ${f2(v.klAttention)}) ppl ${f2(v.ppl)}${v.au !== undefined ? ` AU ${v.au}` : ''} | ${m.seconds.toFixed(0)}s`,
          );
        },
        onNotice: log,
      };
      const result = await trainOrResume(
        opts,
        cmd,
        { train: (o) => trainTranslate(config, opts.out, hooks, o), resume: (o) => resumeTranslate(opts.out, hooks, o) },
        () => completed,
        () => bar?.stop(),
      );
      if (opts.json) {
        printJson({ runDir: opts.out, backend: backend.name, seconds: result.seconds, epochs: result.epochs });
        return;
      }
      process.stdout.write(`Trained in ${result.seconds.toFixed(0)}s. Run folder: ${opts.out}\nNext: vaekit eval ${opts.out}   (BLEU, chrF, KL, diversity)   or   vaekit export ${opts.out} bundle && vaekit translate bundle "je suis fatigué ."\n`);
    });
}

interface TranslateCliOptions {
  file?: string;
  strategy?: 'greedy' | 'sample' | 'beam';
  beam?: number;
  n: number;
  latent?: 'mean' | 'sample';
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  attention?: boolean;
  device?: string;
  json?: boolean;
}

/** Registers `vaekit translate`. */
export function registerTranslate(program: Command): void {
  program
    .command('translate')
    .description('translate sentences with a seq2seq bundle (made by vaekit export from a translate run)')
    .argument('<bundle>', 'bundle folder')
    .argument('[text...]', 'sentences to translate (or --file)')
    .option('--file <path>', 'translate each line of a UTF-8 file (blank lines are skipped)')
    .option('--strategy <s>', 'greedy | sample | beam (default greedy; beam with --beam)', oneOf(['greedy', 'sample', 'beam'] as const))
    .option('--beam <width>', 'beam search with this width', positiveInt(256))
    .option('--n <count>', 'translations per sentence, from different latents (z ~ p(z|x); the attention context too with variational attention)', positiveInt(1000), 1)
    .option('--latent <mode>', 'mean | sample: decode from the mean latents or draw them (default: sample when --n > 1)', oneOf(['mean', 'sample'] as const))
    .option('--temperature <t>', 'sampling temperature', numberIn(1e-6, 100), 1)
    .option('--top-k <k>', 'sampling: keep the k most likely tokens (0 = off)', intIn(0, 1_000_000), 0)
    .option('--top-p <p>', 'sampling: nucleus probability (1 = off)', numberIn(1e-6, 1), 1)
    .option('--seed <s>', 'seed of the latents and of sampling', intIn(0, 2 ** 31 - 1), 0)
    .option('--attention', 'include the attention weights (JSON) or draw them (text)')
    .option('--device <backend>', 'ONNX Runtime backend: cpu (default) or wasm')
    .option('--json', 'print the translations as JSON on stdout')
    .action(async (bundle: string, text: string[], opts: TranslateCliOptions) => {
      let texts = text;
      if (opts.file) {
        if (text.length > 0) throw new UsageError('Give sentences or --file, not both.');
        let content: string;
        try {
          content = await fs.readFile(opts.file, 'utf8');
        } catch {
          throw new UsageError(`--file ${opts.file}: cannot read it (a UTF-8 text file, one sentence a line).`);
        }
        texts = content.split(/\r?\n/).filter((l) => l.trim() !== '');
        if (texts.length === 0) throw new UsageError(`--file ${opts.file} has no sentences.`);
      }
      if (texts.length === 0) throw new UsageError('Nothing to translate: give sentences (vaekit translate BUNDLE "je suis fatigué .") or --file.');
      if (opts.beam !== undefined && opts.strategy !== undefined && opts.strategy !== 'beam') throw new UsageError(`--beam needs --strategy beam (got --strategy ${opts.strategy}).`);
      if (opts.device !== undefined && opts.device !== 'cpu' && opts.device !== 'wasm') throw new UsageError(`Unsupported --device "${opts.device}". Should be one of: cpu, wasm.`);
      const strategy = opts.beam !== undefined ? 'beam' : (opts.strategy ?? 'greedy');
      const { loadVae } = await import('@vaekit/runtime');
      const translator = await loadVae(bundle, { kind: 'seq2seq', ...(opts.device ? { backend: opts.device as 'cpu' | 'wasm' } : {}) });
      try {
        const results = await translator.translate(texts, {
          strategy,
          ...(opts.beam !== undefined ? { beamWidth: opts.beam } : {}),
          n: opts.n,
          ...(opts.latent ? { latent: opts.latent } : {}),
          temperature: opts.temperature,
          topK: opts.topK,
          topP: opts.topP,
          seed: opts.seed,
          attention: opts.attention === true,
        });
        if (opts.json) {
          const json = results.map((list, i) => ({
            source: texts[i],
            translations: list.map((t) => ({ text: t.text, logprob: t.logprob, finished: t.finished, tokens: t.tokens, ...(t.attention ? { sourceTokens: t.sourceTokens, attention: t.attention } : {}) })),
          }));
          process.stdout.write(JSON.stringify(json, null, 2) + '\n');
          return;
        }
        const { attentionText } = await import('../shared/attention-text.js');
        results.forEach((list, i) => {
          if (texts.length > 1 || list.length > 1) process.stdout.write(`${texts[i]}\n`);
          for (const t of list) {
            process.stdout.write(`${texts.length > 1 || list.length > 1 ? '  ' : ''}${t.text}\n`);
            if (t.attention) process.stdout.write(attentionText(t.sourceTokens, t.tokens, t.attention) + '\n');
          }
        });
      } finally {
        await translator.dispose();
      }
    });
}
