/**
 * ONNX Runtime Web (WASM, WebGL, WebGPU): the only browser module importing ORT. Also runs in Node
 * (onnxruntime-web's Node build, WASM only).
 */
import * as ort from 'onnxruntime-web';
import type { Engine, GraphSession } from '../engine.js';
import type { BackendName, LoadOptions } from '../types.js';
import { OrtGraphSession } from './ort-session.js';

let configuredThreads: number | undefined;

/**
 * Settings of onnxruntime-web that must be made before its first session: where its `.wasm` files
 * are served from (bundlers and static pages usually need this) and how many WASM threads to use
 * (more than one only works on cross-origin isolated pages).
 */
export function configureWasm(settings: { wasmPaths?: string; numThreads?: number }): void {
  if (settings.wasmPaths !== undefined) ort.env.wasm.wasmPaths = settings.wasmPaths;
  if (settings.numThreads !== undefined) ort.env.wasm.numThreads = settings.numThreads;
}

/** The onnxruntime-web engine: `wasm` (default), `webgl`, `webgpu`. */
export const webEngine: Engine = {
  backends: ['wasm', 'webgl', 'webgpu'] as BackendName[],
  async createSession(model: Uint8Array, backend: BackendName, options: LoadOptions): Promise<GraphSession> {
    if (options.threads && configuredThreads === undefined) {
      // onnxruntime-web reads this once, when its WASM module starts.
      ort.env.wasm.numThreads = options.threads;
      configuredThreads = options.threads;
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [backend],
      graphOptimizationLevel: 'all',
    };
    return new OrtGraphSession(await ort.InferenceSession.create(model, sessionOptions), ort.Tensor);
  },
};
