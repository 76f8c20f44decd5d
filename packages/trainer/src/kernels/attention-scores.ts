/**
 * The additive (Bahdanau) attention scores of the translator's attention layer as one op with one
 * gradient op on the native kernel library: for the projected queries `qa [B, T, A]` and keys
 * `ka [B, S, A]`, the score vector `v [A]` and the key mask `[B, S]`, returns
 * `scores[b,t,s] = v . tanh(qa[b,t] + ka[b,s])`, shape `[B, T, S]`, what the layer's tfjs ops compute
 * (a broadcast add and a tanh over `[B, T, S, A]`, the largest tensor of the translator's step, whose
 * tfjs WASM tanh is slow). Padded keys (mask 0) are skipped: their score is 0 instead, which the layer's
 * -1e9 penalty turns into the same exactly-zero weight (and zero gradient). Differentiable with respect
 * to `qa`, `ka` and `v`. Checked against the tfjs ops in native.test.ts on every instruction set.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from './native.js';
import { heapF32, makeOutput } from './wasm-internals.js';

/** Kernel names registered on WASM by {@link installNativeAttention}. */
export const ADDITIVE_SCORES = 'VaekitAdditiveScores';
export const ADDITIVE_SCORES_GRAD = 'VaekitAdditiveScoresGrad';

function registerKernels(addon: NativeAddon): void {
  if (tf.getKernel(ADDITIVE_SCORES, 'wasm')) return;
  tf.registerKernel({
    kernelName: ADDITIVE_SCORES,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { qa, ka, v, mask } = inputs as Record<string, tf.TensorInfo>;
      const [B, T, A] = qa!.shape as [number, number, number];
      const S = ka!.shape[1]!;
      // Allocate every output before taking heap views: allocation may grow (and detach) the heap.
      const scores = makeOutput(backend, [B, T, S], 'float32');
      const e = makeOutput(backend, [B, T, S, A], 'float32');
      const f32 = (t: tf.TensorInfo) => heapF32(backend, t);
      addon.additiveScores(f32(qa!), f32(ka!), f32(v!), f32(mask!), f32(scores), f32(e), B, T, S, A);
      return [scores, e];
    },
  });
  tf.registerKernel({
    kernelName: ADDITIVE_SCORES_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { dy, e, v, mask } = inputs as Record<string, tf.TensorInfo>;
      const [B, T, S, A] = e!.shape as [number, number, number, number];
      const dqa = makeOutput(backend, [B, T, A], 'float32');
      const dka = makeOutput(backend, [B, S, A], 'float32');
      const dv = makeOutput(backend, [A], 'float32');
      const f32 = (t: tf.TensorInfo) => heapF32(backend, t);
      addon.additiveScoresGrad(f32(dy!), f32(e!), f32(v!), f32(mask!), f32(dqa), f32(dka), f32(dv), B, T, S, A);
      return [dqa, dka, dv];
    },
  });
}

let enabled = false;
let calls = 0;

/** Registers the fused kernels on WASM. Idempotent. */
export function installNativeAttention(addon: NativeAddon): void {
  registerKernels(addon);
  enabled = true;
}

/** Turns the fused op off and on again after {@link installNativeAttention} (tests compare both paths). */
export function setNativeAttentionEnabled(on: boolean): void {
  enabled = on && tf.getKernel(ADDITIVE_SCORES, 'wasm') !== undefined;
}

/** How many times the fused op ran (tests check that the fast path really ran). */
export function nativeAttentionCallCount(): number {
  return calls;
}

/** Whether {@link additiveScoresNative} can run now (WASM backend active, the native kernels registered). */
export function nativeAttentionAvailable(): boolean {
  return enabled && tf.getBackend() === 'wasm' && tf.getKernel(ADDITIVE_SCORES, 'wasm') !== undefined;
}

/**
 * `scores [B, T, S]` of projected queries `qa [B, T, A]`, keys `ka [B, S, A]`, score vector `v [A]` and
 * key mask `[B, S]` (see the module comment). Call only when {@link nativeAttentionAvailable}; all float32.
 */
export function additiveScoresNative(qa: tf.Tensor3D, ka: tf.Tensor3D, v: tf.Tensor1D, mask: tf.Tensor2D): tf.Tensor3D {
  calls++;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [q, k, vv, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [scores, e] = tf.engine().runKernel(ADDITIVE_SCORES, { qa: q, ka: k, v: vv, mask }, {}) as tf.Tensor[];
    save([e!, vv, mask]);
    return {
      value: scores!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [se, sv, sm] = saved as tf.Tensor[];
        return tf.engine().runKernel(ADDITIVE_SCORES_GRAD, { dy: dy as tf.Tensor, e: se!, v: sv!, mask: sm! }, {}) as tf.Tensor[];
      },
    };
  });
  return op(qa, ka, v) as tf.Tensor3D;
}
