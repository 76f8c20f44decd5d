/** ONNX Runtime for Node (onnxruntime-node, CPU execution provider). The only Node module importing ORT. */
import * as ort from 'onnxruntime-node';
import type { Engine, FloatTensor, GraphSession, GraphValueInfo } from '../engine.js';
import type { BackendName, LoadOptions } from '../types.js';

function valueInfo(meta: readonly ort.InferenceSession.ValueMetadata[] | undefined): GraphValueInfo[] {
  return (meta ?? []).flatMap((m) => (m.isTensor ? [{ name: m.name, dtype: m.type, shape: [...m.shape] }] : []));
}

class NodeSession implements GraphSession {
  constructor(private readonly session: ort.InferenceSession) {}
  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }
  get inputInfo(): readonly GraphValueInfo[] {
    return valueInfo(this.session.inputMetadata);
  }
  get outputInfo(): readonly GraphValueInfo[] {
    return valueInfo(this.session.outputMetadata);
  }
  async run(feeds: Record<string, FloatTensor>): Promise<Record<string, FloatTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor('float32', t.data, t.dims);
    const results = await this.session.run(ortFeeds);
    const out: Record<string, FloatTensor> = {};
    for (const [name, t] of Object.entries(results)) {
      out[name] = { data: t.data as Float32Array, dims: [...t.dims] };
      t.dispose();
    }
    return out;
  }
  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The Node engine: `cpu` through onnxruntime-node. */
export const nodeEngine: Engine = {
  backends: ['cpu'] as BackendName[],
  async createSession(model: Uint8Array, _backend: BackendName, options: LoadOptions): Promise<GraphSession> {
    const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
    if (options.threads) sessionOptions.intraOpNumThreads = options.threads;
    return new NodeSession(await ort.InferenceSession.create(model, sessionOptions));
  },
};
