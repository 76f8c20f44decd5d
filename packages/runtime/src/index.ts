/**
 * @vaekit/runtime for Node: loads vaekit bundles from a folder and runs them with onnxruntime-node.
 *
 * ```ts
 * const vae = await loadVae('bundle/');
 * const { images } = await vae.sample(16, { seed: 1 });
 * await vae.dispose();
 * ```
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assertSafeBundlePath, MANIFEST_FILE } from './bundle.js';
import { nodeEngine } from './backends/node.js';
import { BundleError } from './errors.js';
import { openBundle } from './load.js';
import type { ImageVae, LoadOptions } from './types.js';

/**
 * Loads the bundle in folder `dir`: checks `manifest.json`, verifies every graph's sha256 and that the
 * graphs have the inputs and outputs the manifest names, then creates ONNX Runtime sessions.
 * Throws {@link BundleError} naming the file at fault.
 */
export async function loadVae(dir: string, options: LoadOptions = {}): Promise<ImageVae> {
  let stat;
  try {
    stat = await fs.stat(dir);
  } catch {
    throw new BundleError(`Bundle folder not found: ${dir}`);
  }
  if (!stat.isDirectory()) throw new BundleError(`${dir} is not a bundle folder (expected a folder containing ${MANIFEST_FILE}).`);
  const root = path.resolve(dir);
  const read = async (rel: string): Promise<Uint8Array> => {
    assertSafeBundlePath(rel);
    const file = path.join(root, rel);
    try {
      return new Uint8Array(await fs.readFile(file));
    } catch {
      throw new BundleError(
        rel === MANIFEST_FILE ? `${dir} is not a vaekit bundle: ${MANIFEST_FILE} is missing.` : `Bundle file missing: ${file}`,
      );
    }
  };
  return openBundle(read, nodeEngine, options);
}

export * from './bundle.js';
export { BundleError, InputError, RuntimeError } from './errors.js';
export { interpolateLatent, samplePrior } from './latent.js';
export { createRng, permutation, type Rng } from './rng.js';
export type * from './types.js';
