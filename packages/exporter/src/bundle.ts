/**
 * Bundle export: a trained run folder -> `encoder.onnx`, `decoder.onnx`, `manifest.json`, verified by
 * parity and written atomically (temp sibling folder, then rename).
 */
import type * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint, type Checkpoint } from '@vaekit/trainer';
import {
  BUNDLE_FORMAT_VERSION,
  MANIFEST_FILE,
  sha256Hex,
  type BundleManifest,
  type GraphSpec,
  type ParityReport,
} from '@vaekit/runtime/bundle';
import { PRODUCER, convertLayersModel, irVersionForOpset, DEFAULT_OPSET } from './converter.js';
import { ExportError } from './errors.js';
import { checkParity } from './parity.js';

/** A step of {@link exportBundle}, reported through `onProgress`. */
export interface ExportProgress {
  stage: 'load' | 'convert' | 'parity' | 'write' | 'done';
  /** `encoder` or `decoder` for per-graph stages. */
  graph?: 'encoder' | 'decoder';
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
  parity: Record<'encoder' | 'decoder', ParityReport>;
  manifest: BundleManifest;
}

const ENCODER_FILE = 'encoder.onnx';
const DECODER_FILE = 'decoder.onnx';

async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch {
    return false;
  }
}

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
  let checkpoint: Checkpoint;
  try {
    checkpoint = await loadCheckpoint(runDir);
  } catch (err) {
    const userError = (err as { userError?: unknown }).userError !== false;
    throw new ExportError(`Cannot load a checkpoint from ${runDir}: ${(err as Error).message}`, { userError, cause: err });
  }
  try {
    return await exportCheckpointBundle(checkpoint, bundleDir, opts);
  } finally {
    checkpoint.encoder?.dispose();
    checkpoint.decoder.dispose();
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
    throw new ExportError(`Run kind ${JSON.stringify(config.kind)} cannot be exported yet. Should be one of: image.`);
  }
  if (!checkpoint.encoder) throw new ExportError('The checkpoint has no encoder graph.');
  const { height, width, channels } = config.image;
  const metadata = { 'vaekit.kind': 'image', 'vaekit.latent': String(config.latent) };

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
  const converted: Array<{ key: 'encoder' | 'decoder'; file: string; bytes: Uint8Array; spec: GraphSpec }> = [];
  const parity = {} as Record<'encoder' | 'decoder', ParityReport>;
  for (const g of graphs) {
    opts.onProgress?.({ stage: 'convert', graph: g.key, message: `Converting ${g.key} to ONNX opset ${opset}` });
    const result = convertLayersModel(g.model, {
      opset,
      inputNames: g.inputNames,
      outputNames: g.outputNames,
      metadata: { ...metadata, 'vaekit.graph': g.key },
      docString: `vaekit ${config.arch} image VAE ${g.key}`,
      graphName: g.key,
    });
    opts.onProgress?.({ stage: 'parity', graph: g.key, message: `Checking ${g.key} against tfjs with ONNX Runtime` });
    parity[g.key] = await checkParity(g.model, result.bytes, {
      ...(opts.parityBatch !== undefined ? { batch: opts.parityBatch } : {}),
      ...(opts.tolerance !== undefined ? { tolerance: opts.tolerance } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    });
    converted.push({
      key: g.key,
      file: g.file,
      bytes: result.bytes,
      spec: { file: g.file, inputs: result.inputs, outputs: result.outputs },
    });
  }

  const files: BundleManifest['files'] = {};
  const summaries: BundleFileSummary[] = [];
  for (const c of converted) {
    const sha256 = await sha256Hex(c.bytes);
    files[c.file] = { sha256, bytes: c.bytes.length };
    summaries.push({ path: c.file, bytes: c.bytes.length, sha256 });
  }
  const [encoder, decoder] = converted;
  const manifest: BundleManifest = {
    format: 'vaekit-bundle',
    formatVersion: BUNDLE_FORMAT_VERSION,
    kind: 'image',
    latentSize: config.latent,
    image: { height, width, channels, likelihood: 'bernoulli' },
    opset,
    irVersion,
    profile: 'default',
    dtype: 'fp32',
    graphs: { encoder: encoder!.spec, decoder: decoder!.spec },
    files,
    producer: { name: '@vaekit/exporter', version: PRODUCER.version },
    createdAt: new Date().toISOString(),
    parity,
    training: {
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
    },
  };
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n');
  summaries.push({ path: MANIFEST_FILE, bytes: manifestBytes.length, sha256: await sha256Hex(manifestBytes) });

  opts.onProgress?.({ stage: 'write', message: `Writing ${bundleDir}` });
  await writeFolderAtomic(bundleDir, [
    ...converted.map((c) => ({ path: c.file, bytes: c.bytes })),
    { path: MANIFEST_FILE, bytes: manifestBytes },
  ]);
  opts.onProgress?.({ stage: 'done', message: `Bundle written to ${bundleDir}` });
  return { bundleDir, opset, irVersion, files: summaries, parity, manifest };
}

/**
 * Writes files into `dir` atomically: into `${dir}.tmp-<pid>` first, then renamed into place. An
 * existing `dir` is moved aside only once the new folder is complete, and removed afterwards; on
 * failure the temp folder is removed and the old folder left (or put back) in place.
 */
export async function writeFolderAtomic(dir: string, files: Array<{ path: string; bytes: Uint8Array }>): Promise<void> {
  const target = path.resolve(dir);
  const tmp = `${target}.tmp-${process.pid}`;
  const old = `${target}.old-${process.pid}`;
  try {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rm(tmp, { recursive: true, force: true });
    await fs.mkdir(tmp);
    for (const f of files) await fs.writeFile(path.join(tmp, f.path), f.bytes);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw new ExportError(`Cannot write the bundle to ${dir}: ${(err as Error).message}`, { cause: err });
  }
  let movedOld = false;
  try {
    if (await exists(target)) {
      await fs.rm(old, { recursive: true, force: true });
      await fs.rename(target, old);
      movedOld = true;
    }
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (movedOld && !(await exists(target))) await fs.rename(old, target).catch(() => undefined);
    throw new ExportError(`Cannot move the new bundle into ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (movedOld) await fs.rm(old, { recursive: true, force: true });
}
