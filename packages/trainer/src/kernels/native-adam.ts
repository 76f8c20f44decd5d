/**
 * Fused Adam on the native kernel library: each variable is updated in one pass (one kernel) instead of
 * ~12 element-wise tfjs ops. The arithmetic follows tfjs' `AdamOptimizer.applyGradients` operation by
 * operation in float32 (see native/src/optim.cc), and the optimizer object is tfjs' own: same class, same
 * moment variables and names (`<var>/m`, `<var>/v`), so `getWeights`/`setWeights` and checkpoints are
 * unchanged. Other backends, and runs with the native kernels off, use tfjs' code.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from './native.js';
import { heapF32, makeOutput, refCount } from './wasm-internals.js';

/** Kernel name registered on WASM. */
export const ADAM = 'VaekitAdam';

/** tfjs' AdamOptimizer fields the update reads (not all in the public typings). */
interface AdamLike {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  incrementIterations(): void;
}

let enabled = false;
let patched = false;
let nativeAddon: NativeAddon | undefined;
let updates = 0;

/** How many variable updates ran natively so far (tests check that the fast path really ran). */
export function nativeAdamUpdateCount(): number {
  return updates;
}

/**
 * Updates variable, m and v in their own memory when nothing else shares it (backend refCount 1), which
 * saves three allocations per variable and step; otherwise returns false and the caller allocates.
 */
function updateInPlace(x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, attrs: Record<string, number>): boolean {
  const be = tf.backend();
  if (!nativeAddon) return false;
  if (![x, m, v].every((t) => refCount(be, t.dataId) === 1)) return false;
  const f32 = (t: tf.Tensor) => heapF32(be, t);
  const [xs, ms, vs] = [f32(x), f32(m), f32(v)];
  // Element i is read before it is written, so inputs and outputs may be the same memory.
  nativeAddon.adam(xs, ms, vs, f32(g), xs, ms, vs, x.size, attrs.beta1!, attrs.oneMinusBeta1!, attrs.beta2!, attrs.oneMinusBeta2!,
    attrs.oneMinusAccBeta1!, attrs.oneMinusAccBeta2!, attrs.epsilon!, attrs.negLr!);
  return true;
}

function fusedApply(this: AdamLike, variableGradients: tf.NamedTensorMap | Array<{ name: string; tensor: tf.Tensor }>): void {
  const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
  tf.tidy(() => {
    // tfjs forms these scalars as float32 tensors: sub(1, accBeta), mul(x, beta), mul(g, 1 - beta), ...
    const f = Math.fround;
    const attrs = {
      beta1: f(this.beta1),
      oneMinusBeta1: f(1 - this.beta1),
      beta2: f(this.beta2),
      oneMinusBeta2: f(1 - this.beta2),
      oneMinusAccBeta1: f(1 - this.accBeta1.dataSync()[0]!),
      oneMinusAccBeta2: f(1 - this.accBeta2.dataSync()[0]!),
      epsilon: f(this.epsilon),
      negLr: f(-this.learningRate),
    };
    names.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name]!;
      this.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      this.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      const gradient = Array.isArray(variableGradients) ? variableGradients[i]!.tensor : variableGradients[name];
      if (gradient == null) return;
      const m = this.accumulatedFirstMoment[i]!.variable;
      const v = this.accumulatedSecondMoment[i]!.variable;
      updates++;
      // Never in place for convolution filters (rank 4): the WASM backend's convolutions keep state per
      // filter keyed by the tensor's data id (XNNPACK operators hold a packed copy of the filter), so a
      // filter changed in its own memory went on convolving with stale values. Found by the MNIST
      // classifier of the sample-quality metrics (held-out accuracy 0.61 instead of 0.94); native.test.ts
      // checks a two-conv net against tfjs' Adam bit for bit.
      if (gradient.dtype === 'float32' && value.rank !== 4 && updateInPlace(value, m, v, gradient, attrs)) return;
      const [x2, m2, v2] = tf.engine().runKernel(ADAM, { x: value, m, v, g: gradient }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      m.assign(m2!);
      v.assign(v2!);
      value.assign(x2!);
    });
    this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
    this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
  });
  this.incrementIterations();
}

/** Registers the fused Adam kernel on WASM and routes tfjs' AdamOptimizer through it there. Idempotent. */
export function installNativeAdam(addon: NativeAddon): void {
  nativeAddon = addon;
  if (!tf.getKernel(ADAM, 'wasm')) {
    tf.registerKernel({
      kernelName: ADAM,
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs, backend }) => {
        const be = backend;
        const { x, m, v, g } = inputs as Record<string, tf.TensorInfo>;
        const a = attrs as unknown as Record<string, number>;
        const outs = [x, m, v].map((t) => makeOutput(be, t!.shape, 'float32'));
        const f32 = (t: tf.TensorInfo) => heapF32(be, t);
        addon.adam(f32(x!), f32(m!), f32(v!), f32(g!), f32(outs[0]!), f32(outs[1]!), f32(outs[2]!), tf.util.sizeFromShape(x!.shape),
          a.beta1!, a.oneMinusBeta1!, a.beta2!, a.oneMinusBeta2!, a.oneMinusAccBeta1!, a.oneMinusAccBeta2!, a.epsilon!, a.negLr!);
        return outs;
      },
    });
  }
  enabled = true;
  if (patched) return;
  patched = true;
  const proto = tf.AdamOptimizer.prototype as unknown as { applyGradients(g: unknown): void };
  const original = proto.applyGradients;
  proto.applyGradients = function (this: AdamLike, variableGradients: unknown) {
    const grads = variableGradients as tf.NamedTensorMap | Array<{ name: string; tensor: tf.Tensor }>;
    const all = Array.isArray(grads) ? grads.map((g) => g.tensor) : Object.values(grads);
    const ok = enabled && tf.getBackend() === 'wasm' && all.every((t) => t == null || t.dtype === 'float32');
    if (!ok) return original.call(this, variableGradients);
    return fusedApply.call(this, grads);
  };
}

/** Turns the fused Adam off and on again after {@link installNativeAdam} (tests compare both paths). */
export function setNativeAdamEnabled(on: boolean): void {
  enabled = on && tf.getKernel(ADAM, 'wasm') !== undefined;
}
