/**
 * The vaekit bundle format: the contract between the exporter (which writes bundles) and the runtime
 * (which loads them). This module is platform-neutral: no onnxruntime, no `fs`, no tfjs.
 *
 * A bundle is a folder that a browser can fetch file by file:
 * `manifest.json`, `encoder.onnx`, `decoder.onnx` (image kind).
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

/** `manifest.json` of a bundle. */
export interface BundleManifest {
  format: 'vaekit-bundle';
  formatVersion: number;
  kind: 'image';
  latentSize: number;
  image: ImageSpec;
  opset: number;
  irVersion: number;
  /** Export profile: `default` (all ONNX ops) or later `webgl`. */
  profile: string;
  /** Weight dtype variant, `fp32` for now. */
  dtype: string;
  graphs: { encoder: GraphSpec; decoder: GraphSpec };
  /** Every file of the bundle except the manifest itself, keyed by relative path. */
  files: Record<string, FileRecord>;
  producer: { name: string; version: string };
  createdAt: string;
  parity?: Record<string, ParityReport>;
  training?: TrainingSummary;
}

import { BundleError, quote } from './errors.js';

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
    if (!t.shape.every((d) => (Number.isInteger(d) && (d as number) > 0) || (typeof d === 'string' && d.length > 0))) {
      throw new BundleError(`manifest.json: ${where}[${i}] has shape ${quote(t.shape)}; dimensions must be positive integers or names.`);
    }
    return t as unknown as TensorSpec;
  });
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
  if (json.kind !== 'image') {
    throw new BundleError(`manifest.json: kind ${quote(json.kind)} is not supported. Should be one of: image.`);
  }
  if (!Number.isInteger(json.latentSize) || (json.latentSize as number) <= 0) {
    throw new BundleError('manifest.json: latentSize must be a positive integer.');
  }
  const image = json.image;
  if (
    !isRecord(image) ||
    ![image.height, image.width, image.channels].every((v) => Number.isInteger(v) && (v as number) > 0)
  ) {
    throw new BundleError('manifest.json: image must give positive integer height, width and channels.');
  }
  if (!isRecord(json.graphs)) throw new BundleError('manifest.json: graphs is missing.');
  if (!isRecord(json.files)) throw new BundleError('manifest.json: files is missing.');
  for (const [rel, rec] of Object.entries(json.files)) {
    assertSafeBundlePath(rel);
    if (!isRecord(rec) || typeof rec.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(rec.sha256)) {
      throw new BundleError(`manifest.json: files[${quote(rel)}] needs a lower-case hex sha256.`);
    }
  }
  for (const name of ['encoder', 'decoder'] as const) {
    const g = json.graphs[name];
    if (!isRecord(g) || typeof g.file !== 'string') {
      throw new BundleError(`manifest.json: graphs.${name} must name its file.`);
    }
    assertSafeBundlePath(g.file);
    if (!(g.file in json.files)) {
      throw new BundleError(`manifest.json: graphs.${name}.file ${quote(g.file)} has no entry in files (no sha256 to verify).`);
    }
    checkTensorSpecs(`graphs.${name}.inputs`, g.inputs);
    checkTensorSpecs(`graphs.${name}.outputs`, g.outputs);
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
