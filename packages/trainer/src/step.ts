/** Optimizer steps that never apply a NaN or infinite update. */
import * as tf from '@tensorflow/tfjs';

/** What to do when a batch's loss or gradients are NaN or infinite. */
export type NonFinitePolicy = 'stop' | 'skip';

/** Options of a training run that are not part of its saved configuration. */
export interface TrainOptions {
  /**
   * `stop` (default): stop with a `NonFiniteLossError`, before the bad update is applied; the
   * last complete checkpoint stays the run's newest. `skip`: leave the weights and optimizer state
   * untouched for that batch and go on; more than `maxConsecutiveSkips` in a row stops anyway.
   */
  nonFinite?: NonFinitePolicy;
  /** Consecutive skipped batches after which a `skip` run stops. Default 20. */
  maxConsecutiveSkips?: number;
}

/**
 * One optimizer step that refuses non-finite values: computes the loss and gradients, and applies the
 * gradients only when the loss and every gradient are finite. Returns the loss and whether the update
 * was applied. Same arithmetic as `optimizer.minimize` (which is computeGradients + applyGradients).
 * `varList` limits the update to those variables (default: every trainable variable), as when two
 * players (a VAE and a discriminator) share one graph.
 */
export async function guardedStep(optimizer: tf.Optimizer, lossFn: () => tf.Scalar, varList?: tf.Variable[]): Promise<{ loss: number; applied: boolean }> {
  const { value, grads } = optimizer.computeGradients(lossFn, varList);
  const loss = (await value.data())[0]!;
  const finite = allFinite(value, grads);
  value.dispose();
  if (finite) optimizer.applyGradients(grads);
  tf.dispose(Object.values(grads));
  return { loss, applied: finite };
}

/** True when the loss and every gradient are finite (one device read, no tensors left behind). */
export function allFinite(loss: tf.Scalar, grads: tf.NamedTensorMap): boolean {
  // x * 0 is 0 for every finite x and NaN for NaN or +-Infinity, so one sum checks every element.
  const probe = tf.tidy(() => tf.addN([loss.mul(0), ...Object.values(grads).map((g) => g.mul(0).sum())]).dataSync()[0]!);
  return Number.isFinite(probe);
}

/**
 * Creates an Adam optimizer with the state saved in a checkpoint, exactly as it was. tfjs' `setWeights`
 * sets Adam's bias-correction powers to `pow(beta, t + 1)`, while training keeps them as a running
 * float32 product; the two differ in the last bits for many step counts (e.g. beta2 = 0.999 at t = 5),
 * so resumed runs drifted from uninterrupted ones. The running product is recomputed here instead
 * (float32 multiplication is correctly rounded, so `Math.fround` reproduces the backend's result).
 */
export async function restoreAdam(learningRate: number, weights: Array<{ name: string; tensor: tf.Tensor }>): Promise<tf.AdamOptimizer> {
  const optimizer = tf.train.adam(learningRate);
  await optimizer.setWeights(weights);
  const state = optimizer as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable; beta1: number; beta2: number };
  const product = (beta: number) => {
    const b = Math.fround(beta);
    let acc = b;
    for (let i = 0; i < optimizer.iterations; i++) acc = Math.fround(acc * b);
    return acc;
  };
  tf.tidy(() => {
    state.accBeta1.assign(tf.scalar(product(state.beta1)));
    state.accBeta2.assign(tf.scalar(product(state.beta2)));
  });
  return optimizer;
}
