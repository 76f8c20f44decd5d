/**
 * `UnsortedSegmentSum` for the WASM backend, which lacks it (it is the gradient of Embedding / gather).
 * Bridging tfjs' CPU implementation is unusable here: that one loops over segments with tensor ops, so a
 * 5000-word vocabulary costs minutes per step. This kernel is one pass over the rows, in JS on views of
 * the WASM heap (no copies).
 */
import * as tf from '@tensorflow/tfjs';

interface WasmBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Registers the kernel on WASM unless one is registered already. Returns whether it registered. */
export function registerWasmUnsortedSegmentSum(): boolean {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm')) return false;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: (args) => {
      const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const { numSegments } = args.attrs as unknown as { numSegments: number };
      const backend = args.backend as WasmBackend;
      // tfjs' op guarantees int32 ids covering the leading dimensions of x.
      const rows = size(segmentIds.shape);
      const rest = x.shape.slice(segmentIds.shape.length);
      const inner = size(rest);
      const out = backend.makeOutput([numSegments, ...rest], x.dtype);
      // Views after the allocation: growing the heap detaches earlier ones.
      const values = backend.typedArrayFromHeap(x);
      const ids = backend.typedArrayFromHeap(segmentIds);
      const result = backend.typedArrayFromHeap(out);
      result.fill(0);
      for (let r = 0; r < rows; r++) {
        const s = ids[r]!;
        if (s < 0 || s >= numSegments) continue;
        const src = r * inner;
        const dst = s * inner;
        for (let j = 0; j < inner; j++) result[dst + j]! += values[src + j]!;
      }
      return out;
    },
  });
  return true;
}
