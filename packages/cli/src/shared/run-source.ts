/**
 * Run folders -> exporter sources. The exporter takes in-memory models only; reading a run folder made
 * by `vaekit train` (config, newest checkpoint, tokenizer, the held-out split) is the CLI's part.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  ExportError,
  exportBundle,
  type BundleSource,
  type ExportBundleOptions,
  type ExportBundleResult,
} from '@vaekit/exporter';
import type { ClassifierTrainConfig, ImageTrainConfig, TextTrainConfig, TrainingSummary, TranslateTrainConfig } from '@vaekit/core';
import {
  CLASSIFIER_RUN_FILE,
  classifierViews,
  defaultImageConfig,
  initBackend,
  loadCheckpoint,
  loadImageSplit,
  loadTextCorpus,
  readRunTokenizer,
  readTranslateTokenizers,
  type Checkpoint,
} from '@vaekit/trainer';

/**
 * Selects tfjs' own CPU backend for exporting: the parity check then compares ONNX Runtime with tfjs'
 * reference kernels (as the tests do), never with vaekit's patched training kernels.
 */
export async function useExportBackend(): Promise<void> {
  await initBackend('cpu');
}

/** Options of {@link loadRunSource}. */
export interface RunSourceOptions {
  /** Held-out examples of the run's own test split to attach (for a dtype variant's loss change). */
  heldOut?: number;
}

/** An exporter source read from a run folder; `dispose` frees the checkpoint's tensors. */
export interface RunSource {
  source: BundleSource;
  dispose(): void;
}

/**
 * Reads the newest checkpoint of `runDir` as an exporter source (image or text). Throws
 * {@link ExportError} (user error) naming the path for a missing run folder or checkpoint, and for a
 * language-model baseline run (no encoder).
 */
export async function loadRunSource(runDir: string, opts: RunSourceOptions = {}): Promise<RunSource> {
  let stat;
  try {
    stat = await fs.stat(runDir);
  } catch {
    throw new ExportError(`Run folder not found: ${runDir}`);
  }
  if (!stat.isDirectory()) throw new ExportError(`Run folder is not a directory: ${runDir}`);
  let checkpoint: Checkpoint;
  try {
    checkpoint = await loadCheckpoint(runDir);
  } catch (err) {
    const userError = (err as { userError?: unknown }).userError !== false;
    throw new ExportError(`Cannot load a checkpoint from ${runDir}: ${(err as Error).message}`, { userError, cause: err });
  }
  // The exporter reads the models only: optimizer state is freed now, the models once the export is done.
  checkpoint.disposeOptimizerState();
  const dispose = () => checkpoint.dispose();
  try {
    const { config, state, encoder, decoder } = checkpoint;
    const summary = { epochs: state.epoch, ...(state.metrics ? { metrics: state.metrics } : {}) };
    if ((config.kind as string) === 'classifier') return { source: await classifierSource(runDir, checkpoint, summary), dispose };
    if ((config.kind as string) === 'translate') {
      if (!encoder) throw new ExportError(`${runDir}: the checkpoint has no encoder graph.`);
      let tokenizers;
      try {
        tokenizers = await readTranslateTokenizers(runDir);
      } catch (err) {
        throw new ExportError(`Cannot load a checkpoint from ${runDir}: ${(err as Error).message}`, { cause: err });
      }
      const t = config as unknown as TranslateTrainConfig;
      return {
        source: {
          kind: 'seq2seq',
          encoder,
          decoder,
          sourceTokenizer: tokenizers.source,
          targetTokenizer: tokenizers.target,
          ...languagesOf(t.data.source, t.data.reverse),
          training: translateTraining(t, summary),
        } as BundleSource,
        dispose,
      };
    }
    if (config.kind === 'text') {
      if (config.model !== 'vae' || !encoder) {
        throw new ExportError(
          `${runDir} is a language-model baseline run (model "${config.model}", no encoder); only sentence VAE runs export as text bundles.`,
        );
      }
      let tokenizer;
      try {
        tokenizer = await readRunTokenizer(runDir);
      } catch (err) {
        throw new ExportError(`Cannot load a checkpoint from ${runDir}: ${(err as Error).message}`, { cause: err });
      }
      const heldOut = opts.heldOut ? (await loadTextCorpus(config)).test.ids.slice(0, opts.heldOut).map((ids) => Array.from(ids)) : undefined;
      return { source: { kind: 'text', encoder, decoder, tokenizer, training: textTraining(config, summary), ...(heldOut ? { heldOut } : {}) }, dispose };
    }
    if (!encoder) throw new ExportError(`${runDir}: the checkpoint has no encoder graph.`);
    const heldOut = opts.heldOut ? await heldOutImages(config, opts.heldOut) : undefined;
    return {
      source: { kind: 'image', encoder, decoder, image: config.image, latentSize: config.latent, training: imageTraining(config, summary), ...(heldOut ? { heldOut } : {}) },
      dispose,
    };
  } catch (err) {
    dispose();
    throw err;
  }
}

/** Exports the newest checkpoint of a run folder as a bundle (see {@link loadRunSource}, `exportBundle`). */
export async function exportRunBundle(
  runDir: string,
  bundleDir: string,
  opts: ExportBundleOptions & RunSourceOptions = {},
): Promise<ExportBundleResult> {
  const { heldOut, ...exportOptions } = opts;
  await useExportBackend();
  opts.onProgress?.({ stage: 'load', message: `Loading checkpoint from ${runDir}` });
  // Held-out examples only measure dtype variants: needed when any written dtype is not fp32.
  const variants = [exportOptions.dtype ?? 'fp32', ...(exportOptions.extraDtypes ?? [])].some((d) => d !== 'fp32');
  const run = await loadRunSource(runDir, variants && heldOut ? { heldOut } : {});
  try {
    return await exportBundle(run.source, bundleDir, exportOptions);
  } finally {
    run.dispose();
  }
}

type Summary = Pick<TrainingSummary, 'epochs' | 'metrics'>;

/** A classifier run as an exporter source: the network's views, tokenizer, class names and moved threshold. */
async function classifierSource(runDir: string, checkpoint: Checkpoint, s: Summary): Promise<BundleSource> {
  const config = checkpoint.config as unknown as ClassifierTrainConfig;
  let info: { labels: string[]; minority: string };
  let tokenizer;
  try {
    info = JSON.parse(await fs.readFile(path.join(runDir, CLASSIFIER_RUN_FILE), 'utf8'));
    tokenizer = await readRunTokenizer(runDir);
  } catch (err) {
    throw new ExportError(`Cannot load a checkpoint from ${runDir}: ${CLASSIFIER_RUN_FILE} or tokenizer.json cannot be read (${(err as Error).message})`, { cause: err });
  }
  const views = classifierViews(checkpoint.decoder, config);
  const threshold = (checkpoint.state as unknown as { classifier?: { threshold?: number | null } }).classifier?.threshold;
  return {
    kind: 'classifier',
    model: config.model,
    encoder: config.encoder,
    classify: views.classify,
    ...(views.encode ? { encode: views.encode } : {}),
    ...(config.model === 'm2' && config.encoder === 'gru' && views.generate ? { generate: views.generate } : {}),
    tokenizer,
    labels: info.labels,
    maxLength: config.data.maxLength,
    bowSkip: config.bowSkip ?? 0,
    ...(config.model !== 'supervised' ? { latentSize: config.latent } : {}),
    ...(typeof threshold === 'number' ? { threshold: { label: info.minority, value: threshold } } : {}),
    training: {
      dataset: path.basename(config.data.source),
      arch: `${config.model}-${config.encoder}`,
      ...s,
      plannedEpochs: config.epochs,
      latent: config.latent,
      hidden: config.hidden,
      batchSize: config.batchSize,
      learningRate: config.learningRate,
      seed: config.seed,
      data: { ...config.data, source: path.basename(config.data.source) },
    },
  } as BundleSource;
}

// Bundles are published: they record the data's base name, never a local path (issue 12).
function imageTraining(config: ImageTrainConfig, s: Summary): TrainingSummary {
  return {
    dataset: path.basename(config.dataset),
    arch: config.arch,
    ...s,
    plannedEpochs: config.epochs,
    latent: config.latent,
    hidden: config.hidden,
    beta: config.beta,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    // The held-out split is fixed by these two: `vaekit reconstruct` uses them to pick unseen digits.
    seed: config.seed,
    testFraction: config.testFraction,
    trainLimit: config.trainLimit,
    // The training recipe (VAE-GAN); the discriminator itself never enters a bundle.
    ...(config.adversarial ? { adversarial: config.adversarial } : {}),
  };
}

function textTraining(config: TextTrainConfig, s: Summary): TrainingSummary {
  return {
    dataset: path.basename(config.data.source),
    arch: config.cell,
    ...s,
    plannedEpochs: config.epochs,
    latent: config.latent,
    hidden: config.hidden,
    embedding: config.embedding,
    beta: config.beta,
    wordDropout: config.wordDropout,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    // The held-out split is fixed by these: evaluation tools pick unseen sentences with them.
    seed: config.seed,
    data: { ...config.data, source: path.basename(config.data.source) },
    // The training recipe (adversarial latent); the critic itself never enters a bundle.
    ...(config.adversarial ? { adversarial: config.adversarial } : {}),
  };
}

/** The first `n` images of the run's own test split (its dataset, seed and test fraction). */
async function heldOutImages(config: ImageTrainConfig, n: number): Promise<Float32Array[]> {
  // Runs written before image folders existed lack fields: MNIST's defaults apply.
  const { test } = await loadImageSplit({ ...defaultImageConfig(), ...config });
  const count = Math.min(n, test.count);
  return Array.from({ length: count }, (_, i) => test.images.slice(i * test.pixels, (i + 1) * test.pixels));
}

/** Language tags of the standard Tatoeba file (`fra-eng.tsv`: English first, French → English); none otherwise. */
function languagesOf(source: string, reverse: boolean): { sourceLanguage?: string; targetLanguage?: string } {
  const m = /^([a-z]{3})-([a-z]{3})\.(tsv|txt)$/.exec(path.basename(source));
  if (!m) return {};
  const [other, english] = [m[1]!, m[2]!];
  const short = (code: string) => ({ fra: 'fr', eng: 'en', deu: 'de', spa: 'es', ita: 'it' })[code] ?? code;
  return reverse ? { sourceLanguage: short(english), targetLanguage: short(other) } : { sourceLanguage: short(other), targetLanguage: short(english) };
}

function translateTraining(config: TranslateTrainConfig, s: Summary): TrainingSummary {
  return {
    dataset: path.basename(config.data.source),
    arch: `${config.attention} ${config.attentionScore} attention`,
    ...s,
    plannedEpochs: config.epochs,
    latent: config.latent,
    hidden: config.hidden,
    embedding: config.embedding,
    beta: config.beta,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    seed: config.seed,
    data: { ...config.data, source: path.basename(config.data.source) },
  };
}
