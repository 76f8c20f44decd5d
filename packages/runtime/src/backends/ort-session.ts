/**
 * The adapter from an ORT `InferenceSession` (either package: onnxruntime-node and onnxruntime-web
 * share the onnxruntime-common API) to {@link GraphSession}. Takes the `Tensor` constructor so that
 * this file imports neither package.
 */
import type { InferenceSession, Tensor, TypedTensor } from 'onnxruntime-common';
import type { EngineTensor, GraphSession, GraphValueInfo } from '../engine.js';

type TensorCtor = new (type: 'float32' | 'int32', data: Float32Array | Int32Array, dims: readonly number[]) => Tensor;

/** Declared tensor types and shapes (undefined when this ORT build does not expose metadata). */
function valueInfo(meta: readonly InferenceSession.ValueMetadata[] | undefined): GraphValueInfo[] | undefined {
  if (!meta) return undefined;
  return meta.flatMap((m) => (m.isTensor ? [{ name: m.name, dtype: m.type, shape: [...m.shape] }] : []));
}

/** Wraps an ORT session; ORT tensors are created and disposed here and never leave. */
export class OrtGraphSession implements GraphSession {
  constructor(
    private readonly session: InferenceSession,
    private readonly TensorClass: TensorCtor,
  ) {}
  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }
  get inputInfo(): readonly GraphValueInfo[] | undefined {
    return valueInfo(this.session.inputMetadata);
  }
  get outputInfo(): readonly GraphValueInfo[] | undefined {
    return valueInfo(this.session.outputMetadata);
  }
  async run(feeds: Record<string, EngineTensor>, fetches?: readonly string[]): Promise<Record<string, EngineTensor>> {
    const ortFeeds: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = new this.TensorClass(t.data instanceof Int32Array ? 'int32' : 'float32', t.data, t.dims);
    }
    const results = await (fetches ? this.session.run(ortFeeds, fetches) : this.session.run(ortFeeds));
    const out: Record<string, EngineTensor> = {};
    for (const [name, t] of Object.entries(results)) {
      // GPU backends may hand back data that lives on the device; getData() downloads it.
      const data = (t.location === 'cpu' || t.location === undefined ? t.data : await t.getData()) as Float32Array | Int32Array;
      const plain = data instanceof Float32Array || data instanceof Int32Array ? data : Float32Array.from(data as unknown as ArrayLike<number>);
      out[name] = { data: plain, dims: [...t.dims] };
      (t as TypedTensor<'float32'>).dispose();
    }
    return out;
  }
  async release(): Promise<void> {
    await this.session.release();
  }
}
