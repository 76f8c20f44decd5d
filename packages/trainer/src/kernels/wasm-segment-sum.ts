/**
 * `UnsortedSegmentSum` for the WASM backend, which lacks it. It is the gradient of Gather, so every
 * Embedding layer needs it to train. tfjs' CPU implementation loops over the segments with whole-tensor
 * ops (O(numSegments x N), about 30 s per call for a 2,000-word vocabulary); this one is one pass.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Sums rows of `x` (`[N, ...inner]`, flattened as `[N, inner]`) into `numSegments` rows by `segmentIds`
 * (`[N]`); ids outside `[0, numSegments)` are dropped, as TensorFlow does.
 */
export function unsortedSegmentSum(
  x: Float32Array | Int32Array,
  segmentIds: Int32Array | Float32Array,
  numSegments: number,
  inner: number,
): Float32Array | Int32Array {
  const out = x instanceof Int32Array ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  const n = segmentIds.length;
  for (let i = 0; i < n; i++) {
    const seg = segmentIds[i]!;
    if (seg < 0 || seg >= numSegments) continue;
    const src = i * inner;
    const dst = seg * inner;
    for (let j = 0; j < inner; j++) out[dst + j]! += x[src + j]!;
  }
  return out;
}

/** Registers the kernel on the WASM backend. Returns false, registering nothing, when it already has one. */
export function registerWasmUnsortedSegmentSum(): boolean {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm')) return false;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const wasm = backend as tf.KernelBackend;
      const x = inputs.x as tf.TensorInfo;
      const ids = inputs.segmentIds as tf.TensorInfo;
      const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
      const idCount = ids.shape.reduce((a, b) => a * b, 1);
      const inner = idCount === 0 ? 0 : x.shape.reduce((a, b) => a * b, 1) / idCount;
      const values = unsortedSegmentSum(
        wasm.readSync(x.dataId) as Float32Array | Int32Array,
        wasm.readSync(ids.dataId) as Int32Array,
        numSegments,
        inner,
      );
      const shape = [numSegments, ...x.shape.slice(ids.shape.length)];
      return { dataId: wasm.write(values, shape, x.dtype), shape, dtype: x.dtype };
    },
  });
  return true;
}
