/**
 * A sentence decoder's output layer and its token cross-entropy as one op with one gradient op, on the
 * native kernel library: for GRU/LSTM outputs `y [B, T, H]`, the logits layer's kernel `[H, V]` and bias
 * `[V]`, integer targets `[B, T]` and a mask `[B, T]`, returns
 * `sum_t mask[b,t] * -log softmax(y[b,t] W + bias)[target[b,t]]` per sentence, shape `[B]`, which is
 * what `tokenCrossEntropy(dense(y))` computes. Only the positions with a non-zero mask are computed: the
 * padding after `<eos>` (a third or more of a batch of sentences of mixed lengths) costs no logits, and
 * the `[B, T, V]` logits tensor, the largest of the step, is never formed in tfjs (nor copied, reshaped
 * and saved for the gradient). Differentiable with respect to `y`, the kernel and the bias; targets and
 * mask are data. Checked against the tfjs ops in native.test.ts on every instruction set.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from './native.js';
import { heapF32, heapI32, makeOutput, releaseOutput } from './wasm-internals.js';

/** Kernel names registered on WASM by {@link installNativeLogitsXent}. */
export const LOGITS_XENT = 'VaekitLogitsXent';
export const LOGITS_XENT_GRAD = 'VaekitLogitsXentGrad';

/** The positions with a non-zero mask, in row-major order, with their weights and targets. */
function positions(mask: Float32Array, target: Int32Array): { rows: Int32Array; weight: Float32Array; labels: Int32Array } {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) n++;
  const rows = new Int32Array(n);
  const weight = new Float32Array(n);
  const labels = new Int32Array(n);
  for (let i = 0, j = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    rows[j] = i;
    weight[j] = mask[i]!;
    labels[j++] = target[i]!;
  }
  return { rows, weight, labels };
}

function registerKernels(addon: NativeAddon): void {
  if (tf.getKernel(LOGITS_XENT, 'wasm')) return;
  tf.registerKernel({
    kernelName: LOGITS_XENT,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { y, kernel, bias, target, mask } = inputs as Record<string, tf.TensorInfo>;
      const [B, T, H] = y!.shape as [number, number, number];
      const V = kernel!.shape[1]!;
      const { rows, weight, labels } = positions(heapF32(backend, mask!), heapI32(backend, target!));
      const N = rows.length;
      // Workspace kept for the gradient: the gathered outputs [N, H], their logits [N, V], log-partitions [N].
      const loss = makeOutput(backend, [B], 'float32');
      const wsInfo = makeOutput(backend, [N * H + N * V + N], 'float32');
      const ws = heapF32(backend, wsInfo);
      const yc = ws.subarray(0, N * H);
      const logits = ws.subarray(N * H, N * H + N * V);
      const lse = ws.subarray(N * H + N * V);
      const yv = heapF32(backend, y!);
      for (let j = 0; j < N; j++) yc.set(yv.subarray(rows[j]! * H, (rows[j]! + 1) * H), j * H);
      const out = heapF32(backend, loss);
      out.fill(0);
      if (N > 0) {
        addon.matmul(yc, heapF32(backend, kernel!), logits, 1, N, V, H, 0, 0, 0, 0, heapF32(backend, bias!), 0, 0);
        const nll = new Float32Array(N);
        addon.softmaxXent(logits, labels, nll, lse, N, V);
        const f = Math.fround;
        for (let j = 0; j < N; j++) {
          const b = Math.floor(rows[j]! / T);
          out[b] = f(out[b]! + f(nll[j]! * weight[j]!));
        }
      }
      return [loss, wsInfo];
    },
  });
  tf.registerKernel({
    kernelName: LOGITS_XENT_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { dy, ws: wsIn, y, kernel, target, mask } = inputs as Record<string, tf.TensorInfo>;
      const [, T, H] = y!.shape as [number, number, number];
      const V = kernel!.shape[1]!;
      const { rows, weight, labels } = positions(heapF32(backend, mask!), heapI32(backend, target!));
      const N = rows.length;
      const dyInfo = makeOutput(backend, y!.shape, 'float32');
      const dwInfo = makeOutput(backend, kernel!.shape, 'float32');
      const dbInfo = makeOutput(backend, [V], 'float32');
      const scratchInfo = makeOutput(backend, [Math.max(1, N * V + N * H)], 'float32');
      try {
        const [dY, dW, db] = [dyInfo, dwInfo, dbInfo].map((t) => heapF32(backend, t)) as [Float32Array, Float32Array, Float32Array];
        dY.fill(0);
        if (N === 0) {
          dW.fill(0);
          db.fill(0);
          return [dyInfo, dwInfo, dbInfo];
        }
        const ws = heapF32(backend, wsIn!);
        const yc = ws.subarray(0, N * H);
        const logits = ws.subarray(N * H, N * H + N * V);
        const lse = ws.subarray(N * H + N * V);
        const scratch = heapF32(backend, scratchInfo);
        const dlogits = scratch.subarray(0, N * V);
        const dyc = scratch.subarray(N * V, N * V + N * H);
        const up = heapF32(backend, dy!);
        const perRow = new Float32Array(N);
        for (let j = 0; j < N; j++) perRow[j] = Math.fround(up[Math.floor(rows[j]! / T)]! * weight[j]!);
        addon.softmaxXentGrad(logits, labels, lse, perRow, dlogits, N, V);
        const w = heapF32(backend, kernel!);
        addon.matmul(yc, dlogits, dW, 1, H, V, N, 1, 0, 0, 0, null, 0, 0);
        addon.sumLeading(dlogits, db, N, V);
        addon.matmul(dlogits, w, dyc, 1, N, H, V, 0, 1, 0, 0, null, 0, 0);
        for (let j = 0; j < N; j++) dY.set(dyc.subarray(j * H, (j + 1) * H), rows[j]! * H);
        return [dyInfo, dwInfo, dbInfo];
      } finally {
        releaseOutput(backend, scratchInfo);
      }
    },
  });
}

let enabled = false;
let calls = 0;

/** Registers the fused kernels on WASM. Idempotent. */
export function installNativeLogitsXent(addon: NativeAddon): void {
  registerKernels(addon);
  enabled = true;
}

/** Turns the fused op off and on again after {@link installNativeLogitsXent} (tests compare both paths). */
export function setNativeLogitsXentEnabled(on: boolean): void {
  enabled = on && tf.getKernel(LOGITS_XENT, 'wasm') !== undefined;
}

/** How many times the fused op ran (tests check that the fast path really ran). */
export function nativeLogitsXentCallCount(): number {
  return calls;
}

/** Whether {@link logitsCrossEntropyNative} can run now (WASM backend active, the native kernels registered). */
export function nativeLogitsXentAvailable(): boolean {
  return enabled && tf.getBackend() === 'wasm' && tf.getKernel(LOGITS_XENT, 'wasm') !== undefined;
}

/**
 * Per-sentence masked token cross-entropy of the logits `y W + bias`, shape `[B]` (see the module
 * comment). Call only when {@link nativeLogitsXentAvailable}; `y`, kernel, bias and mask float32,
 * target int32.
 */
export function logitsCrossEntropyNative(y: tf.Tensor3D, kernel: tf.Tensor2D, bias: tf.Tensor1D, target: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  calls++;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [yt, w, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [loss, ws] = tf.engine().runKernel(LOGITS_XENT, { y: yt, kernel: w, bias: b, target, mask }, {}) as tf.Tensor[];
    save([ws!, yt, w, target, mask]);
    return {
      value: loss!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sws, sy, sw, st, sm] = saved as tf.Tensor[];
        return tf.engine().runKernel(LOGITS_XENT_GRAD, { dy: dy as tf.Tensor, ws: sws!, y: sy!, kernel: sw!, target: st!, mask: sm! }, {}) as tf.Tensor[];
      },
    };
  });
  return op(y, kernel, bias) as tf.Tensor1D;
}
