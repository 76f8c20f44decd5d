/**
 * One export pipeline for every model kind. A kind supplies an {@link ExportPlan} (data: the tfjs graphs
 * to convert with their ONNX names, parity inputs, its manifest section, extra files); {@link runPlan}
 * does the rest, the same for every kind: convert -> parity against tfjs -> dtype variant -> webgl
 * variant -> hash -> `buildManifest` (core, validated by `parseManifest`) -> atomic folder write.
 *
 * Kinds are plug-ins: {@link registerExportPlan} maps a bundle kind to its plan factory, and
 * {@link exportBundle} picks the factory by `source.kind`. Image and text are the built-in kinds
 * (kinds/image.ts, kinds/text.ts); a new kind also registers its manifest section with core's
 * `registerBundleKind`.
 */
import type * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  MANIFEST_FILE,
  buildManifest,
  sha256Hex,
  type BundleManifest,
  type ManifestFields,
  type GraphSpec,
  type ParityReport,
  type TrainingSummary,
  type VariantReport,
} from '@vaekit/core';
import { writeFolderAtomic as writeFolderAtomicFs } from '@vaekit/core/node';
import { DEFAULT_OPSET, PRODUCER, convertLayersModel, irVersionForOpset, type ConvertOptions, type ConvertResult } from './converter.js';
import { ExportError } from './errors.js';
import type { ExportProfile } from './ir.js';
import type { GraphRunner, ParityRuntime } from './ort.js';
import { checkParity, type ParityOptions } from './parity.js';
import { parseWeightDtype, type WeightDtype } from './passes/weight-dtype.js';
import { variantErrorVsFp32, variantReport, type MeasuredGraph } from './variants.js';
import { imagePlan, type ImageBundleSource } from './kinds/image.js';
import { textPlan, type TextBundleSource } from './kinds/text.js';
import { classifierPlan, type ClassifierBundleSource } from './kinds/classifier.js';
import { seq2seqPlan, type Seq2SeqBundleSource } from './kinds/seq2seq.js';

/** A step of an export, reported through `onProgress`. */
export interface ExportProgress {
  stage: 'load' | 'convert' | 'parity' | 'write' | 'done';
  /** The graph (`encoder`, `decoder`, `decoder_init`, `decoder_step`, `webgl/encoder`, ...) for per-graph stages. */
  graph?: string;
  message: string;
}

/** Options of {@link exportBundle} and {@link runPlan}. */
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
   * More weight dtypes to carry in the same bundle, each under a folder named after it (`fp16/`,
   * `int8/`) with its own hashed files, listed in `manifest.dtypes`; the runtime picks one with
   * `loadVae(source, { dtype })`. Each is converted and checked like `dtype` (about one more export
   * per dtype). Duplicates of `dtype` are ignored.
   */
  extraDtypes?: readonly WeightDtype[];
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

/** One graph of a plan: a tfjs model and how it becomes an ONNX file of the bundle. */
export interface PlanGraph {
  /** Key in the manifest's `graphs` (`encoder`, `decoder_step`, ...); also the graph's name. */
  key: string;
  /** File name in the bundle, e.g. `encoder.onnx`. */
  file: string;
  model: tf.LayersModel;
  /**
   * How to convert it: ONNX input and output names, an extra lengths input, dynamic dimensions. In
   * the webgl profile `dynamicDims` is ignored: recurrences are unrolled over tfjs' static length.
   */
  convert: Pick<ConvertOptions, 'inputNames' | 'outputNames' | 'lengthsInput' | 'dynamicDims' | 'registry' | 'extraOutputs'>;
  /** How to make its parity inputs (token ids, extra ONNX inputs). */
  parity?: Pick<ParityOptions, 'ids' | 'extraInputs' | 'scale' | 'makeInput'>;
}

/** Everything a kind tells the pipeline about one export. */
export interface ExportPlan {
  /** The bundle kind (`image`, `text`, or a kind registered with core's `registerBundleKind`). */
  kind: string;
  latentSize: number;
  /** Describes the model in each graph's doc string: `${description} ${key}`. */
  description: string;
  /** The graphs, in manifest order. */
  graphs: PlanGraph[];
  /** The kind's manifest section(s), e.g. `{ image: {...} }` or `{ text: {...} }`. */
  section: Record<string, unknown>;
  /** Extra `metadata_props` written into every graph (kind, latent size, training are added). */
  metadata?: Record<string, string>;
  /** Extra files of the bundle (e.g. `tokenizer.json`), hashed and listed like the graphs. */
  files?: Array<{ path: string; bytes: Uint8Array }>;
  /** Written into the manifest's `training` and the graphs' metadata. */
  training?: TrainingSummary;
  /** Held-out loss of the bundle's graphs for the dtype variant's report (the `heldOutLoss` option wins). */
  heldOutLoss?: (run: GraphRunner) => Promise<number>;
  /** Releases what the plan factory built (e.g. the text step graphs); not the source's models. */
  dispose?(): void;
}

/** Any in-memory model an export plan is made from; `kind` picks the plan factory. */
export interface BundleSourceBase {
  kind: string;
}

/** A source of a registered kind. */
export type BundleSource = ImageBundleSource | TextBundleSource | ClassifierBundleSource | Seq2SeqBundleSource | BundleSourceBase;

/** Makes the plan of one source; may check the source and throw {@link ExportError}. */
export type ExportPlanFactory<S extends BundleSourceBase = BundleSourceBase> = (source: S) => ExportPlan | Promise<ExportPlan>;

const planFactories = new Map<string, ExportPlanFactory>([
  ['image', imagePlan as ExportPlanFactory],
  ['text', textPlan as ExportPlanFactory],
  ['classifier', classifierPlan as ExportPlanFactory],
  ['seq2seq', seq2seqPlan as ExportPlanFactory],
]);

/**
 * Registers the export plan factory of a plug-in model kind; {@link exportBundle} then exports sources
 * with that `kind`. Registering a kind twice throws {@link ExportError}.
 */
export function registerExportPlan<S extends BundleSourceBase>(kind: string, factory: ExportPlanFactory<S>): void {
  if (planFactories.has(kind)) throw new ExportError(`An export plan for kind ${JSON.stringify(kind)} is already registered.`, { userError: false });
  planFactories.set(kind, factory as ExportPlanFactory);
}

/** The kinds with a registered export plan (built-in first). */
export function exportPlanKinds(): string[] {
  return [...planFactories.keys()];
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
  /** Parity report per graph (`encoder`, `decoder`, ...; `webgl/...` for the webgl variant). */
  parity: Record<string, ParityReport>;
  manifest: BundleManifest;
}

/** Folder (with its trailing slash) of the `webgl` variant's graphs inside a bundle. */
export const WEBGL_VARIANT_DIR = 'webgl/';

/**
 * Exports an in-memory model as a bundle folder: the plan registered for `source.kind` (image: encoder
 * `x -> mu, logvar` and decoder `z -> logits`; text: encoder, decoder_init, decoder_step and
 * tokenizer.json, see docs/text-model.md) run through {@link runPlan}. Every graph is checked against
 * tfjs with ONNX Runtime before anything is written; an existing `bundleDir` is replaced only once the
 * new bundle is complete.
 *
 * Throws {@link ExportError} for an unknown kind, a bad option or destination, or a source the kind
 * refuses; {@link ParityError} when ONNX and tfjs disagree; {@link UnsupportedLayerError} for layers
 * without handlers.
 */
export async function exportBundle(source: BundleSource, bundleDir: string, opts: ExportBundleOptions = {}): Promise<ExportBundleResult> {
  const factory = planFactories.get(source.kind);
  if (!factory) {
    throw new ExportError(`Bundle kind ${JSON.stringify(source.kind)} has no export plan. Should be one of: ${exportPlanKinds().join(', ')}.`);
  }
  checkOptions(opts);
  // Refuse a bad destination before the slow part.
  await checkReplaceable(bundleDir);
  const plan = await factory(source);
  try {
    return await runPlan(plan, bundleDir, opts);
  } finally {
    plan.dispose?.();
  }
}

/**
 * Refuses option combinations that cannot give a working bundle: an opset outside 13-21, WebGL with
 * weights other than fp32, and the webgl variant of a bundle that already is webgl.
 */
function checkOptions(opts: ExportBundleOptions): void {
  irVersionForOpset(opts.opset ?? DEFAULT_OPSET);
  const dtype = opts.dtype ?? 'fp32';
  if (opts.profile === 'webgl' && dtype !== 'fp32') {
    throw new ExportError(`dtype ${JSON.stringify(dtype)} cannot be combined with the webgl profile: onnxruntime-web's WebGL backend runs fp32 weights only. Use dtype fp32, or the webgl variant next to ${dtype} default graphs.`);
  }
  for (const extra of opts.extraDtypes ?? []) parseWeightDtype(extra);
  const nonFp32 = (opts.extraDtypes ?? []).find((d) => d !== 'fp32');
  if (opts.profile === 'webgl' && nonFp32) {
    throw new ExportError(`dtype ${JSON.stringify(nonFp32)} cannot be combined with the webgl profile: onnxruntime-web's WebGL backend runs fp32 weights only. Use dtype fp32, or the webgl variant next to ${nonFp32} default graphs.`);
  }
  if (opts.profile === 'webgl' && opts.webglVariant) {
    throw new ExportError('The webgl variant adds webgl-profile graphs next to default ones; with the webgl profile the bundle\'s own graphs already are webgl graphs. Use one of the two.');
  }
}

/** One converted graph of a bundle. */
interface Converted extends MeasuredGraph {
  file: string;
  spec: GraphSpec;
}

/**
 * Runs an export plan: converts every graph, checks each against tfjs with ONNX Runtime, makes and
 * measures the dtype variant, adds the webgl variant when asked, hashes every file, builds the
 * manifest with core's `buildManifest` and writes the folder atomically. Reports each step through
 * `opts.onProgress`. The caller keeps ownership of the plan (and disposes it).
 */
export async function runPlan(plan: ExportPlan, bundleDir: string, opts: ExportBundleOptions = {}): Promise<ExportBundleResult> {
  const opset = opts.opset ?? DEFAULT_OPSET;
  const irVersion = irVersionForOpset(opset);
  checkOptions(opts);
  await checkReplaceable(bundleDir);
  const dtype = opts.dtype ?? 'fp32';
  const profile = opts.profile ?? 'default';
  const metadata = {
    'vaekit.kind': plan.kind,
    'vaekit.latent': String(plan.latentSize),
    ...plan.metadata,
    ...(plan.training ? { 'vaekit.training': JSON.stringify(plan.training) } : {}),
  };
  const parity: Record<string, ParityReport> = {};
  const seed = opts.seed !== undefined ? { seed: opts.seed } : {};

  const convertAll = async (graphProfile: ExportProfile, graphDtype: WeightDtype, prefix: string): Promise<Converted[]> => {
    const out: Converted[] = [];
    for (const g of plan.graphs) {
      const name = `${prefix}${g.key}`;
      opts.onProgress?.({ stage: 'convert', graph: name, message: `Converting ${name} to ONNX opset ${opset}${graphProfile === 'default' ? '' : ` (${graphProfile} profile)`}` });
      // Extra outputs (e.g. the text step graph's decoding heads) use ops of the default profile only.
      const { dynamicDims, extraOutputs, ...names } = g.convert;
      const convert = (d: WeightDtype): ConvertResult =>
        convertLayersModel(g.model, {
          ...names,
          ...(dynamicDims && graphProfile !== 'webgl' ? { dynamicDims } : {}),
          ...(extraOutputs && graphProfile !== 'webgl' ? { extraOutputs } : {}),
          opset,
          metadata: { ...metadata, 'vaekit.graph': g.key, 'vaekit.profile': graphProfile },
          docString: `${plan.description} ${g.key}`,
          graphName: g.key,
          profile: graphProfile,
          dtype: d,
        });
      const fp32 = convert('fp32');
      opts.onProgress?.({ stage: 'parity', graph: name, message: `Checking ${name} against tfjs with ONNX Runtime` });
      parity[name] = await checkParity(g.model, fp32.parityBytes, {
        ...g.parity,
        ...(opts.parityBatch !== undefined ? { batch: opts.parityBatch } : {}),
        ...(opts.tolerance !== undefined ? { tolerance: opts.tolerance } : {}),
        ...seed,
        ...(opts.parityRuntimes ? { runtimes: opts.parityRuntimes } : {}),
      });
      const file = `${prefix}${g.file}`;
      const spec: GraphSpec = { file, inputs: fp32.inputs, outputs: fp32.outputs };
      if (graphDtype === 'fp32') {
        out.push({ key: g.key, file, bytes: fp32.bytes, fp32: fp32.bytes, spec });
      } else {
        const variant = convert(graphDtype);
        const maxAbsErrorVsFp32 = await variantErrorVsFp32(g.model, fp32, variant, { ...g.parity, ...seed });
        out.push({ key: g.key, file, bytes: variant.bytes, fp32: fp32.bytes, spec, maxAbsErrorVsFp32 });
      }
    }
    return out;
  };

  const converted = await convertAll(profile, dtype, '');
  const variant = dtype === 'fp32' ? undefined : await variantReport(converted, dtype, profile, opts.heldOutLoss ?? plan.heldOutLoss);
  const webgl = opts.webglVariant ? await convertAll('webgl', 'fp32', WEBGL_VARIANT_DIR) : [];
  // Other weight dtypes, each in a folder named after it, listed in manifest.dtypes.
  const extras: Array<{ dtype: WeightDtype; converted: Converted[]; variant: VariantReport | undefined }> = [];
  for (const d of [...new Set(opts.extraDtypes ?? [])].filter((d) => d !== dtype)) {
    const c = await convertAll(profile, d, `${d}/`);
    extras.push({ dtype: d, converted: c, variant: d === 'fp32' ? undefined : await variantReport(c, d, profile, opts.heldOutLoss ?? plan.heldOutLoss) });
  }
  const extraFiles = extras.flatMap((e) => e.converted);

  const payload = [...[...converted, ...webgl, ...extraFiles].map((c) => ({ path: c.file, bytes: c.bytes })), ...(plan.files ?? [])];
  const files: BundleManifest['files'] = {};
  const summaries: BundleFileSummary[] = [];
  for (const f of payload) {
    const sha256 = await sha256Hex(f.bytes);
    files[f.path] = { sha256, bytes: f.bytes.length };
    summaries.push({ path: f.path, bytes: f.bytes.length, sha256 });
  }
  const specs = (list: Converted[]) => Object.fromEntries(list.map((c) => [c.key, c.spec]));
  let manifest: BundleManifest;
  try {
    manifest = buildManifest({
      kind: plan.kind,
      latentSize: plan.latentSize,
      ...plan.section,
      opset,
      irVersion,
      profile,
      dtype,
      graphs: specs(converted),
      ...(webgl.length > 0 ? { variants: { webgl: { profile: 'webgl', graphs: specs(webgl) } } } : {}),
      ...(extras.length > 0
        ? { dtypes: Object.fromEntries(extras.map((e) => [e.dtype, { dtype: e.dtype, graphs: specs(e.converted), ...(e.variant ? { variant: e.variant } : {}) }])) }
        : {}),
      files,
      producer: { name: '@vaekit/exporter', version: PRODUCER.version },
      createdAt: new Date().toISOString(),
      parity,
      ...(variant ? { variant } : {}),
      ...(plan.training ? { training: plan.training } : {}),
      // A plug-in kind's manifest is not one of the built-in types; parseManifest checks its section.
    } as unknown as ManifestFields);
  } catch (err) {
    throw new ExportError(`The ${plan.kind} export plan makes an invalid manifest: ${(err as Error).message}`, { userError: false, cause: err });
  }
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n');
  summaries.push({ path: MANIFEST_FILE, bytes: manifestBytes.length, sha256: await sha256Hex(manifestBytes) });

  opts.onProgress?.({ stage: 'write', message: `Writing ${bundleDir}` });
  await writeBundleFolder(bundleDir, [...payload, { path: MANIFEST_FILE, bytes: manifestBytes }]);
  opts.onProgress?.({ stage: 'done', message: `Bundle written to ${bundleDir}` });
  return { bundleDir, opset, irVersion, files: summaries, parity, manifest };
}

/**
 * Refuses to replace anything but a bundle: an existing `dir` must be a folder that is empty or holds
 * a `manifest.json`, so a mistyped path never deletes a file or an unrelated folder.
 */
async function checkReplaceable(dir: string): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(path.resolve(dir));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new ExportError(`Cannot write the bundle to ${dir}: ${code === 'ENOTDIR' ? 'a parent of it is a file, not a folder' : (err as Error).message}.`);
  }
  if (!stat.isDirectory()) {
    throw new ExportError(`Cannot write the bundle to ${dir}: it exists and is not a folder. Expected a new, empty or bundle folder.`);
  }
  const entries = await fs.readdir(path.resolve(dir));
  if (entries.length > 0 && !entries.includes(MANIFEST_FILE)) {
    throw new ExportError(
      `Cannot write the bundle to ${dir}: the folder is not empty and is not a bundle (no ${MANIFEST_FILE}); refusing to replace it. Expected a new, empty or bundle folder.`,
    );
  }
}

/**
 * Writes a bundle folder atomically with core's `writeFolderAtomic` (temporary sibling, then renamed
 * into place; the old folder is replaced only once the new one is complete), after checking that an
 * existing `dir` is an empty folder or a bundle.
 */
async function writeBundleFolder(dir: string, files: Array<{ path: string; bytes: Uint8Array }>): Promise<void> {
  await checkReplaceable(dir);
  try {
    await writeFolderAtomicFs(dir, files);
  } catch (err) {
    throw new ExportError(`Cannot write the bundle to ${dir}: ${(err as Error).message}`, { cause: err });
  }
}
