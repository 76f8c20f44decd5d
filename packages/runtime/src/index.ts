/**
 * @vaekit/runtime for Node: loads vaekit bundles from a folder and runs them with onnxruntime-node
 * (`cpu`, default) or onnxruntime-web's WASM build (`wasm`).
 *
 * ```ts
 * const vae = await loadVae('bundle/', { kind: 'text' });
 * const [g] = await vae.generate({ n: 1, strategy: 'beam', seed: 1 });
 * await vae.dispose();
 * ```
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertSafeBundlePath, MANIFEST_FILE } from '@vaekit/core';
import { nodeEngine } from './backends/node.js';
import { BundleError } from './errors.js';
import { openBundle, type FileReader } from './load.js';
import { mapReader, urlReader } from './sources.js';
import type { BundleSource, ImageVae, LoadOptions, TextVae, Vae } from './types.js';
import type { TextClassifier } from './classifier.js';
import type { Translator } from './translator.js';

async function folderReader(dir: string): Promise<FileReader> {
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch {
    throw new BundleError(`Bundle folder not found: ${dir}`);
  }
  if (!stat.isDirectory()) throw new BundleError(`${dir} is not a bundle folder (expected a folder containing ${MANIFEST_FILE}).`);
  const root = path.resolve(dir);
  return async (rel: string): Promise<Uint8Array> => {
    assertSafeBundlePath(rel);
    const file = path.join(root, rel);
    try {
      return new Uint8Array(await fs.readFile(file));
    } catch {
      throw new BundleError(rel === MANIFEST_FILE ? `${dir} is not a vaekit bundle: ${MANIFEST_FILE} is missing.` : `Bundle file missing: ${file}`);
    }
  };
}

/**
 * Loads a bundle: a folder path, a `file:` or `http(s):` URL, or its files in memory keyed by relative
 * path. Checks `manifest.json`, verifies every file's sha256 and that the graphs have the inputs and
 * outputs the manifest names, then creates ONNX Runtime sessions on the first backend of
 * `options.backend` that can run them. Throws {@link BundleError} naming the file at fault.
 */
export async function loadVae(source: BundleSource, options: LoadOptions & { kind: 'text' }): Promise<TextVae>;
export async function loadVae(source: BundleSource, options: LoadOptions & { kind: 'image' }): Promise<ImageVae>;
export async function loadVae(source: BundleSource, options: LoadOptions & { kind: 'classifier' }): Promise<TextClassifier>;
export async function loadVae(source: BundleSource, options: LoadOptions & { kind: 'seq2seq' }): Promise<Translator>;
export async function loadVae(source: BundleSource, options?: LoadOptions): Promise<Vae>;
export async function loadVae(source: BundleSource, options: LoadOptions = {}): Promise<Vae | TextClassifier | Translator> {
  let read: FileReader;
  if (typeof source === 'string' && !/^(https?|file):/.test(source)) read = await folderReader(source);
  else if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(String(source));
    read = url.protocol === 'file:' ? await folderReader(fileURLToPath(url)) : urlReader(url);
  } else read = mapReader(source);
  return openBundle(read, nodeEngine, options);
}

export { configureWasm, type WasmSettings } from './backends/web.js';
export * from './common.js';
