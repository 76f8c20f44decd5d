// The training benchmark's dense image VAE (784-400-20, batch 128): vaekit's own model and training loss
// (imageTrainingLoss, what the image kind's training step minimises), one Adam step on a fixed batch and
// a fixed noise sample.
import * as tf from '@tensorflow/tfjs';
import { buildImageVae, defaultImageConfig } from '@vaekit/trainer';
import { imageTrainingLoss } from '@vaekit/trainer/internal';

/** Returns an async function running one Adam step (the config's learning rate) and resolving to the loss. */
export function buildDenseStep() {
  const config = defaultImageConfig({ arch: 'dense' });
  const { encoder, decoder } = buildImageVae(config);
  const optimizer = tf.train.adam(config.learningRate);
  const b = config.batchSize;
  const x = tf.tensor2d(Float32Array.from({ length: b * 784 }, (_, i) => ((i * 7919) % 1000) / 1000), [b, 784]);
  const eps = tf.randomNormal([b, config.latent], 0, 1, 'float32', 1);
  return async () => {
    const loss = optimizer.minimize(() => {
      const out = imageTrainingLoss(encoder, decoder, x, eps, config.beta);
      out.sums.dispose();
      return out.loss;
    }, true);
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
}
