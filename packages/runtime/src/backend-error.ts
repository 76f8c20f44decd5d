/**
 * Errors about the ONNX Runtime packages rather than the bundle: a missing optional peer dependency, or
 * onnxruntime-web's WebAssembly file that the page could not fetch. Kept apart from the bundle errors
 * so a message never blames the model for a set-up problem.
 */
import { RuntimeError } from './errors.js';

/**
 * The backend cannot start on this machine or page: its ONNX Runtime package is not installed, or its
 * `.wasm` could not be fetched. The message says what to install or configure. A fallback list
 * (`backend: ['cpu', 'wasm']`) moves on to the next backend.
 */
export class BackendUnavailableError extends RuntimeError {
  override name = 'BackendUnavailableError';
  constructor(
    message: string,
    /** The npm package the backend needs, when it is the missing piece (e.g. `onnxruntime-node`). */
    readonly missingPackage?: string,
  ) {
    super(message);
  }
}

/** True when `err` says that the module itself could not be found (Node, or a bundler's runtime stub). */
export function isModuleNotFound(err: unknown, pkg: string): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const message = String(e?.message ?? err);
  if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') return message.includes(pkg);
  return message.includes(pkg) && /cannot find (module|package)|failed to resolve module specifier|could not resolve/i.test(message);
}

/**
 * Imports an optional ONNX Runtime package, turning "not installed" into a one-line
 * {@link BackendUnavailableError} that names the package to install.
 */
export async function importOptional<T>(pkg: string, backend: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (isModuleNotFound(err, pkg)) {
      throw new BackendUnavailableError(
        `The ${backend} backend needs ${pkg}, which is not installed. Install it with: npm install ${pkg}`,
        pkg,
      );
    }
    throw err;
  }
}
