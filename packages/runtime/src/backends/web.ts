/**
 * ONNX Runtime Web (WASM, WebGL, WebGPU): the only browser module importing ORT. Also runs in Node
 * (onnxruntime-web's Node build, WASM only). onnxruntime-web's main build has WASM and WebGPU; WebGL
 * lives in a separate build (`onnxruntime-web/webgl`), imported only when asked for so pages that do
 * not use it never download it.
 */
import * as ort from 'onnxruntime-web';
import type { Engine, EngineTensor, FloatTensor, GraphSession } from '../engine.js';
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
    if (backend === 'webgl') {
      const gl = await import('onnxruntime-web/webgl');
      const create = async () => new OrtGraphSession(await gl.InferenceSession.create(model, sessionOptions), gl.Tensor);
      return new PerShapeSession(await create(), create);
    }
    return new OrtGraphSession(await ort.InferenceSession.create(model, sessionOptions), ort.Tensor);
  },
};

/** Most input-shape signatures a {@link PerShapeSession} keeps sessions for. */
const MAX_SHAPES = 8;

/**
 * onnxruntime-web's WebGL backend fixes a session's input shapes at its first run and rejects any
 * other shape later (the batch shrinks as sentences finish, encoder inputs vary in length). This keeps
 * one session per input-shape signature, created on first use, the most recent {@link MAX_SHAPES}.
 */
class PerShapeSession implements GraphSession {
  private readonly sessions = new Map<string, Promise<GraphSession>>();
  constructor(
    private readonly first: GraphSession,
    private readonly create: () => Promise<GraphSession>,
  ) {}
  get inputNames(): readonly string[] {
    return this.first.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.first.outputNames;
  }
  async run(feeds: Record<string, EngineTensor>): Promise<Record<string, FloatTensor>> {
    const key = Object.entries(feeds)
      .map(([name, t]) => `${name}:${t.dims.join('x')}`)
      .sort()
      .join(';');
    let session = this.sessions.get(key);
    if (session) {
      this.sessions.delete(key); // re-inserted below: Map order is least recently used first
    } else {
      session = this.sessions.size === 0 && !this.usedFirst ? Promise.resolve(this.first) : this.create();
      this.usedFirst = true;
      if (this.sessions.size >= MAX_SHAPES) {
        const [oldKey, old] = this.sessions.entries().next().value!;
        this.sessions.delete(oldKey);
        void old.then((s) => s.release());
      }
    }
    this.sessions.set(key, session);
    return (await session).run(feeds);
  }
  private usedFirst = false;
  async release(): Promise<void> {
    const all = new Set([...this.sessions.values()]);
    if (!this.usedFirst) all.add(Promise.resolve(this.first));
    this.sessions.clear();
    await Promise.all([...all].map(async (s) => (await s).release()));
  }
}
