/**
 * Adversarial latent regularisation for the text kind (`--adversarial latent`): the adversarial
 * autoencoder of Makhzani et al. (2015). A critic C, a small MLP on z, learns to tell prior draws
 * z ~ N(0, I) (label 1) from posterior samples z ~ q(z|x) (label 0); the encoder gets the
 * non-saturating "fool C" term -log sigmoid(C(z)) on its samples, which pulls the aggregate posterior
 * q(z) = E_x q(z|x) towards the prior. Two players with their own Adam optimizers: the VAE update (the
 * text kind's own) leaves C fixed, then C is updated on the same posterior samples against fresh prior
 * draws. C's update goes through the run's non-finite guard like any other update.
 */
import * as tf from '@tensorflow/tfjs';
import { SUBSTEPS_PER_STEP, type TextAdversarialConfig, type TextTrainConfig } from '@vaekit/core';
import { TrainerError } from '../errors.js';
import { allFinite } from '../step.js';

/** Name of the critic in checkpoints (`train-critic/`, `optimizer-critic.*`). */
export const CRITIC = 'critic';

/** Throws a {@link TrainerError} naming the bad field of a text run's adversarial configuration. */
export function validateTextAdversarial(a: TextAdversarialConfig, model: TextTrainConfig['model']): void {
  if (a.mode !== 'latent') throw new TrainerError(`Unsupported adversarial mode "${String(a.mode)}" for text runs. Should be one of: latent.`);
  if (model !== 'vae') throw new TrainerError('adversarial latent regularises the encoder of a sentence VAE: model must be vae.');
  if (!(a.weight >= 0) || !Number.isFinite(a.weight)) throw new TrainerError(`adversarial weight must be a number >= 0, got ${a.weight}.`);
  if (!(a.criticLearningRate > 0) || !Number.isFinite(a.criticLearningRate)) throw new TrainerError(`adversarial criticLearningRate must be > 0, got ${a.criticLearningRate}.`);
  if (!Number.isInteger(a.criticHidden) || a.criticHidden <= 0 || a.criticHidden > 65_536) {
    throw new TrainerError(`adversarial criticHidden must be a positive integer (at most 65536), got ${a.criticHidden}.`);
  }
}

/**
 * The critic `z[B, Z] -> logit[B, 1]`: two dense layers of `criticHidden` units with leaky ReLU, then one
 * logit. Seeded from `config.seed` apart from the VAE's initialisers.
 */
export function buildCritic(config: TextTrainConfig & { adversarial: TextAdversarialConfig }): tf.LayersModel {
  let n = 0;
  const init = () => tf.initializers.glorotUniform({ seed: config.seed * 1000 + 700 + n++ });
  const z = tf.input({ shape: [config.latent], name: 'z' });
  let h: tf.SymbolicTensor = z;
  for (let i = 0; i < 2; i++) {
    h = tf.layers.dense({ units: config.adversarial.criticHidden, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.leakyReLU({ alpha: 0.2 }).apply(h) as tf.SymbolicTensor;
  }
  const logit = tf.layers.dense({ units: 1, kernelInitializer: init(), name: 'logit' }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: z, outputs: logit, name: CRITIC });
}

/** Binary cross-entropy of logits `[B, 1]` against a constant target, per example `[B]`. */
function bce(logits: tf.Tensor, target: number): tf.Tensor1D {
  return tf.tidy(() => tf.relu(logits).sub(logits.mul(target)).add(tf.log1p(tf.exp(tf.neg(tf.abs(logits))))).reshape([-1])) as tf.Tensor1D;
}

/**
 * The encoder's adversarial term on posterior samples `z` `[B, Z]`: -log sigmoid(C(z)) per sentence
 * `[B]` (the critic's weights are read, not trained, by the caller's gradient).
 */
export function foolCritic(critic: tf.LayersModel, z: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => bce(critic.apply(z) as tf.Tensor, 1));
}

/** The seed of a step's prior draws for the critic (the last sub-step seed of core's `noiseSeed` block). */
export function criticPriorSeed(noise: number): number {
  return noise + SUBSTEPS_PER_STEP - 1;
}

/**
 * One critic update: prior draws (seeded by `seed`) against the posterior samples `zPost` of the
 * step. Its outcome goes through `accept`, the run's guard (a non-finite critic stops or skips like any
 * update); returns the critic's loss and whether the update was applied.
 */
export async function criticStep(
  critic: tf.LayersModel,
  optimizer: tf.Optimizer,
  zPost: tf.Tensor2D,
  seed: number,
  accept: (outcome: { loss: number; applied: boolean }) => boolean,
): Promise<{ loss: number; applied: boolean }> {
  const zPrior = tf.randomNormal(zPost.shape, 0, 1, 'float32', seed) as tf.Tensor2D;
  try {
    const { value, grads } = optimizer.computeGradients(
      () => tf.mean(bce(critic.apply(zPrior, { training: true }) as tf.Tensor, 1).add(bce(critic.apply(zPost, { training: true }) as tf.Tensor, 0)).mul(0.5)) as tf.Scalar,
      critic.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    const loss = (await value.data())[0]!;
    const finite = allFinite(value, grads);
    value.dispose();
    const applied = accept({ loss, applied: finite });
    if (applied) optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    return { loss, applied };
  } finally {
    zPrior.dispose();
  }
}
