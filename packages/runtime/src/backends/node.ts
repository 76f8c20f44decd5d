/**
 * ONNX Runtime for Node: `cpu` through onnxruntime-node (the only Node module importing it), and
 * `wasm` through onnxruntime-web's Node build, loaded only when asked for, which runs the same WASM
 * kernels as browsers (useful to check browser results without a browser).
 */
import * as ort from 'onnxruntime-node';
import type { Engine, GraphSession } from '../engine.js';
import type { BackendName, LoadOptions } from '../types.js';
import { OrtGraphSession } from './ort-session.js';

/** The Node engine: `cpu` (default) and `wasm`. */
export const nodeEngine: Engine = {
  backends: ['cpu', 'wasm'] as BackendName[],
  async createSession(model: Uint8Array, backend: BackendName, options: LoadOptions): Promise<GraphSession> {
    if (backend === 'wasm') {
      const { webEngine } = await import('./web.js');
      return webEngine.createSession(model, backend, options);
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
    if (options.threads) sessionOptions.intraOpNumThreads = options.threads;
    return new OrtGraphSession(await ort.InferenceSession.create(model, sessionOptions), ort.Tensor);
  },
};
