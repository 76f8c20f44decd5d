/**
 * Every contact of vaekit's native kernels with private internals of `@tensorflow/tfjs-backend-wasm`:
 * output allocation (`makeOutput`), zero-copy views of the WASM heap (`typedArrayFromHeap`) and the
 * reference count the fused Adam uses to update in place (`refCount`). None of them is in tfjs' public
 * typings, which is what pins tfjs to one exact version: a tfjs upgrade that renames or changes one of
 * them is caught here by {@link checkWasmInternals} at start-up, and the native kernels are then left
 * off (training continues on tfjs' own kernels) instead of computing wrong numbers or crashing.
 *
 * Other modules never cast the backend themselves: they call the functions below.
 */
import * as tf from '@tensorflow/tfjs';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';

/** The private members of tfjs' `BackendWasm` the kernels use (version 4.22). */
interface WasmPrivate {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.TypedArray;
  refCount?(dataId: tf.DataId): number;
}

/** A tfjs backend as kernel functions receive it (typed `{}` there). */
type Backend = object;

const internals = (backend: Backend) => backend as WasmPrivate;

/**
 * Allocates an output tensor in the WASM heap. Allocate every output before taking heap views: growing
 * the heap detaches the views taken earlier.
 */
export function makeOutput(backend: Backend, shape: number[], dtype: tf.DataType = 'float32'): tf.TensorInfo {
  return internals(backend).makeOutput(shape, dtype);
}

/** Frees an output allocated with {@link makeOutput} that the kernel does not return (scratch memory). */
export function releaseOutput(backend: Backend, info: tf.TensorInfo): void {
  (backend as tf.KernelBackend).disposeData(info.dataId, true);
}

/** A float32 view of a tensor's memory in the WASM heap (no copy; writes go to the tensor). */
export function heapF32(backend: Backend, info: tf.TensorInfo): Float32Array {
  return internals(backend).typedArrayFromHeap(info) as Float32Array;
}

/** An int32 view of a tensor's memory in the WASM heap (no copy). */
export function heapI32(backend: Backend, info: tf.TensorInfo): Int32Array {
  return internals(backend).typedArrayFromHeap(info) as Int32Array;
}

/** How many tensors share a data id, or undefined when the backend does not say (then never update in place). */
export function refCount(backend: Backend, dataId: tf.DataId): number | undefined {
  const be = internals(backend);
  return typeof be.refCount === 'function' ? be.refCount(dataId) : undefined;
}

/** The one addon entry point the self-check runs (see native.ts). */
export interface SelfCheckAddon {
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, m: number, n: number, k: number, transposeA: number,
    transposeB: number, batchStrideA: number, batchStrideB: number, bias: Float32Array | null, activation: number, alpha: number): void;
}

/**
 * Start-up self-check of the internals on the active WASM backend: allocates an output with
 * `makeOutput`, runs a 2x3 by 3x2 product through the addon on heap views of int-valued inputs, and reads
 * the result back through tfjs' public `readSync`; also checks an int32 view. Returns undefined when every
 * number is as expected, else one line saying what broke (never throws).
 */
export function checkWasmInternals(addon: SelfCheckAddon): string | undefined {
  const what = `tfjs-backend-wasm ${version_wasm} internals`;
  if (tf.getBackend() !== 'wasm') return `self-check needs the WASM backend (active: ${tf.getBackend()})`;
  const backend = tf.backend();
  const created: tf.DataId[] = [];
  try {
    const be = internals(backend);
    for (const name of ['makeOutput', 'typedArrayFromHeap'] as const)
      if (typeof be[name] !== 'function') return `${what} changed (${name} is not a function)`;
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = tf.tensor2d([7, 8, 9, 10, 11, 12], [3, 2]);
    const labels = tf.tensor1d([3, -1, 7], 'int32');
    try {
      const out = makeOutput(backend, [2, 2], 'float32');
      if (!out || !Array.isArray(out.shape) || out.dataId === undefined) return `${what} changed (makeOutput returned no tensor info)`;
      created.push(out.dataId);
      const c = heapF32(backend, out);
      if (!(c instanceof Float32Array) || c.length !== 4) return `${what} changed (typedArrayFromHeap gave no float32 view of 4 elements)`;
      addon.matmul(heapF32(backend, a), heapF32(backend, b), c, 1, 2, 2, 3, 0, 0, 0, 0, null, 0, 0);
      const got = Array.from(backend.readSync(out.dataId) as Float32Array);
      const want = [58, 64, 139, 154];
      if (got.length !== 4 || got.some((v, i) => v !== want[i]))
        return `${what} changed (a 2x3 by 3x2 product through them gave [${got.join(', ')}], expected [${want.join(', ')}])`;
      const ids = Array.from(heapI32(backend, labels));
      if (ids.join() !== '3,-1,7') return `${what} changed (an int32 heap view read [${ids.join(', ')}], expected [3, -1, 7])`;
      return undefined;
    } finally {
      tf.dispose([a, b, labels]);
    }
  } catch (err) {
    return `${what} changed (${(err as Error).message.split('\n')[0]})`;
  } finally {
    for (const id of created) backend.disposeData(id);
  }
}
