/**
 * The VAE objective, in closed form where one exists. All functions return per-example values
 * (shape [B]); the caller averages over the batch.
 */
import * as tf from '@tensorflow/tfjs';
import { bernoulliNllNative, nativeBceAvailable } from './kernels/bce.js';
import { sparseSoftmaxCrossEntropy } from './kernels/softmax-xent.js';

/**
 * Negative log-likelihood of `x` (values in [0, 1]) under Bernoulli(sigmoid(logits)), summed over the
 * features: the numerically stable binary cross-entropy with logits, max(l,0) - l*x + log(1+exp(-|l|)).
 * One fused op each way with vaekit's native kernels on WASM, tfjs ops elsewhere.
 */
export function bernoulliNll(logits: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor1D {
  if (nativeBceAvailable() && logits.dtype === 'float32' && x.dtype === 'float32' && tf.util.arraysEqual(logits.shape, x.shape)) {
    return bernoulliNllNative(logits, x);
  }
  return tf.tidy(() =>
    tf
      .relu(logits)
      .sub(logits.mul(x))
      .add(tf.log1p(tf.exp(tf.neg(tf.abs(logits)))))
      .sum(1),
  ) as tf.Tensor1D;
}

/** KL(N(mu, exp(logvar)) || N(0, I)) in closed form, summed over latent dimensions. */
export function gaussianKl(mu: tf.Tensor2D, logvar: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.mul(-0.5, tf.sum(tf.add(1, logvar).sub(tf.square(mu)).sub(tf.exp(logvar)), 1))) as tf.Tensor1D;
}

/** The reparameterization trick: z = mu + exp(logvar / 2) * eps, with eps ~ N(0, I) given. */
export function reparameterize(mu: tf.Tensor2D, logvar: tf.Tensor2D, eps: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => mu.add(tf.exp(logvar.mul(0.5)).mul(eps))) as tf.Tensor2D;
}

/** Per-example terms of the negative ELBO for one batch. */
export interface ElboTerms {
  /** Reconstruction negative log-likelihood, [B]. */
  reconstruction: tf.Tensor1D;
  /** KL(q(z|x) || p(z)), [B]. */
  kl: tf.Tensor1D;
}

/** Loss to minimise: mean over the batch of reconstruction + beta * KL. */
export function vaeLoss(terms: ElboTerms, beta: number): tf.Scalar {
  return tf.tidy(() => tf.mean(terms.reconstruction.add(terms.kl.mul(beta))) as tf.Scalar);
}

/**
 * Token cross-entropy of a sentence decoder, summed over the real positions of each sentence: for
 * logits `[B,T,V]`, integer targets `[B,T]` and a 0/1 mask `[B,T]` (1 on words and `<eos>`), returns
 * `sum_t mask[b,t] * -log softmax(logits[b,t])[target[b,t]]`, shape `[B]`.
 */
export function tokenCrossEntropy(logits: tf.Tensor3D, target: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const [b, t, v] = logits.shape;
    const nll = sparseSoftmaxCrossEntropy(logits.reshape([b * t, v]) as tf.Tensor2D, target.reshape([b * t]) as tf.Tensor1D);
    return nll.reshape([b, t]).mul(mask).sum(1);
  }) as tf.Tensor1D;
}

/** KL(N(mu, exp(logvar)) || N(0, I)) per example and latent dimension, shape `[B, Z]`. */
export function gaussianKlPerDim(mu: tf.Tensor2D, logvar: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.mul(-0.5, tf.add(1, logvar).sub(tf.square(mu)).sub(tf.exp(logvar)))) as tf.Tensor2D;
}

/**
 * The KL term with free bits (Kingma et al. 2016): the batch-averaged KL of each latent dimension is
 * floored at `lambda` nats, so dimensions below the floor get no gradient pushing them further down.
 * Returns the scalar `sum_d max(lambda, mean_b KL[b,d])`; with `lambda` 0 it is the plain mean KL.
 */
export function freeBitsKl(klPerDim: tf.Tensor2D, lambda: number): tf.Scalar {
  return tf.tidy(() => {
    const perDim = klPerDim.mean(0);
    return (lambda > 0 ? tf.maximum(perDim, lambda) : perDim).sum() as tf.Scalar;
  });
}

/**
 * KL(N(muQ, exp(logvarQ)) || N(muP, exp(logvarP))) per example and dimension, in closed form:
 * `0.5 * (logvarP - logvarQ + (exp(logvarQ) + (muQ - muP)^2) / exp(logvarP) - 1)`. With a standard
 * normal prior it equals {@link gaussianKlPerDim}. Any rank (the attention context's KL is `[B,T,D]`).
 */
export function gaussianKlBetween(muQ: tf.Tensor, logvarQ: tf.Tensor, muP: tf.Tensor, logvarP: tf.Tensor): tf.Tensor {
  return tf.tidy(() =>
    tf.mul(0.5, tf.sub(logvarP, logvarQ).add(tf.exp(logvarQ).add(tf.square(tf.sub(muQ, muP))).div(tf.exp(logvarP))).sub(1)),
  );
}

/** Identity whose gradient is zero (tfjs has no stop_gradient): what flows through it is a constant to the optimizer. */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({ value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as unknown as Parameters<typeof tf.customGrad>[0]) as <T extends tf.Tensor>(x: T) => T;
