/**
 * Softmax cross-entropy with integer labels, the token reconstruction term of the text VAE, as one op
 * with a hand-written gradient (softmax - onehot). On the WASM backend with vaekit's native kernels it is
 * one fused pass over the logits each way; elsewhere it runs on tfjs ops, still without differentiating
 * through logSumExp's max (whose gradient, a broadcast Equal over [N, V], is slow on WASM).
 */
import * as tf from '@tensorflow/tfjs';

/** Kernel names registered on WASM by the native kernel library. */
export const SOFTMAX_XENT = 'VaekitSoftmaxXent';
export const SOFTMAX_XENT_GRAD = 'VaekitSoftmaxXentGrad';

/**
 * Per-row negative log-likelihood of `labels` under softmax(`logits`):
 * `logsumexp(logits[n, :]) - logits[n, labels[n]]`, shape [N]. Labels outside [0, V) pick no logit
 * (as `tf.oneHot` does), leaving the log-partition. Differentiable with respect to `logits`.
 */
export function sparseSoftmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  const [n, v] = logits.shape;
  if (labels.rank !== 1 || labels.shape[0] !== n) {
    throw new Error(`sparseSoftmaxCrossEntropy: labels must have shape [${n}], got [${labels.shape.join(', ')}].`);
  }
  const ids = labels.dtype === 'int32' ? labels : tf.cast(labels, 'int32');
  const native = tf.getBackend() === 'wasm' && tf.getKernel(SOFTMAX_XENT, 'wasm') !== undefined;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [lg, lb, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    let loss: tf.Tensor;
    let lse: tf.Tensor;
    if (native) {
      [loss, lse] = tf.engine().runKernel(SOFTMAX_XENT, { logits: lg, labels: lb }, {}) as [tf.Tensor, tf.Tensor];
    } else {
      lse = tf.logSumExp(lg, 1);
      loss = lse.sub(tf.sum(lg.mul(tf.oneHot(lb as tf.Tensor1D, v)), 1));
    }
    save([lg, lb, lse]);
    return {
      value: loss,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sl, slb, slse] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
        const g = dy as tf.Tensor1D;
        const dlogits = native
          ? (tf.engine().runKernel(SOFTMAX_XENT_GRAD, { logits: sl, labels: slb, lse: slse, dy: g }, {}) as tf.Tensor)
          : tf.exp(sl.sub(slse.expandDims(1))).sub(tf.oneHot(slb, v)).mul(g.expandDims(1));
        // Labels are integers: their gradient is zero (tfjs wants a float one of the same shape).
        return [dlogits, tf.zeros(slb.shape)];
      },
    };
  });
  return op(logits, ids) as tf.Tensor1D;
}
