/**
 * Bundle export: a trained run folder -> `encoder.onnx`, `decoder.onnx`, `manifest.json`, verified by
 * parity and written atomically (temp sibling folder, then rename).
 */
import type * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import { TOKENIZER_FILE } from '@vaekit/core';
import { writeFolderAtomic as writeFolderAtomicFs } from '@vaekit/core/node';
import path from 'node:path';
import { loadCheckpoint, readRunTokenizer, type Checkpoint, type TextTrainConfig } from '@vaekit/trainer';
import { WordTokenizer } from '@vaekit/core';
import {
  BUNDLE_FORMAT_VERSION,
  MANIFEST_FILE,
  sha256Hex,
  type BundleManifest,
  type GraphSpec,
  type ParityReport,
  type TextBundleManifest,
  type TrainingSummary,
  type VariantReport,
} from '@vaekit/core';
import { PRODUCER, convertLayersModel, irVersionForOpset, DEFAULT_OPSET } from './converter.js';
import { ExportError } from './errors.js';
import { checkParity, type ParityRuntime } from './parity.js';
import type { ExportProfile } from './ir.js';
import { graphRunner, makeVariant, type GraphRunner, type WeightDtype } from './variants.js';
import { buildTextGraphs, convertTextGraphs, textSpecFor } from './text-bundle.js';

/** A step of {@link exportBundle}, reported through `onProgress`. */
export interface ExportProgress {
  stage: 'load' | 'convert' | 'parity' | 'write' | 'done';
  /** The graph (`encoder`, `decoder`, `decoder_init`, `decoder_step`) for per-graph stages. */
  graph?: string;
  message: string;
}

/** Options of {@link exportBundle} and {@link exportCheckpointBundle}. */
export interface ExportBundleOptions {
  /** Target ONNX opset (13 to 21). Default 17. */
  opset?: number;
  /** Called at each step; libraries never print. */
  onProgress?: (event: ExportProgress) => void;
  /** Parity tolerance (max abs error per output). Default 1e-4. */
  tolerance?: number;
  /** Parity batch size. Default 8. */
  parityBatch?: number;
  /** Parity input seed. Default 0. */
  seed?: number;
  /** ONNX Runtime builds the parity check runs on (`node`, `wasm`). Default `['node']`. */
  parityRuntimes?: readonly ParityRuntime[];
  /**
   * Weight dtype of the written graphs: `fp32` (default), `fp16` or `int8`. The fp32 export is
   * still checked against tfjs; the variant is then measured against it (`manifest.variant`).
   */
  dtype?: WeightDtype;
  /**
   * `default`, or `webgl`: graphs use only ops onnxruntime-web's WebGL backend runs (recurrences
   * unrolled; the text encoder then takes the training length T, not any length).
   */
  profile?: ExportProfile;
  /**
   * Also write the graphs in the `webgl` profile, fp32, under `webgl/` in the same bundle (listed as
   * the manifest's `variants.webgl`, hashed like every file), so one bundle serves every backend: the
   * runtime runs them on WebGL (and text bundles with an LSTM cell on WebGPU). Off by default: it
   * roughly doubles the bundle and the export time, and models WebGL cannot express (e.g. exact GELU,
   * dynamic sequence lengths) would fail the export. Not combinable with `profile: 'webgl'`.
   */
  webglVariant?: boolean;
  /**
   * Held-out loss (per example, nats) computed by running the bundle's graphs; with a dtype other
   * than fp32 it runs on both, and the change is reported as `manifest.variant.heldOutLossDelta`.
   */
  heldOutLoss?: (run: GraphRunner) => Promise<number>;
}

/**
 * The variant report of a bundle: sizes, the worst error per output against fp32, and the held-out
 * loss change when an evaluator was given.
 */
async function variantReport(
  graphs: Array<{ key: string; bytes: Uint8Array; fp32: Uint8Array; maxAbsErrorVsFp32?: Record<string, number> }>,
  opts: ExportBundleOptions,
): Promise<VariantReport | undefined> {
  const dtype = opts.dtype ?? 'fp32';
  if (dtype === 'fp32') return undefined;
  const errors: Record<string, number> = {};
  for (const g of graphs) for (const [out, e] of Object.entries(g.maxAbsErrorVsFp32 ?? {})) errors[`${g.key}.${out}`] = e;
  const report: VariantReport = {
    profile: opts.profile ?? 'default',
    dtype,
    bytes: graphs.reduce((n, g) => n + g.bytes.length, 0),
    fp32Bytes: graphs.reduce((n, g) => n + g.fp32.length, 0),
    maxAbsErrorVsFp32: errors,
  };
  if (opts.heldOutLoss) {
    const evaluate = async (pick: 'bytes' | 'fp32') => {
      const runner = graphRunner(Object.fromEntries(graphs.map((g) => [g.key, g[pick]])));
      try {
        return await opts.heldOutLoss!(runner.run);
      } finally {
        await runner.release();
      }
    };
    const base = await evaluate('fp32');
    const variant = await evaluate('bytes');
    report.heldOutLoss = { fp32: base, variant };
    report.heldOutLossDelta = variant - base;
  }
  return report;
}

/** Folder (with its trailing slash) of the `webgl` variant's graphs inside a bundle. */
export const WEBGL_VARIANT_DIR = 'webgl/';

/**
 * Refuses option combinations that cannot give a working bundle: WebGL runs fp32 weights only, and a
 * webgl-profile bundle already is what the variant would add.
 */
function checkBundleOptions(opts: ExportBundleOptions): void {
  const dtype = opts.dtype ?? 'fp32';
  if (opts.profile === 'webgl' && dtype !== 'fp32') {
    throw new ExportError(`dtype ${JSON.stringify(dtype)} cannot be combined with the webgl profile: onnxruntime-web's WebGL backend runs fp32 weights only. Use dtype fp32, or the webgl variant next to ${dtype} default graphs.`);
  }
  if (opts.profile === 'webgl' && opts.webglVariant) {
    throw new ExportError('The webgl variant adds webgl-profile graphs next to default ones; with the webgl profile the bundle\'s own graphs already are webgl graphs. Use one of the two.');
  }
}

/** One file written into the bundle. */
export interface BundleFileSummary {
  path: string;
  bytes: number;
  sha256: string;
}

/** What {@link exportBundle} wrote. */
export interface ExportBundleResult {
  bundleDir: string;
  opset: number;
  irVersion: number;
  /** Every file, the manifest included. */
  files: BundleFileSummary[];
  /** Parity report per graph (`encoder`, `decoder` or `encoder`, `decoder_init`, `decoder_step`). */
  parity: Record<string, ParityReport>;
  manifest: BundleManifest;
}

const ENCODER_FILE = 'encoder.onnx';
const DECODER_FILE = 'decoder.onnx';

/**
 * Exports a run folder made by `vaekit train` as a bundle folder. The newest checkpoint is converted
 * (encoder `x -> mu, logvar`, decoder `z -> logits`), checked against tfjs with ONNX Runtime, hashed,
 * and written atomically: an existing `bundleDir` is replaced only once the new bundle is complete.
 *
 * Throws {@link ExportError} (userError) naming the path for a missing run folder or checkpoint,
 * {@link ParityError} when ONNX and tfjs disagree, {@link UnsupportedLayerError} for layers without
 * handlers.
 */
export async function exportBundle(
  runDir: string,
  bundleDir: string,
  opts: ExportBundleOptions = {},
): Promise<ExportBundleResult> {
  irVersionForOpset(opts.opset ?? DEFAULT_OPSET);
  opts.onProgress?.({ stage: 'load', message: `Loading checkpoint from ${runDir}` });
  let stat;
  try {
    stat = await fs.stat(runDir);
  } catch {
    throw new ExportError(`Run folder not found: ${runDir}`);
  }
  if (!stat.isDirectory()) throw new ExportError(`Run folder is not a directory: ${runDir}`);
  // Refuse a bad destination before the slow part.
  await checkReplaceable(bundleDir, path.resolve(bundleDir));
  let checkpoint: Checkpoint;
  let tokenizer: WordTokenizer | undefined;
  try {
    checkpoint = await loadCheckpoint(runDir);
    if (checkpoint.config.kind === 'text') tokenizer = await readRunTokenizer(runDir);
  } catch (err) {
    const userError = (err as { userError?: unknown }).userError !== false;
    throw new ExportError(`Cannot load a checkpoint from ${runDir}: ${(err as Error).message}`, { userError, cause: err });
  }
  try {
    if (checkpoint.config.kind === 'text') {
      if (checkpoint.config.model !== 'vae' || !checkpoint.encoder) {
        throw new ExportError(
          `${runDir} is a language-model baseline run (model "${checkpoint.config.model}", no encoder); only sentence VAE runs export as text bundles.`,
        );
      }
      return await exportTextBundle(
        { encoder: checkpoint.encoder, decoder: checkpoint.decoder, tokenizer: tokenizer!, training: textTrainingSummary(checkpoint.config, checkpoint) },
        bundleDir,
        opts,
      );
    }
    return await exportCheckpointBundle(checkpoint, bundleDir, opts);
  } finally {
    checkpoint.encoder?.dispose();
    checkpoint.decoder.dispose();
    for (const w of checkpoint.optimizerWeights ?? []) w.tensor.dispose();
  }
}

/**
 * Same as {@link exportBundle} for a checkpoint already in memory (e.g. right after training).
 */
export async function exportCheckpointBundle(
  checkpoint: Checkpoint,
  bundleDir: string,
  opts: ExportBundleOptions = {},
): Promise<ExportBundleResult> {
  const opset = opts.opset ?? DEFAULT_OPSET;
  const irVersion = irVersionForOpset(opset);
  const { config, state } = checkpoint;
  if (config.kind !== 'image') {
    throw new ExportError(
      `Run kind ${JSON.stringify(config.kind)} cannot be exported as an image bundle; text runs need their tokenizer (use exportBundle or exportTextBundle).`,
    );
  }
  if (!checkpoint.encoder) throw new ExportError('The checkpoint has no encoder graph.');
  checkBundleOptions(opts);
  const { height, width, channels } = config.image;
  const training: TrainingSummary = {
    dataset: config.dataset,
    arch: config.arch,
    epochs: state.epoch,
    ...(state.metrics ? { metrics: state.metrics } : {}),
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
  };
  const metadata = {
    'vaekit.kind': 'image',
    'vaekit.latent': String(config.latent),
    'vaekit.training': JSON.stringify(training),
  };

  const graphs: Array<{
    key: 'encoder' | 'decoder';
    file: string;
    model: tf.LayersModel;
    inputNames: string[];
    outputNames: string[];
  }> = [
    { key: 'encoder', file: ENCODER_FILE, model: checkpoint.encoder, inputNames: ['x'], outputNames: ['mu', 'logvar'] },
    { key: 'decoder', file: DECODER_FILE, model: checkpoint.decoder, inputNames: ['z'], outputNames: ['logits'] },
  ];
  type Converted = {
    key: 'encoder' | 'decoder';
    file: string;
    bytes: Uint8Array;
    fp32: Uint8Array;
    spec: GraphSpec;
    maxAbsErrorVsFp32?: Record<string, number>;
  };
  const parity: Record<string, ParityReport> = {};
  // One conversion per profile: the bundle's own graphs, and the webgl variant under `webgl/`.
  const convertAll = async (profile: ExportProfile, dtype: WeightDtype, prefix: string): Promise<Converted[]> => {
    const out: Converted[] = [];
    for (const g of graphs) {
      const name = `${prefix}${g.key}`;
      opts.onProgress?.({ stage: 'convert', graph: name, message: `Converting ${name} to ONNX opset ${opset}${profile === 'default' ? '' : ` (${profile} profile)`}` });
      const result = convertLayersModel(g.model, {
        opset,
        inputNames: g.inputNames,
        outputNames: g.outputNames,
        metadata: { ...metadata, 'vaekit.graph': g.key, 'vaekit.profile': profile },
        docString: `vaekit ${config.arch} image VAE ${g.key}`,
        graphName: g.key,
        profile,
      });
      opts.onProgress?.({ stage: 'parity', graph: name, message: `Checking ${name} against tfjs with ONNX Runtime` });
      parity[name] = await checkParity(g.model, result.parityBytes, {
        ...(opts.parityBatch !== undefined ? { batch: opts.parityBatch } : {}),
        ...(opts.tolerance !== undefined ? { tolerance: opts.tolerance } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(opts.parityRuntimes ? { runtimes: opts.parityRuntimes } : {}),
      });
      const file = `${prefix}${g.file}`;
      const spec = { file, inputs: result.inputs, outputs: result.outputs };
      if (dtype === 'fp32') {
        out.push({ key: g.key, file, bytes: result.bytes, fp32: result.bytes, spec });
      } else {
        const v = await makeVariant(g.model, result, dtype, opts.seed !== undefined ? { seed: opts.seed } : {});
        out.push({ key: g.key, file, bytes: v.bytes, fp32: result.bytes, spec, maxAbsErrorVsFp32: v.maxAbsErrorVsFp32 });
      }
    }
    return out;
  };
  const converted = await convertAll(opts.profile ?? 'default', opts.dtype ?? 'fp32', '');
  const variant = await variantReport(converted, opts);
  const webgl = opts.webglVariant ? await convertAll('webgl', 'fp32', WEBGL_VARIANT_DIR) : [];

  const files: BundleManifest['files'] = {};
  const summaries: BundleFileSummary[] = [];
  for (const c of [...converted, ...webgl]) {
    const sha256 = await sha256Hex(c.bytes);
    files[c.file] = { sha256, bytes: c.bytes.length };
    summaries.push({ path: c.file, bytes: c.bytes.length, sha256 });
  }
  const [encoder, decoder] = converted;
  const [webglEncoder, webglDecoder] = webgl;
  const manifest: BundleManifest = {
    format: 'vaekit-bundle',
    formatVersion: BUNDLE_FORMAT_VERSION,
    kind: 'image',
    latentSize: config.latent,
    image: { height, width, channels, likelihood: 'bernoulli' },
    opset,
    irVersion,
    profile: opts.profile ?? 'default',
    dtype: opts.dtype ?? 'fp32',
    graphs: { encoder: encoder!.spec, decoder: decoder!.spec },
    ...(webglEncoder && webglDecoder ? { variants: { webgl: { profile: 'webgl', graphs: { encoder: webglEncoder.spec, decoder: webglDecoder.spec } } } } : {}),
    files,
    producer: { name: '@vaekit/exporter', version: PRODUCER.version },
    createdAt: new Date().toISOString(),
    parity,
    ...(variant ? { variant } : {}),
    training,
  };
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n');
  summaries.push({ path: MANIFEST_FILE, bytes: manifestBytes.length, sha256: await sha256Hex(manifestBytes) });

  opts.onProgress?.({ stage: 'write', message: `Writing ${bundleDir}` });
  await writeFolderAtomic(bundleDir, [
    ...[...converted, ...webgl].map((c) => ({ path: c.file, bytes: c.bytes })),
    { path: MANIFEST_FILE, bytes: manifestBytes },
  ]);
  opts.onProgress?.({ stage: 'done', message: `Bundle written to ${bundleDir}` });
  return { bundleDir, opset, irVersion, files: summaries, parity, manifest };
}

/**
 * Refuses to replace anything but a bundle: an existing `target` must be a folder that is empty or holds
 * a `manifest.json`, so a mistyped path never deletes a file or an unrelated folder.
 */
async function checkReplaceable(dir: string, target: string): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new ExportError(`Cannot write the bundle to ${dir}: ${code === 'ENOTDIR' ? 'a parent of it is a file, not a folder' : (err as Error).message}.`);
  }
  if (!stat.isDirectory()) {
    throw new ExportError(`Cannot write the bundle to ${dir}: it exists and is not a folder. Expected a new, empty or bundle folder.`);
  }
  const entries = await fs.readdir(target);
  if (entries.length > 0 && !entries.includes(MANIFEST_FILE)) {
    throw new ExportError(
      `Cannot write the bundle to ${dir}: the folder is not empty and is not a bundle (no ${MANIFEST_FILE}); refusing to replace it. Expected a new, empty or bundle folder.`,
    );
  }
}

/**
 * Writes a bundle folder atomically with core's {@link writeFolderAtomicFs} (temporary sibling, then
 * renamed into place; the old folder is replaced only once the new one is complete). An existing `dir`
 * must be an empty folder or a bundle (it has a `manifest.json`); anything else is refused with an
 * {@link ExportError}, so a mistyped path never deletes a file or an unrelated folder.
 */
export async function writeFolderAtomic(dir: string, files: Array<{ path: string; bytes: Uint8Array }>): Promise<void> {
  await checkReplaceable(dir, path.resolve(dir));
  try {
    await writeFolderAtomicFs(dir, files);
  } catch (err) {
    throw new ExportError(`Cannot write the bundle to ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** What {@link exportTextBundle} needs: the trained sentence VAE graphs and its tokenizer. */
export interface TextBundleSource {
  /** Training encoder `tokens [B,T] -> mu, logvar` (docs/text-model.md layer names). */
  encoder: tf.LayersModel;
  /** Training decoder `tokens_in [B,T], z -> logits [B,T,V]`. */
  decoder: tf.LayersModel;
  /** The run's tokenizer: a {@link WordTokenizer} or its `tokenizer.json` text / parsed JSON. */
  tokenizer: WordTokenizer | string | object;
  /** Written into the manifest's `training`. */
  training?: TrainingSummary;
}

function textTrainingSummary(config: TextTrainConfig, checkpoint: Checkpoint): TrainingSummary {
  return {
    dataset: config.data.source,
    arch: config.cell,
    epochs: checkpoint.state.epoch,
    ...(checkpoint.state.metrics ? { metrics: checkpoint.state.metrics } : {}),
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
    data: config.data,
  };
}

/**
 * Exports a sentence VAE as a text bundle: `encoder.onnx`, `decoder_init.onnx`, `decoder_step.onnx`,
 * `tokenizer.json`, `manifest.json` (docs/text-model.md). Every graph is checked against tfjs with ONNX
 * Runtime before anything is written; the folder is written atomically.
 *
 * Throws {@link ExportError} when a layer named by the contract is missing or the tokenizer does not
 * match the embedding, {@link ParityError} when ONNX and tfjs disagree.
 */
export async function exportTextBundle(
  source: TextBundleSource,
  bundleDir: string,
  opts: ExportBundleOptions = {},
): Promise<ExportBundleResult> {
  const opset = opts.opset ?? DEFAULT_OPSET;
  const irVersion = irVersionForOpset(opset);
  let tokenizer: WordTokenizer;
  try {
    tokenizer = source.tokenizer instanceof WordTokenizer ? source.tokenizer : WordTokenizer.fromJSON(source.tokenizer);
  } catch (err) {
    throw new ExportError(`Cannot read the tokenizer: ${(err as Error).message}`, { cause: err });
  }
  checkBundleOptions(opts);
  const graphs = buildTextGraphs(source.encoder, source.decoder);
  try {
    const text = await textSpecFor(graphs, tokenizer, TOKENIZER_FILE);
    const metadata = {
      'vaekit.kind': 'text',
      'vaekit.latent': String(graphs.latentSize),
      'vaekit.cell': graphs.cell,
      'vaekit.vocabulary_sha256': text.vocabularySha256 ?? '',
      ...(source.training ? { 'vaekit.training': JSON.stringify(source.training) } : {}),
    };
    const common = {
      opset,
      ...(opts.tolerance !== undefined ? { tolerance: opts.tolerance } : {}),
      ...(opts.parityBatch !== undefined ? { parityBatch: opts.parityBatch } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
      ...(opts.parityRuntimes ? { runtimes: opts.parityRuntimes } : {}),
    };
    const progress = (prefix: string, profile: ExportProfile) => (graph: string, stage: 'convert' | 'parity') =>
      opts.onProgress?.({
        stage,
        graph: `${prefix}${graph}`,
        message:
          stage === 'convert'
            ? `Converting ${prefix}${graph} to ONNX opset ${opset}${profile === 'default' ? '' : ` (${profile} profile)`}`
            : `Checking ${prefix}${graph} against tfjs with ONNX Runtime`,
      });
    const profile = opts.profile ?? 'default';
    const converted = await convertTextGraphs(graphs, {
      ...common,
      metadata: { ...metadata, 'vaekit.profile': profile },
      ...(opts.dtype ? { dtype: opts.dtype } : {}),
      profile,
      onGraph: progress('', profile),
    });
    const variant = await variantReport(converted, opts);
    const webgl = opts.webglVariant
      ? (
          await convertTextGraphs(graphs, {
            ...common,
            metadata: { ...metadata, 'vaekit.profile': 'webgl' },
            profile: 'webgl',
            onGraph: progress(WEBGL_VARIANT_DIR, 'webgl'),
          })
        ).map((c) => ({ ...c, file: `${WEBGL_VARIANT_DIR}${c.file}`, spec: { ...c.spec, file: `${WEBGL_VARIANT_DIR}${c.spec.file}` } }))
      : [];
    const tokenizerBytes = new TextEncoder().encode(JSON.stringify(tokenizer.toJSON(), null, 2) + '\n');
    const payload = [...[...converted, ...webgl].map((c) => ({ path: c.file, bytes: c.bytes })), { path: TOKENIZER_FILE, bytes: tokenizerBytes }];
    const files: BundleManifest['files'] = {};
    const summaries: BundleFileSummary[] = [];
    for (const f of payload) {
      const sha256 = await sha256Hex(f.bytes);
      files[f.path] = { sha256, bytes: f.bytes.length };
      summaries.push({ path: f.path, bytes: f.bytes.length, sha256 });
    }
    const spec = (key: string) => converted.find((c) => c.key === key)!.spec;
    const parity = Object.fromEntries([
      ...converted.map((c) => [c.key, c.parity]),
      ...webgl.map((c) => [`${WEBGL_VARIANT_DIR}${c.key}`, c.parity]),
    ]);
    const webglSpec = (key: string) => webgl.find((c) => c.key === key)!.spec;
    const manifest: TextBundleManifest = {
      format: 'vaekit-bundle',
      formatVersion: BUNDLE_FORMAT_VERSION,
      kind: 'text',
      latentSize: graphs.latentSize,
      text,
      opset,
      irVersion,
      profile: opts.profile ?? 'default',
      dtype: opts.dtype ?? 'fp32',
      graphs: { encoder: spec('encoder'), decoder_init: spec('decoder_init'), decoder_step: spec('decoder_step') },
      ...(webgl.length > 0
        ? { variants: { webgl: { profile: 'webgl', graphs: { encoder: webglSpec('encoder'), decoder_init: webglSpec('decoder_init'), decoder_step: webglSpec('decoder_step') } } } }
        : {}),
      files,
      producer: { name: '@vaekit/exporter', version: PRODUCER.version },
      createdAt: new Date().toISOString(),
      parity,
      ...(variant ? { variant } : {}),
      ...(source.training ? { training: source.training } : {}),
    };
    const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n');
    summaries.push({ path: MANIFEST_FILE, bytes: manifestBytes.length, sha256: await sha256Hex(manifestBytes) });
    opts.onProgress?.({ stage: 'write', message: `Writing ${bundleDir}` });
    await writeFolderAtomic(bundleDir, [...payload, { path: MANIFEST_FILE, bytes: manifestBytes }]);
    opts.onProgress?.({ stage: 'done', message: `Bundle written to ${bundleDir}` });
    return { bundleDir, opset, irVersion, files: summaries, parity, manifest };
  } finally {
    graphs.dispose();
  }
}
