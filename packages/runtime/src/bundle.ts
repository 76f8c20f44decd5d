/**
 * The vaekit bundle format: the contract between the exporter (which writes bundles) and the runtime
 * (which loads them). This module is platform-neutral: no onnxruntime, no `fs`, no tfjs.
 *
 * A bundle is a folder that a browser can fetch file by file: `manifest.json`, then for the image kind
 * `encoder.onnx`, `decoder.onnx`; for the text kind `encoder.onnx`, `decoder_init.onnx`,
 * `decoder_step.onnx` and `tokenizer.json` (docs/text-model.md).
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
  maxAbsError: Record<string, number>;
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

/** Special token ids of a text bundle (the tokenizer contract fixes them; the manifest repeats them). */
export interface SpecialTokenIds {
  pad: number;
  unk: number;
  bos: number;
  eos: number;
}

/** What a text bundle's graphs were built for (see docs/text-model.md). */
export interface TextSpec {
  /** Recurrent cell of the decoder: an LSTM carries a cell state `c` besides `h`. */
  cell: 'gru' | 'lstm';
  vocabSize: number;
  hiddenSize: number;
  /** Most words in a sentence the model was trained on (the padded length is `maxLength + 1`). */
  maxLength: number;
  /** Bundle-relative path of the Hugging Face tokenizers JSON (a WordLevel model). */
  tokenizer: string;
  specialTokens: SpecialTokenIds;
}

/** The graphs of an image bundle. */
export interface ImageGraphs {
  encoder: GraphSpec;
  decoder: GraphSpec;
}

/**
 * The graphs of a text bundle: `encoder` (`tokens[B,T]`, `lengths[B]` -> `mu`, `logvar`),
 * `decoderInit` (`z` -> `h` [, `c`]) and `decoderStep` (`token[B]`, `h` [, `c`], `z` -> `logits`,
 * `h_out` [, `c_out`]).
 */
export interface TextGraphs {
  encoder: GraphSpec;
  decoderInit: GraphSpec;
  decoderStep: GraphSpec;
}

/**
 * Another build of the same model's graphs for backends that cannot run the default ones, e.g. the
 * `webgl` profile (no int64, no GRU/LSTM ops). Its files are listed in the manifest's `files` too.
 */
export interface BundleVariant<G> {
  /** Export profile of these graphs, e.g. `webgl`. */
  profile: string;
  graphs: G;
}

interface ManifestBase<K extends string, G> {
  format: 'vaekit-bundle';
  formatVersion: number;
  kind: K;
  latentSize: number;
  opset: number;
  irVersion: number;
  /** Export profile of `graphs`: `default` (all ONNX ops) or `webgl`. */
  profile: string;
  /** Weight dtype variant, `fp32` for now. */
  dtype: string;
  graphs: G;
  /** Other builds of the graphs keyed by profile (e.g. `webgl`); the runtime picks one per backend. */
  variants?: Record<string, BundleVariant<G>>;
  /** Every file of the bundle except the manifest itself, keyed by relative path. */
  files: Record<string, FileRecord>;
  producer: { name: string; version: string };
  createdAt: string;
  parity?: Record<string, ParityReport>;
  training?: TrainingSummary;
}

/** `manifest.json` of an image bundle. */
export interface ImageBundleManifest extends ManifestBase<'image', ImageGraphs> {
  image: ImageSpec;
}

/** `manifest.json` of a text bundle. */
export interface TextBundleManifest extends ManifestBase<'text', TextGraphs> {
  text: TextSpec;
}

/** `manifest.json` of a bundle, by `kind`. */
export type BundleManifest = ImageBundleManifest | TextBundleManifest;

/** Model kinds a bundle may hold. */
export const BUNDLE_KINDS = ['image', 'text'] as const;

/** Graph keys of each kind, in loading order. */
export const GRAPH_KEYS = {
  image: ['encoder', 'decoder'],
  text: ['encoder', 'decoderInit', 'decoderStep'],
} as const;

import { BundleError } from './errors.js';

export { BundleError };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Refuses bundle-relative paths that could leave the bundle folder: absolute paths, `..` segments,
 * backslashes, drive letters, empty segments.
 */
export function assertSafeBundlePath(relPath: string): void {
  const bad =
    typeof relPath !== 'string' ||
    relPath.length === 0 ||
    relPath.startsWith('/') ||
    relPath.includes('\\') ||
    /^[a-zA-Z]:/.test(relPath) ||
    relPath.split('/').some((seg) => seg === '..' || seg === '.' || seg === '');
  if (bad) {
    throw new BundleError(
      `Bundle file path ${JSON.stringify(relPath)} is not allowed: paths must be relative and stay inside the bundle folder.`,
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
        `manifest.json: ${where}[${i}] has dtype ${JSON.stringify(t.dtype)}. Should be one of: float32, int32, int64.`,
      );
    }
    return t as unknown as TensorSpec;
  });
}

function checkGraphs(where: string, graphs: unknown, keys: readonly string[], files: Record<string, unknown>): void {
  if (!isRecord(graphs)) throw new BundleError(`manifest.json: ${where} is missing.`);
  for (const name of keys) {
    const g = graphs[name];
    if (!isRecord(g) || typeof g.file !== 'string') {
      throw new BundleError(`manifest.json: ${where}.${name} must name its file.`);
    }
    assertSafeBundlePath(g.file);
    if (!(g.file in files)) {
      throw new BundleError(`manifest.json: ${where}.${name}.file "${g.file}" has no entry in files (no sha256 to verify).`);
    }
    checkTensorSpecs(`${where}.${name}.inputs`, g.inputs);
    checkTensorSpecs(`${where}.${name}.outputs`, g.outputs);
  }
}

function checkTextSpec(text: unknown, files: Record<string, unknown>): void {
  if (!isRecord(text)) throw new BundleError('manifest.json: a text bundle needs a "text" section.');
  if (text.cell !== 'gru' && text.cell !== 'lstm') {
    throw new BundleError(`manifest.json: text.cell is ${JSON.stringify(text.cell)}. Should be one of: gru, lstm.`);
  }
  for (const key of ['vocabSize', 'hiddenSize', 'maxLength'] as const) {
    if (!Number.isInteger(text[key]) || (text[key] as number) <= 0) throw new BundleError(`manifest.json: text.${key} must be a positive integer.`);
  }
  if (typeof text.tokenizer !== 'string') throw new BundleError('manifest.json: text.tokenizer must name the tokenizer file.');
  assertSafeBundlePath(text.tokenizer);
  if (!(text.tokenizer in files)) {
    throw new BundleError(`manifest.json: text.tokenizer "${text.tokenizer}" has no entry in files (no sha256 to verify).`);
  }
  const sp = text.specialTokens;
  if (!isRecord(sp) || !['pad', 'unk', 'bos', 'eos'].every((k) => Number.isInteger(sp[k]) && (sp[k] as number) >= 0)) {
    throw new BundleError('manifest.json: text.specialTokens must give the ids of pad, unk, bos and eos.');
  }
}

/**
 * Validates a parsed `manifest.json` and returns it typed. Throws {@link BundleError} naming the first
 * problem found (unknown version, missing field, unsafe path).
 */
export function parseManifest(json: unknown): BundleManifest {
  if (!isRecord(json)) throw new BundleError('manifest.json must contain a JSON object.');
  if (json.format !== 'vaekit-bundle') {
    throw new BundleError(`manifest.json: format is ${JSON.stringify(json.format)}, expected "vaekit-bundle".`);
  }
  if (json.formatVersion !== BUNDLE_FORMAT_VERSION) {
    throw new BundleError(
      `manifest.json: formatVersion ${JSON.stringify(json.formatVersion)} is not supported. This runtime reads version ${BUNDLE_FORMAT_VERSION}.`,
    );
  }
  if (json.kind !== 'image' && json.kind !== 'text') {
    throw new BundleError(`manifest.json: kind ${JSON.stringify(json.kind)} is not supported. Should be one of: ${BUNDLE_KINDS.join(', ')}.`);
  }
  if (!Number.isInteger(json.latentSize) || (json.latentSize as number) <= 0) {
    throw new BundleError('manifest.json: latentSize must be a positive integer.');
  }
  if (json.kind === 'image') {
    const image = json.image;
    if (
      !isRecord(image) ||
      ![image.height, image.width, image.channels].every((v) => Number.isInteger(v) && (v as number) > 0)
    ) {
      throw new BundleError('manifest.json: image must give positive integer height, width and channels.');
    }
  }
  if (!isRecord(json.graphs)) throw new BundleError('manifest.json: graphs is missing.');
  if (!isRecord(json.files)) throw new BundleError('manifest.json: files is missing.');
  for (const [rel, rec] of Object.entries(json.files)) {
    assertSafeBundlePath(rel);
    if (!isRecord(rec) || typeof rec.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(rec.sha256)) {
      throw new BundleError(`manifest.json: files[${JSON.stringify(rel)}] needs a lower-case hex sha256.`);
    }
  }
  if (json.kind === 'text') checkTextSpec(json.text, json.files);
  checkGraphs('graphs', json.graphs, GRAPH_KEYS[json.kind], json.files);
  if (json.variants !== undefined) {
    if (!isRecord(json.variants)) throw new BundleError('manifest.json: variants must be an object keyed by profile.');
    for (const [profile, v] of Object.entries(json.variants)) {
      if (!isRecord(v) || typeof v.profile !== 'string' || !isRecord(v.graphs)) {
        throw new BundleError(`manifest.json: variants.${profile} must give its profile and graphs.`);
      }
      checkGraphs(`variants.${profile}.graphs`, v.graphs, GRAPH_KEYS[json.kind], json.files);
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
  if (!rec) throw new BundleError(`Bundle file "${relPath}" is not listed in manifest.json.`);
  const actual = await sha256Hex(bytes);
  if (actual !== rec.sha256) {
    throw new BundleError(
      `Bundle file "${relPath}" does not match manifest.json: sha256 is ${actual}, expected ${rec.sha256}. The file was modified or corrupted.`,
    );
  }
}
