/**
 * Bernoulli negative log-likelihood with logits, summed over features (the image VAE's reconstruction
 * term), as one native op each way on the WASM backend with vaekit's native kernels: the tfjs-op form
 * costs about 20 element-wise kernels per step (forward and gradient) over the whole image batch.
 */
import * as tf from '@tensorflow/tfjs';

/** Kernel names registered on WASM by the native kernel library. */
export const BCE_LOGITS = 'VaekitBceLogits';
export const BCE_LOGITS_GRAD = 'VaekitBceLogitsGrad';

/** Whether {@link bernoulliNllNative} can run now (WASM backend active, native kernels registered). */
export function nativeBceAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(BCE_LOGITS, 'wasm') !== undefined;
}

/**
 * `sum_d max(l,0) - l*x + log1p(exp(-|l|))` per row of `[N, D]` logits and targets, with gradients
 * `(sigmoid(l) - x) dy` for the logits and `-l dy` for the targets. Call only when
 * {@link nativeBceAvailable}.
 */
export function bernoulliNllNative(logits: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor1D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [l, t, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const loss = tf.engine().runKernel(BCE_LOGITS, { logits: l, x: t }, {}) as tf.Tensor;
    save([l, t]);
    return {
      value: loss,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sl, st] = saved as [tf.Tensor, tf.Tensor];
        return tf.engine().runKernel(BCE_LOGITS_GRAD, { logits: sl, x: st, dy: dy as tf.Tensor }, {}) as tf.Tensor[];
      },
    };
  });
  return op(logits, x) as tf.Tensor1D;
}
