/** Training configuration of an image VAE, stored as `config.json` in the run folder. */
export interface ImageTrainConfig {
  kind: 'image';
  /** `dense`: MLP encoder/decoder; `conv`: Conv2D encoder, Dense + Reshape + Conv2DTranspose decoder. */
  arch: 'dense' | 'conv';
  dataset: 'mnist';
  image: { height: number; width: number; channels: number };
  /** Hidden layer sizes of the dense layers (encoder order; the decoder mirrors them). */
  hidden: number[];
  /** Latent size Z. */
  latent: number;
  /** Weight of the KL term in the loss. */
  beta: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Fraction of the digits held out for testing (fixed by the seed). */
  testFraction: number;
  /** Use at most this many training examples (0 = all); for quick runs and tests. */
  trainLimit: number;
}

/** The image architectures the trainer builds. */
export const IMAGE_ARCHS = ['dense', 'conv'] as const;

/** Defaults: the classic 784-400-20 dense VAE with Adam at 1e-3 (Kingma & Welling). */
export function defaultImageConfig(overrides: Partial<ImageTrainConfig> = {}): ImageTrainConfig {
  const arch = overrides.arch ?? 'dense';
  return {
    kind: 'image',
    arch,
    dataset: 'mnist',
    image: { height: 28, width: 28, channels: 1 },
    hidden: arch === 'dense' ? [400] : [256],
    latent: 20,
    beta: 1,
    epochs: 10,
    batchSize: 128,
    learningRate: 1e-3,
    seed: 42,
    testFraction: 0.1,
    trainLimit: 0,
    ...overrides,
  };
}
