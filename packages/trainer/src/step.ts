/** Optimizer steps that never apply a NaN or infinite update. */
import * as tf from '@tensorflow/tfjs';

/**
 * One optimizer step that refuses non-finite values: computes the loss and gradients, and applies the
 * gradients only when the loss and every gradient are finite. Returns the loss and whether the update
 * was applied. Same arithmetic as `optimizer.minimize` (which is computeGradients + applyGradients).
 */
export async function guardedStep(optimizer: tf.Optimizer, lossFn: () => tf.Scalar): Promise<{ loss: number; applied: boolean }> {
  const { value, grads } = optimizer.computeGradients(lossFn);
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
