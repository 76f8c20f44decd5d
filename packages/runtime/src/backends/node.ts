/**
 * ONNX Runtime for Node: `cpu` through onnxruntime-node (the only Node module importing it), and
 * `wasm` through onnxruntime-web's Node build, loaded only when asked for, which runs the same WASM
 * kernels as browsers (useful to check browser results without a browser). Both packages are optional
 * peer dependencies of @vaekit/runtime: each is imported on first use, and a missing one is reported
 * by name.
 */
import type * as OrtNode from 'onnxruntime-node';
import { importOptional } from '../backend-error.js';
import type { Engine, GraphSession } from '../engine.js';
import type { BackendName, LoadOptions } from '../types.js';
import { OrtGraphSession } from './ort-session.js';

let ortNode: Promise<typeof OrtNode> | undefined;

/** onnxruntime-node, imported once; a missing package throws {@link BackendUnavailableError}. */
function loadOrtNode(): Promise<typeof OrtNode> {
  ortNode ??= importOptional('onnxruntime-node', 'cpu', () => import('onnxruntime-node')).catch((err: unknown) => {
    ortNode = undefined; // installed later in a long-lived process: try again next time
    throw err;
  });
  return ortNode;
}

/** The Node engine: `cpu` (default) and `wasm`. */
export const nodeEngine: Engine = {
  backends: ['cpu', 'wasm'] as BackendName[],
  async createSession(model: Uint8Array, backend: BackendName, options: LoadOptions): Promise<GraphSession> {
    if (backend === 'wasm') {
      const { nodeWasmEngine } = await import('./web.js');
      return nodeWasmEngine.createSession(model, backend, options);
    }
    const ort = await loadOrtNode();
    const sessionOptions: OrtNode.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
    if (options.threads) sessionOptions.intraOpNumThreads = options.threads;
    return new OrtGraphSession(await ort.InferenceSession.create(model, sessionOptions), ort.Tensor);
  },
};
