/**
 * VAE-GAN (Larsen et al. 2016) for the image kind: a convolutional discriminator D, the reconstruction
 * measured in D's hidden features besides the pixels, and a decoder trained to make D call its
 * reconstructions and prior samples real. Two players with their own Adam optimizers and learning
 * rates: the VAE step updates the encoder and decoder only (D fixed), the D step updates D only, with
 * one-sided label smoothing, an optional R1 gradient penalty and a balance rule (D learns only while its
 * loss is above `balance`).
 * Both updates go through the run's non-finite guard, so a diverging D stops or skips like any loss.
 */
import * as tf from '@tensorflow/tfjs';
import { noiseSeed, type ImageAdversarialConfig, type ImageTrainConfig } from '@vaekit/core';
import { TrainerError } from '../errors.js';
import { bernoulliNll, gaussianKl, reparameterize, stopGradient } from '../losses.js';
import { allFinite, guardedStep } from '../step.js';

/** Name of the discriminator in checkpoints (`checkpoints/epoch-N/discriminator`, `optimizer-discriminator.*`). */
export const DISCRIMINATOR = 'discriminator';

/** Throws a {@link TrainerError} naming the bad field of the adversarial configuration. */
export function validateImageAdversarial(a: ImageAdversarialConfig): void {
  if (a.mode !== 'vaegan') throw new TrainerError(`Unsupported adversarial mode "${String(a.mode)}" for image runs. Should be one of: vaegan.`);
  const nonNegative: Array<[string, number]> = [
    ['adversarial weight', a.weight],
    ['adversarial featureWeight', a.featureWeight],
    ['adversarial pixelWeight', a.pixelWeight],
    ['adversarial balance', a.balance],
    ['adversarial gradientPenalty', a.gradientPenalty ?? 0],
    ['adversarial priorWeight', a.priorWeight ?? a.weight],
  ];
  for (const [name, v] of nonNegative) if (!(v >= 0) || !Number.isFinite(v)) throw new TrainerError(`${name} must be a number >= 0, got ${v}.`);
  if (a.featureWeight === 0 && a.pixelWeight === 0) throw new TrainerError('adversarial featureWeight and pixelWeight cannot both be 0 (there would be no reconstruction term).');
  if (!(a.discLearningRate > 0) || !Number.isFinite(a.discLearningRate)) throw new TrainerError(`adversarial discLearningRate must be > 0, got ${a.discLearningRate}.`);
  if (!(a.labelSmoothing >= 0 && a.labelSmoothing < 0.5)) throw new TrainerError(`adversarial labelSmoothing must be in [0, 0.5), got ${a.labelSmoothing}.`);
}

/**
 * The discriminator `x[B, H*W*C] -> [features[B, F], logit[B, 1]]`: two stride-2 convolutions with leaky
 * ReLU (the second one's activations are the features), then one logit. Seeded from `config.seed`
 * apart from the VAE's initialisers. Used with both VAE architectures (dense and conv).
 */
export function buildDiscriminator(config: ImageTrainConfig): tf.LayersModel {
  const { height, width, channels } = config.image;
  let n = 0;
  const init = () => tf.initializers.glorotUniform({ seed: config.seed * 1000 + 500 + n++ });
  const x = tf.input({ shape: [height * width * channels], name: 'x' });
  let h = tf.layers.reshape({ targetShape: [height, width, channels] }).apply(x) as tf.SymbolicTensor;
  for (const filters of [32, 64]) {
    h = tf.layers.conv2d({ filters, kernelSize: 4, strides: 2, padding: 'same', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.leakyReLU({ alpha: 0.2 }).apply(h) as tf.SymbolicTensor;
  }
  const features = tf.layers.flatten({ name: 'features' }).apply(h) as tf.SymbolicTensor;
  const logit = tf.layers.dense({ units: 1, kernelInitializer: init(), name: 'logit' }).apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: [features, logit], name: DISCRIMINATOR });
}

let leakyReluGradReplaced = false;

/**
 * tfjs' LeakyRelu gradient masks with `greater(x, 0)`, which has no gradient itself, so a gradient of a
 * gradient through D fails ("gradient function not found for Greater"). The same gradient written as
 * `dy * step(x, alpha)` (1 where x > 0, alpha elsewhere: equal value for value) is differentiable again;
 * registered once, for the whole process, on the first R1 penalty.
 */
function useTwiceDifferentiableLeakyRelu(): void {
  if (leakyReluGradReplaced) return;
  tf.registerGradient({
    kernelName: 'LeakyRelu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as tf.Tensor[];
      const { alpha } = attrs as unknown as { alpha: number };
      return { x: () => tf.mul(dy as tf.Tensor, tf.step(x!, alpha)) };
    },
  });
  leakyReluGradReplaced = true;
}

/**
 * The R1 penalty `gamma / 2 * mean_b ||d logit(x_b) / d x_b||^2` of discriminator `d` on images `x`
 * (Mescheder et al. 2018), differentiable with respect to D's weights (a gradient of a gradient).
 */
export function r1Penalty(d: tf.LayersModel, x: tf.Tensor2D, gamma: number): tf.Scalar {
  useTwiceDifferentiableLeakyRelu();
  return tf.tidy(() => {
    const gradX = tf.grad((xi: tf.Tensor) => (d.apply(xi, { training: true }) as tf.Tensor[])[1]!.sum())(x);
    return gradX.square().sum(1).mean().mul(gamma / 2) as tf.Scalar;
  });
}

/** Binary cross-entropy of logits `[B, 1]` against a constant target, per example `[B]`. */
function bce(logits: tf.Tensor, target: number): tf.Tensor1D {
  return tf.tidy(() => tf.relu(logits).sub(logits.mul(target)).add(tf.log1p(tf.exp(tf.neg(tf.abs(logits))))).reshape([-1])) as tf.Tensor1D;
}

const variables = (m: tf.LayersModel) => m.trainableWeights.map((w) => w.read() as tf.Variable);

/** The models of a VAE-GAN run. */
export interface VaeganModels {
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
  optimizer: tf.Optimizer;
  discriminator: tf.LayersModel;
  discOptimizer: tf.Optimizer;
}

/** Batch sums of one VAE-GAN step (nats; `disc` is D's mean loss, `discApplied` 1 when D was updated). */
export interface VaeganSums {
  recon: number;
  kl: number;
  feature: number;
  fool: number;
  disc: number;
  discApplied: number;
}

/**
 * One VAE-GAN step on batch `x`: the VAE update, then the D update on the same reconstructions and
 * prior samples. `accept` is the run's guard for the D update (a non-finite D loss stops or skips like
 * any other); the VAE update's outcome is returned for the loop's own guard.
 */
export async function vaeganStep(
  models: VaeganModels,
  config: ImageTrainConfig & { adversarial: ImageAdversarialConfig },
  x: tf.Tensor2D,
  step: number,
  accept: (outcome: { loss: number; applied: boolean }) => boolean,
): Promise<{ loss: number; applied: boolean; sums: VaeganSums }> {
  const a = config.adversarial;
  const { encoder, decoder, discriminator: d } = models;
  const base = noiseSeed(config.seed, step);
  const eps = tf.randomNormal([x.shape[0], config.latent], 0, 1, 'float32', base) as tf.Tensor2D;
  const zPrior = tf.randomNormal([x.shape[0], config.latent], 0, 1, 'float32', base + 1) as tf.Tensor2D;
  let kept: tf.Tensor[] = [];
  try {
    const vae = await guardedStep(
      models.optimizer,
      () => {
        const [mu, logvar] = encoder.apply(x, { training: true }) as tf.Tensor2D[];
        const z = reparameterize(mu!, logvar!, eps);
        const logits = decoder.apply(z, { training: true }) as tf.Tensor2D;
        const recon = tf.sigmoid(logits);
        const prior = tf.sigmoid(decoder.apply(zPrior, { training: true }) as tf.Tensor);
        const [fReal] = d.apply(x) as tf.Tensor[];
        const [fRec, lRecEnd] = d.apply(recon) as tf.Tensor[];
        // Larsen et al.'s split: the decoder alone plays against D (a second pass from a constant z).
        const lRec = a.encoderFool === false ? (d.apply(tf.sigmoid(decoder.apply(stopGradient(z), { training: true }) as tf.Tensor)) as tf.Tensor[])[1] : lRecEnd;
        const [, lPrior] = d.apply(prior) as tf.Tensor[];
        const pixel = bernoulliNll(logits, x);
        const feature = tf.square(fRec!.sub(fReal!)).sum(1).mul(0.5);
        const kl = gaussianKl(mu!, logvar!);
        const foolRec = bce(lRec!, 1);
        const foolPrior = bce(lPrior!, 1);
        kept = [tf.keep(tf.stack([pixel.sum(), kl.sum(), feature.sum(), foolRec.add(foolPrior).sum()])), tf.keep(recon), tf.keep(prior)];
        const fool = foolRec.mul(a.weight).add(foolPrior.mul(a.priorWeight ?? a.weight));
        return tf.mean(pixel.mul(a.pixelWeight).add(feature.mul(a.featureWeight)).add(kl.mul(config.beta)).add(fool)) as tf.Scalar;
      },
      [...variables(encoder), ...variables(decoder)],
    );
    const [sums, recon, prior] = kept as [tf.Tensor, tf.Tensor, tf.Tensor];
    // D's update: real images against the (now fixed) reconstructions and prior samples.
    const { value, grads } = models.discOptimizer.computeGradients(() => {
      const [, lReal] = d.apply(x, { training: true }) as tf.Tensor[];
      const [, lRec] = d.apply(recon, { training: true }) as tf.Tensor[];
      const [, lPrior] = d.apply(prior, { training: true }) as tf.Tensor[];
      const loss = tf.mean(bce(lReal!, 1 - a.labelSmoothing).add(bce(lRec!, 0).add(bce(lPrior!, 0)).mul(0.5))) as tf.Scalar;
      const gamma = a.gradientPenalty ?? 0;
      return gamma > 0 ? (loss.add(r1Penalty(d, x, gamma)) as tf.Scalar) : loss;
    }, variables(d));
    const disc = (await value.data())[0]!;
    const finite = allFinite(value, grads);
    value.dispose();
    let discApplied = 0;
    // A non-finite D update goes through the run's guard (stop, or skip and count).
    if (accept({ loss: disc, applied: finite }) && disc >= a.balance) {
      models.discOptimizer.applyGradients(grads);
      discApplied = 1;
    }
    tf.dispose(Object.values(grads));
    const [recon0, kl, feature, fool] = await sums.data();
    return { ...vae, sums: { recon: recon0!, kl: kl!, feature: feature!, fool: fool!, disc, discApplied } };
  } finally {
    tf.dispose([eps, zPrior, ...kept]);
  }
}
