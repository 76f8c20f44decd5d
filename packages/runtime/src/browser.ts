/**
 * @vaekit/runtime for browsers and edge runtimes: loads vaekit bundles over HTTP (or from files in
 * memory) and runs them with onnxruntime-web on `wasm` (default), `webgl` or `webgpu`. Never imports
 * `fs` or onnxruntime-node.
 *
 * ```ts
 * const vae = await loadVae('/bundle/', { backend: ['webgpu', 'wasm'], kind: 'text' });
 * console.log(vae.backend, (await vae.generate({ n: 3 })).map((g) => g.text));
 * ```
 */
import { configureWasm, webEngine, type WasmSettings } from './backends/web.js';
import { cachedReader, resolveCache } from './cache.js';
import { openBundle } from './load.js';
import { mapReader, urlReader } from './sources.js';
import type { BundleSource, ImageVae, LoadOptions, TextVae, Vae } from './types.js';
import type { TextClassifier } from './classifier.js';
import type { Translator } from './translator.js';

/**
 * Loads a bundle from a base URL (relative URLs resolve against the page) or from its files in memory
 * keyed by relative path. Same checks as in Node: manifest version, every file's sha256 (WebCrypto),
 * paths that stay inside the bundle, graph inputs and outputs.
 */
export async function loadVae(source: BundleSource, options: LoadOptions & { kind: 'text' }): Promise<TextVae>;
export async function loadVae(source: BundleSource, options: LoadOptions & { kind: 'image' }): Promise<ImageVae>;
export async function loadVae(source: BundleSource, options: LoadOptions & { kind: 'classifier' }): Promise<TextClassifier>;
export async function loadVae(source: BundleSource, options: LoadOptions & { kind: 'seq2seq' }): Promise<Translator>;
export async function loadVae(source: BundleSource, options?: LoadOptions): Promise<Vae>;
export async function loadVae(source: BundleSource, options: LoadOptions = {}): Promise<Vae | TextClassifier | Translator> {
  const fromUrl = typeof source === 'string' || source instanceof URL;
  let read = fromUrl ? urlReader(source) : mapReader(source);
  const cache = fromUrl ? resolveCache(options.cache) : undefined;
  if (cache) read = cachedReader(read, cache.storage, cache.name);
  return openBundle(read, webEngine, options);
}

export { configureWasm, type WasmSettings };
export { DEFAULT_CACHE_NAME } from './cache.js';
export * from './common.js';
