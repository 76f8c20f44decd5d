/**
 * The vaekit bundle format: the contract between the exporter (which writes bundles) and the runtime
 * (which loads them). This module is platform-neutral: no onnxruntime, no `fs`, no tfjs.
 *
 * A bundle is a folder that a browser can fetch file by file: `manifest.json`, `encoder.onnx`,
 * `decoder.onnx` (image kind) or `encoder.onnx`, `decoder_init.onnx`, `decoder_step.onnx`,
 * `tokenizer.json` (text kind).
 */

/** The only manifest format version this runtime reads. */
export const BUNDLE_FORMAT_VERSION = 1;

/** File name of the manifest inside a bundle folder. */
export const MANIFEST_FILE = 'manifest.json';

/** Element types that appear on bundle graph inputs and outputs. */
export type TensorDtype = 'float32' | 'int32' | 'int64';

/** One graph input or output. A string dimension (e.g. `"batch"`) is dynamic. */
export interface TensorSpec {
  name: string;
  dtype: TensorDtype;
  shape: Array<number | string>;
}

/** One ONNX graph of the bundle and its interface. */
export interface GraphSpec {
  /** File name relative to the bundle folder, e.g. `encoder.onnx`. */
  file: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** Integrity record of one file in the bundle. */
export interface FileRecord {
  /** Lower-case hex sha256 of the file's bytes. */
  sha256: string;
  bytes: number;
}

/** Max abs error between tfjs and onnxruntime on the same random batch, per graph output. */
export interface ParityReport {
  batch: number;
  tolerance: number;
  /** Worst over the runtimes checked. */
  maxAbsError: Record<string, number>;
  /** Per ONNX Runtime build (`node`, `wasm`) when more than onnxruntime-node was checked. */
  runtimes?: Record<string, Record<string, number>>;
}

/** Shape of the images an image bundle encodes and decodes (row-major, HWC flattened). */
export interface ImageSpec {
  height: number;
  width: number;
  channels: number;
  /** The decoder outputs logits of this likelihood; `sigmoid(logits)` are pixel means. */
  likelihood: 'bernoulli';
}

/** Summary of the training run that produced the bundle. */
export interface TrainingSummary {
  dataset: string;
  arch: string;
  epochs: number;
  /** Final held-out metrics (per example, nats). */
  metrics?: Record<string, number>;
  [key: string]: unknown;
}


/** What a text bundle's graphs and tokenizer need besides the graph interfaces (docs/text-model.md). */
export interface TextSpec {
  cell: TextCell;
  vocabSize: number;
  embeddingSize: number;
  hiddenSize: number;
  /** Most sentence tokens the model was trained on (the padded length is `maxLength + 1`). */
  maxLength: number;
  /** Names of the recurrent state tensors, in graph order: `["h"]` (GRU) or `["h", "c"]` (LSTM). */
  stateNames: string[];
  /** Fixed special token ids. */
  specialTokens: { pad: number; unk: number; bos: number; eos: number };
  /** Bundle-relative path of the Hugging Face WordLevel `tokenizer.json`. */
  tokenizer: string;
  /** Lower-case hex sha256 of the vocabulary (tokens joined by newlines in id order). */
  vocabularySha256?: string;
}

/**
 * One exported variant's quality report (fp16 / int8 weights, the WebGL profile): size and agreement
 * with the fp32 export, so a user can pick the trade-off.
 */
export interface VariantReport {
  profile: string;
  dtype: string;
  /** Total bytes of the ONNX graphs. */
  bytes: number;
  /** Total bytes of the same graphs in fp32. */
  fp32Bytes?: number;
  /** Max abs error of each graph output against the fp32 ONNX graphs on the same inputs. */
  maxAbsErrorVsFp32?: Record<string, number>;
  /** Held-out loss (per example, nats) with the fp32 graphs and with this variant. */
  heldOutLoss?: { fp32: number; variant: number };
  /** `heldOutLoss.variant - heldOutLoss.fp32`. */
  heldOutLossDelta?: number;
}

/** Fields every bundle manifest has. */
export interface BundleManifestBase {
  format: 'vaekit-bundle';
  formatVersion: number;
  latentSize: number;
  opset: number;
  irVersion: number;
  /** Export profile: `default` (all ONNX ops) or `webgl` (only ops onnxruntime-web's WebGL backend runs). */
  profile: string;
  /** Weight dtype variant: `fp32`, `fp16` or `int8`. */
  dtype: string;
  /** Every file of the bundle except the manifest itself, keyed by relative path. */
  files: Record<string, FileRecord>;
  producer: { name: string; version: string };
  createdAt: string;
  parity?: Record<string, ParityReport>;
  /** Size and parity of this variant against fp32 (absent for fp32 itself). */
  variant?: VariantReport;
  training?: TrainingSummary;
}

/**
 * Another build of the same model's graphs inside one bundle, for backends that cannot run the
 * default ones, e.g. the `webgl` profile (no int64, no GRU/LSTM ops, dynamic dimensions written as 0).
 * Its files (e.g. `webgl/encoder.onnx`) are listed in the manifest's `files` like the others.
 */
export interface BundleVariant<G> {
  /** Export profile of these graphs, e.g. `webgl`. */
  profile: string;
  graphs: G;
}

/**
 * The same graphs with another weight dtype inside one bundle (e.g. `int8/encoder.onnx`), chosen with
 * `loadVae(source, { dtype })`. The bundle's own `graphs` have `manifest.dtype`.
 */
export interface DtypeVariant<G> {
  /** `fp32`, `fp16` or `int8`. */
  dtype: string;
  graphs: G;
  /** Size and agreement of these graphs with fp32. */
  variant?: VariantReport;
}

/** The graphs of an image bundle. */
export interface ImageGraphs {
  encoder: GraphSpec;
  decoder: GraphSpec;
}

/** The graphs of a text bundle. */
export interface TextGraphs {
  encoder: GraphSpec;
  decoder_init: GraphSpec;
  decoder_step: GraphSpec;
}

/** The graph fields of a manifest whose graphs are `G` (every kind has them, a plug-in kind too). */
export interface ManifestGraphs<G> {
  graphs: G;
  /** Other builds of the graphs keyed by profile (e.g. `webgl`); the runtime picks one per backend. */
  variants?: Record<string, BundleVariant<G>>;
  /** Graphs with other weight dtypes, keyed by dtype (e.g. `fp16`, `int8`); files in a folder per dtype. */
  dtypes?: Record<string, DtypeVariant<G>>;
}

/** `manifest.json` of an image bundle: `encoder.onnx` (`x -> mu, logvar`) and `decoder.onnx` (`z -> logits`). */
export interface ImageBundleManifest extends BundleManifestBase, ManifestGraphs<ImageGraphs> {
  kind: 'image';
  image: ImageSpec;
}

/**
 * `manifest.json` of a text bundle (docs/text-model.md): `encoder.onnx` (`tokens, lengths -> mu,
 * logvar`), `decoder_init.onnx` (`z -> h[, c]`), `decoder_step.onnx` (`token, h[, c], z -> logits,
 * h_out[, c_out]`) and `tokenizer.json`.
 */
export interface TextBundleManifest extends BundleManifestBase, ManifestGraphs<TextGraphs> {
  kind: 'text';
  text: TextSpec;
}

/** `manifest.json` of a bundle, by kind. */
export type BundleManifest = ImageBundleManifest | TextBundleManifest;

import { BundleError, quote } from './errors.js';
import type { TextCell } from './kinds/text.js';
import { IMAGE_BUNDLE_KIND } from './kinds/image.js';
import { TEXT_BUNDLE_KIND } from './kinds/text.js';
import { CLASSIFIER_BUNDLE_KIND } from './kinds/classifier.js';
import { SEQ2SEQ_BUNDLE_KIND, type Seq2SeqSpec } from './kinds/seq2seq.js';
import { isRecord } from './manifest-checks.js';

export { BundleError };

/**
 * What the bundle format knows about one model kind: the graphs its manifest must list, and the check
 * of its own manifest section (`image`, `text`, ...). Built-in kinds are image and text; a plug-in kind
 * calls {@link registerBundleKind} once, and then `parseManifest`, `buildManifest` and the runtime's
 * loader accept its bundles.
 */
export interface BundleKindSpec {
  kind: string;
  /** Keys of `manifest.graphs` (and of every variant's graphs) the kind requires. */
  graphNames: readonly string[];
  /** Keys of `manifest.graphs` the kind may have besides {@link graphNames} (checked, and opened by the runtime, when present). */
  optionalGraphNames?: readonly string[];
  /** True when a model of the kind may have no latent (`latentSize` 0, e.g. a seq2seq baseline). */
  latentOptional?: boolean;
  /**
   * Checks the kind's section of a parsed manifest (throws {@link BundleError} naming the field) and
   * returns the extra files it refers to, each with the field naming it (they must be listed in `files`).
   */
  checkSection(manifest: Record<string, unknown>): Array<{ field: string; file: string }>;
}

const bundleKinds = new Map<string, BundleKindSpec>([
  [IMAGE_BUNDLE_KIND.kind, IMAGE_BUNDLE_KIND],
  [TEXT_BUNDLE_KIND.kind, TEXT_BUNDLE_KIND],
  [CLASSIFIER_BUNDLE_KIND.kind, CLASSIFIER_BUNDLE_KIND],
  // The seq2seq kind (kinds/seq2seq.ts) is registered like a plug-in kind would be, so every reader of
  // the format knows it without an import side effect.
  [SEQ2SEQ_BUNDLE_KIND.kind, SEQ2SEQ_BUNDLE_KIND],
]);

/** The graphs of a seq2seq bundle. */
export interface Seq2SeqGraphs {
  encoder: GraphSpec;
  decoder_step: GraphSpec;
}

/**
 * `manifest.json` of a seq2seq bundle (docs/seq2seq-model.md): `encoder.onnx`, `decoder_step.onnx` and
 * the source and target tokenizers. Not part of the {@link BundleManifest} union of the first kinds, as
 * a plug-in kind's manifest: its section is checked by `SEQ2SEQ_BUNDLE_KIND.checkSection`.
 */
export interface Seq2SeqBundleManifest extends BundleManifestBase, ManifestGraphs<Seq2SeqGraphs> {
  kind: 'seq2seq';
  seq2seq: Seq2SeqSpec;
}

/** Registers a plug-in model kind with the bundle format. Registering a kind twice throws. */
export function registerBundleKind(spec: BundleKindSpec): void {
  if (bundleKinds.has(spec.kind)) throw new BundleError(`Bundle kind ${quote(spec.kind)} is already registered.`);
  bundleKinds.set(spec.kind, spec);
}

/** The registered bundle kinds (built-in first). */
export function registeredBundleKinds(): string[] {
  return [...bundleKinds.keys()];
}

/** The graph names a bundle of `kind` must have; throws {@link BundleError} for an unknown kind. */
export function graphNamesOf(kind: string): readonly string[] {
  const spec = bundleKinds.get(kind);
  if (!spec) throw new BundleError(`Bundle kind ${quote(kind)} is not supported. Should be one of: ${registeredBundleKinds().join(', ')}.`);
  return spec.graphNames;
}

/** The graph names of a bundle of `kind` that `graphs` holds: the required ones, then the optional ones present. */
export function presentGraphNames(kind: string, graphs: Record<string, unknown>): string[] {
  const optional = bundleKinds.get(kind)?.optionalGraphNames ?? [];
  return [...graphNamesOf(kind), ...optional.filter((name) => name in graphs)];
}

/**
 * Refuses bundle-relative paths that could leave the bundle folder: absolute paths, `..` segments,
 * backslashes, drive letters, empty segments.
 */
export function assertSafeBundlePath(relPath: string): void {
  const bad =
    typeof relPath !== 'string' ||
    relPath.length === 0 ||
    relPath.length > 1024 ||
    relPath.startsWith('/') ||
    relPath.includes('\\') ||
    /^[a-zA-Z]:/.test(relPath) ||
    relPath.split('/').some((seg) => seg === '..' || seg === '.' || seg === '');
  if (bad) {
    throw new BundleError(
      `Bundle file path ${quote(relPath)} is not allowed: paths must be relative and stay inside the bundle folder.`,
    );
  }
}

function checkTensorSpecs(where: string, value: unknown): TensorSpec[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BundleError(`manifest.json: ${where} must be a non-empty list of tensors.`);
  }
  return value.map((t, i) => {
    if (!isRecord(t) || typeof t.name !== 'string' || !Array.isArray(t.shape)) {
      throw new BundleError(`manifest.json: ${where}[${i}] must have a name, a dtype and a shape.`);
    }
    if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'int64') {
      throw new BundleError(
        `manifest.json: ${where}[${i}] has dtype ${quote(t.dtype)}. Should be one of: float32, int32, int64.`,
      );
    }
    // 0 is how the webgl profile writes a dynamic dimension.
    if (!t.shape.every((d) => (Number.isInteger(d) && (d as number) >= 0) || (typeof d === 'string' && d.length > 0))) {
      throw new BundleError(`manifest.json: ${where}[${i}] has shape ${quote(t.shape)}; dimensions must be integers >= 0 or names.`);
    }
    return t as unknown as TensorSpec;
  });
}

function checkGraphs(where: string, graphs: unknown, names: readonly string[], files: Record<string, unknown>): void {
  if (!isRecord(graphs)) throw new BundleError(`manifest.json: ${where} is missing.`);
  for (const name of names) {
    const g = graphs[name];
    if (!isRecord(g) || typeof g.file !== 'string') {
      throw new BundleError(`manifest.json: ${where}.${name} must name its file.`);
    }
    assertSafeBundlePath(g.file);
    if (!(g.file in files)) {
      throw new BundleError(`manifest.json: ${where}.${name}.file ${quote(g.file)} has no entry in files (no sha256 to verify).`);
    }
    checkTensorSpecs(`${where}.${name}.inputs`, g.inputs);
    checkTensorSpecs(`${where}.${name}.outputs`, g.outputs);
  }
}

/**
 * Validates a parsed `manifest.json` and returns it typed. Throws {@link BundleError} naming the first
 * problem found (unknown version, missing field, unsafe path).
 */
export function parseManifest(json: unknown): BundleManifest {
  if (!isRecord(json)) throw new BundleError('manifest.json must contain a JSON object.');
  if (json.format !== 'vaekit-bundle') {
    throw new BundleError(`manifest.json: format is ${quote(json.format)}, expected "vaekit-bundle".`);
  }
  if (json.formatVersion !== BUNDLE_FORMAT_VERSION) {
    throw new BundleError(
      `manifest.json: formatVersion ${quote(json.formatVersion)} is not supported. This runtime reads version ${BUNDLE_FORMAT_VERSION}.`,
    );
  }
  const spec = typeof json.kind === 'string' ? bundleKinds.get(json.kind) : undefined;
  if (!spec) {
    throw new BundleError(`manifest.json: kind ${quote(json.kind)} is not supported. Should be one of: ${registeredBundleKinds().join(', ')}.`);
  }
  if (!Number.isInteger(json.latentSize) || (json.latentSize as number) < (spec.latentOptional ? 0 : 1)) {
    throw new BundleError(`manifest.json: latentSize must be ${spec.latentOptional ? 'an integer >= 0' : 'a positive integer'}.`);
  }
  const extraFiles = spec.checkSection(json);
  if (!isRecord(json.graphs)) throw new BundleError('manifest.json: graphs is missing.');
  if (!isRecord(json.files)) throw new BundleError('manifest.json: files is missing.');
  for (const [rel, rec] of Object.entries(json.files)) {
    assertSafeBundlePath(rel);
    if (!isRecord(rec) || typeof rec.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(rec.sha256)) {
      throw new BundleError(`manifest.json: files[${quote(rel)}] needs a lower-case hex sha256.`);
    }
  }
  for (const { field, file } of extraFiles) {
    assertSafeBundlePath(file);
    if (!(file in json.files)) throw new BundleError(`manifest.json: ${field} has no entry in files (no sha256 to verify).`);
  }
  const present = (graphs: Record<string, unknown>) => [...spec.graphNames, ...(spec.optionalGraphNames ?? []).filter((n) => n in graphs)];
  checkGraphs('graphs', json.graphs, present(json.graphs), json.files);
  if (json.variants !== undefined) {
    if (!isRecord(json.variants)) throw new BundleError('manifest.json: variants must be an object keyed by profile.');
    for (const [profile, v] of Object.entries(json.variants)) {
      if (!isRecord(v) || typeof v.profile !== 'string' || !isRecord(v.graphs)) {
        throw new BundleError(`manifest.json: variants.${profile} must give its profile and graphs.`);
      }
      checkGraphs(`variants.${profile}.graphs`, v.graphs, present(v.graphs), json.files);
    }
  }
  if (json.dtypes !== undefined) {
    if (!isRecord(json.dtypes)) throw new BundleError('manifest.json: dtypes must be an object keyed by dtype.');
    for (const [dtype, v] of Object.entries(json.dtypes)) {
      if (!isRecord(v) || v.dtype !== dtype || !isRecord(v.graphs)) {
        throw new BundleError(`manifest.json: dtypes.${dtype} must give its dtype and graphs.`);
      }
      checkGraphs(`dtypes.${dtype}.graphs`, v.graphs, present(v.graphs), json.files);
    }
  }
  return json as unknown as BundleManifest;
}

/** Lower-case hex sha256 of bytes, using WebCrypto (available in Node 20 and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Throws {@link BundleError} naming the file when its bytes do not match the manifest record. */
export async function verifyFile(manifest: BundleManifest, relPath: string, bytes: Uint8Array): Promise<void> {
  const rec = manifest.files[relPath];
  if (!rec) throw new BundleError(`Bundle file ${quote(relPath)} is not listed in manifest.json.`);
  const actual = await sha256Hex(bytes);
  if (actual !== rec.sha256) {
    throw new BundleError(
      `Bundle file "${relPath}" does not match manifest.json: sha256 is ${actual}, expected ${rec.sha256}. The file was modified or corrupted.`,
    );
  }
}

/** The fields of a manifest that its writer supplies (the format marker and version are added). */
export type ManifestFields<M extends BundleManifestBase = BundleManifest> = Omit<M, 'format' | 'formatVersion'>;

/**
 * Builds a `manifest.json` object from its fields and validates it with {@link parseManifest} before
 * returning it, so a writer can never produce a bundle its own reader refuses.
 */
export function buildManifest<M extends BundleManifestBase = BundleManifest>(fields: ManifestFields<M>): M {
  const manifest = { format: 'vaekit-bundle', formatVersion: BUNDLE_FORMAT_VERSION, ...fields };
  parseManifest(manifest);
  return manifest as unknown as M;
}
