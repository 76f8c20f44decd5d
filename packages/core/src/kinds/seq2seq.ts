/**
 * The contract of the seq2seq kind (the variational attention translator, docs/seq2seq-model.md), in
 * one place for the trainer, the exporter and the runtime: the training configuration (training kind
 * `translate`), the layer and input names of the training graphs, the two ONNX graphs of a `seq2seq`
 * bundle with their tensor names, and the bundle's manifest section `seq2seq`.
 */
import { BundleError, quote } from '../errors.js';
import { isPositiveInt, isRecord } from '../manifest-checks.js';
import type { AnnealConfig } from '../run-config.js';
import { BOS_ID, EOS_ID, PAD_ID, UNK_ID } from '../tokenizer.js';

/** Attention score functions: additive (Bahdanau et al. 2015) or multiplicative ("general", Luong et al. 2015). */
export const ATTENTION_SCORES = ['additive', 'multiplicative'] as const;
/** An attention score function. */
export type AttentionScore = (typeof ATTENTION_SCORES)[number];

/**
 * Attention kinds: `deterministic` (the usual soft attention) or `variational` (Bahuleyan et al. 2018:
 * the context vector is Gaussian, prior N(mean of the encoder states, I), its own KL weight).
 */
export const ATTENTION_KINDS = ['deterministic', 'variational'] as const;
/** An attention kind. */
export type AttentionKind = (typeof ATTENTION_KINDS)[number];

/** Where the parallel sentences of a translation run come from. */
export interface TranslateDataConfig {
  /** A TSV file, one pair a line: `target<TAB>source` as Tatoeba's fra-eng.tsv (English first), see `reverse`. */
  source: string;
  /**
   * The file's columns are `target<TAB>source` (false, the Tatoeba/manythings layout: English first,
   * translate the second column into the first) or `source<TAB>target` (true).
   */
  reverse: boolean;
  /** Keep pairs with at most this many tokens on each side (the standard setting: 12). */
  maxTokens: number;
  /** Vocabulary: words seen at least this often in the training split (standard: 2). */
  minCount: number;
  /** Vocabulary cap per side, special tokens included. */
  maxVocab: number;
  /** Fractions of the unique target sentences held out (group split). Standard 0.05 each. */
  validFraction: number;
  testFraction: number;
  /** Use at most this many training pairs (0 = all). */
  trainLimit: number;
  /** Use at most this many validation and test pairs each (0 = all). */
  evalLimit: number;
}

/** Training configuration of a translator (`config.json`, kind `translate`). */
export interface TranslateTrainConfig {
  kind: 'translate';
  data: TranslateDataConfig;
  /** Embedding size E (both sides). */
  embedding: number;
  /** GRU state size H (each direction of the encoder, and the decoder). */
  hidden: number;
  /** Latent size Z; 0 is the plain attention baseline (no z). */
  latent: number;
  attention: AttentionKind;
  attentionScore: AttentionScore;
  /** Weight of the KL of z once annealing is done. */
  beta: number;
  /** Weight of the KL of the variational attention context (Bahuleyan et al.'s lambda_a). */
  attentionBeta: number;
  anneal: AnnealConfig;
  /** Free bits: per-dimension floor of the KL of z in nats (0 = off). */
  freeBits: number;
  /** Probability of replacing each decoder input word by `<unk>` (weakens the decoder so z is used). */
  wordDropout: number;
  /** A baseline run whose shared weights start this run (VNMT's recipe); absent: fresh weights. */
  init?: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /**
   * Learning rate at the run's last step: the rate falls linearly from `learningRate` at the first step
   * to this at the last (steps of this run's epochs). Absent: constant `learningRate`.
   */
  learningRateFinal?: number;
  /** Clip gradients to this global norm (0 = off). */
  clipNorm: number;
  seed: number;
}

/** A translation configuration with vaekit's defaults for everything not given. */
export function defaultTranslateConfig(overrides: Partial<TranslateTrainConfig> = {}): TranslateTrainConfig {
  const { data, anneal, ...rest } = overrides;
  return {
    kind: 'translate',
    embedding: 128,
    hidden: 256,
    latent: 0,
    attention: 'deterministic',
    attentionScore: 'additive',
    beta: 1,
    attentionBeta: 1,
    freeBits: 0,
    wordDropout: 0,
    epochs: 10,
    batchSize: 64,
    learningRate: 1e-3,
    clipNorm: 5,
    seed: 1,
    ...rest,
    anneal: { schedule: 'linear', steps: 2000, k: 0.0025, x0: 2500, cycles: 4, ratio: 0.5, ...(anneal ?? {}) },
    data: {
      source: '',
      reverse: false,
      maxTokens: 12,
      minCount: 2,
      maxVocab: 20000,
      validFraction: 0.05,
      testFraction: 0.05,
      trainLimit: 0,
      evalLimit: 0,
      ...(data ?? {}),
    },
  };
}

/** The contract of the seq2seq kind. */
export const SEQ2SEQ_MODEL = {
  /** Layer names of the tfjs training graphs that the exporter reads. */
  layers: {
    encoder: {
      embedding: 'src_embedding',
      mask: 'src_mask',
      rnn: 'enc_birnn',
      summary: 'src_summary',
      initH: 'dec_init_h',
      priorHidden: 'prior_hidden',
      priorMu: 'prior_mu',
      priorLogvar: 'prior_logvar',
      postEmbedding: 'post_embedding',
      postRnn: 'post_rnn',
      postConcat: 'post_concat',
      postHidden: 'post_hidden',
      postMu: 'post_mu',
      postLogvar: 'post_logvar',
    },
    decoder: {
      embedding: 'tgt_embedding',
      repeatZ: 'dec_repeat_z',
      concat: 'dec_concat',
      rnn: 'dec_rnn',
      attention: 'attention',
      attentionSample: 'attention_sample',
      output: 'dec_concat_out',
      hidden: 'dec_attentional',
      logits: 'logits',
    },
  },
  /** Input names of the tfjs training graphs. */
  trainingInputs: {
    sourceTokens: 'src_tokens',
    targetTokens: 'tgt_tokens',
    decoderTokens: 'tgt_in',
    encoderStates: 'enc_states',
    mask: 'enc_mask',
    initialState: 'h0',
    z: 'z',
    attentionNoise: 'attention_noise',
  },
  /** The ONNX graphs of a seq2seq bundle and their tensor names. */
  graphs: {
    encoder: {
      file: 'encoder.onnx',
      inputs: { tokens: 'tokens', lengths: 'lengths' },
      outputs: { states: 'encoder_states', mask: 'mask', priorMu: 'prior_mu', priorLogvar: 'prior_logvar', h: 'h' },
    },
    decoderStep: {
      file: 'decoder_step.onnx',
      inputs: { token: 'token', h: 'h', states: 'encoder_states', mask: 'mask', z: 'z', attentionNoise: 'attention_noise' },
      outputs: { logits: 'logits', h: 'h_out', attention: 'attention' },
    },
  },
  /** Ids of the special tokens, the same in every vocabulary. */
  specialIds: { pad: PAD_ID, unk: UNK_ID, bos: BOS_ID, eos: EOS_ID },
  /** The vocabulary files of a translation run folder and of a seq2seq bundle. */
  sourceTokenizerFile: 'source-tokenizer.json',
  targetTokenizerFile: 'target-tokenizer.json',
} as const;

/** The `seq2seq` section of a bundle manifest. */
export interface Seq2SeqSpec {
  attention: AttentionKind;
  attentionScore: AttentionScore;
  sourceVocabSize: number;
  targetVocabSize: number;
  embeddingSize: number;
  hiddenSize: number;
  /** Latent size Z (0: the baseline; the step graph then has no `z` input). */
  latentSize: number;
  /** Longest sentence (tokens, `<eos>` excluded) the model was trained on. */
  maxLength: number;
  specialTokens: { pad: number; unk: number; bos: number; eos: number };
  sourceTokenizer: string;
  targetTokenizer: string;
  /** Language codes when known (e.g. `fr` -> `en`). */
  sourceLanguage?: string;
  targetLanguage?: string;
}

/** The seq2seq kind's part of the bundle format: its two graphs and its manifest section `seq2seq`. */
export const SEQ2SEQ_BUNDLE_KIND = {
  kind: 'seq2seq',
  graphNames: ['encoder', 'decoder_step'],
  latentOptional: true,
  checkSection(manifest: Record<string, unknown>): Array<{ field: string; file: string }> {
    const s = manifest.seq2seq;
    if (!isRecord(s)) throw new BundleError('manifest.json: seq2seq is missing.');
    if (!ATTENTION_KINDS.includes(s.attention as AttentionKind)) {
      throw new BundleError(`manifest.json: seq2seq.attention is ${quote(s.attention)}. Should be one of: ${ATTENTION_KINDS.join(', ')}.`);
    }
    if (!ATTENTION_SCORES.includes(s.attentionScore as AttentionScore)) {
      throw new BundleError(`manifest.json: seq2seq.attentionScore is ${quote(s.attentionScore)}. Should be one of: ${ATTENTION_SCORES.join(', ')}.`);
    }
    for (const key of ['sourceVocabSize', 'targetVocabSize', 'embeddingSize', 'hiddenSize', 'maxLength'] as const) {
      if (!isPositiveInt(s[key])) throw new BundleError(`manifest.json: seq2seq.${key} must be a positive integer.`);
    }
    if (!Number.isInteger(s.latentSize) || (s.latentSize as number) < 0) {
      throw new BundleError('manifest.json: seq2seq.latentSize must be an integer >= 0.');
    }
    if (manifest.latentSize !== s.latentSize) {
      throw new BundleError(`manifest.json: latentSize (${quote(manifest.latentSize)}) and seq2seq.latentSize (${quote(s.latentSize)}) disagree.`);
    }
    const special = s.specialTokens;
    // The ids are fixed by the tokenizer format (tokens 0..3): any other value would feed the graphs ids
    // outside the vocabulary.
    const fixed = { pad: PAD_ID, unk: UNK_ID, bos: BOS_ID, eos: EOS_ID };
    if (!isRecord(special) || !Object.entries(fixed).every(([k, id]) => special[k] === id)) {
      throw new BundleError(`manifest.json: seq2seq.specialTokens must be ${JSON.stringify(fixed)} (the tokenizer's fixed ids).`);
    }
    for (const key of ['sourceTokenizer', 'targetTokenizer'] as const) {
      if (typeof s[key] !== 'string') throw new BundleError(`manifest.json: seq2seq.${key} must name a tokenizer file.`);
    }
    for (const key of ['sourceLanguage', 'targetLanguage'] as const) {
      if (s[key] !== undefined && (typeof s[key] !== 'string' || (s[key] as string).length > 35)) {
        throw new BundleError(`manifest.json: seq2seq.${key} must be a short language tag.`);
      }
    }
    return [
      { field: 'seq2seq.sourceTokenizer', file: s.sourceTokenizer as string },
      { field: 'seq2seq.targetTokenizer', file: s.targetTokenizer as string },
    ];
  },
} as const;
