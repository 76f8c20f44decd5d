/**
 * The forward pass, loss and evaluation of the sentence VAE (and of its language-model baseline, the
 * same decoder with z fixed at 0), shared by training, `vaekit eval` and the tests.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, evalSeed } from '@vaekit/core';
import type { TextTrainConfig } from '@vaekit/core';
import { makeBatch, type SentenceSet } from './data/text.js';
import { logitsCrossEntropyNative, nativeLogitsXentAvailable } from './kernels/logits-xent.js';
import { freeBitsKl, gaussianKlPerDim, reparameterize, tokenCrossEntropy } from './losses.js';
import { decoderTrunk } from './models/text.js';
import { activeUnits, logImportanceWeight, logMeanExp, mutualInformation } from './metrics.js';

/** The models of a text run; `encoder` is absent for the language-model baseline. */
export interface TextModels {
  encoder?: tf.LayersModel;
  decoder: tf.LayersModel;
}

/** A padded batch as tensors. */
export interface TextBatchTensors {
  target: tf.Tensor2D;
  decoderInput: tf.Tensor2D;
  mask: tf.Tensor2D;
}

/** Uploads a batch of sentences (with word dropout on the decoder input, if any) as tensors. */
export function textBatchTensors(rows: readonly Int32Array[], seqLength: number, wordDropout = 0, uniform?: () => number): TextBatchTensors {
  const b = makeBatch(rows, seqLength, wordDropout, uniform);
  const mask = new Float32Array(b.batch * seqLength);
  b.lengths.forEach((n, i) => mask.fill(1, i * seqLength, i * seqLength + n));
  return {
    target: tf.tensor2d(b.target, [b.batch, seqLength], 'int32'),
    decoderInput: tf.tensor2d(b.decoderInput, [b.batch, seqLength], 'int32'),
    mask: tf.tensor2d(mask, [b.batch, seqLength]),
  };
}

/** Per-sentence terms of one forward pass. */
export interface TextTerms {
  /** Token cross-entropy summed over each sentence, `[B]`. */
  reconstruction: tf.Tensor1D;
  /** KL per sentence and latent dimension, `[B, Z]` (zeros for the baseline). */
  klPerDim: tf.Tensor2D;
  mu?: tf.Tensor2D;
  logvar?: tf.Tensor2D;
}

/** Latent size of a text decoder (its `z` input). */
export function latentSizeOf(decoder: tf.LayersModel): number {
  return decoder.inputs[1]!.shape[1] as number;
}

/**
 * Token cross-entropy of the decoder's logits summed over each sentence's real positions, `[B]`. With
 * vaekit's native kernels on WASM the logits layer and the cross-entropy run as one fused op over the
 * unmasked positions only (`kernels/logits-xent.ts`); elsewhere the decoder's logits go through
 * {@link tokenCrossEntropy}. Both compute the same numbers (native.test.ts).
 */
function reconstruction(decoder: tf.LayersModel, batch: TextBatchTensors, z: tf.Tensor2D, training: boolean): tf.Tensor1D {
  const split = nativeLogitsXentAvailable() && batch.target.dtype === 'int32' && batch.mask.dtype === 'float32' ? decoderTrunk(decoder) : undefined;
  if (split) {
    const y = split.trunk.apply([batch.decoderInput, z], { training }) as tf.Tensor3D;
    return logitsCrossEntropyNative(y, split.kernel, split.bias, batch.target, batch.mask);
  }
  const logits = decoder.apply([batch.decoderInput, z], { training }) as tf.Tensor3D;
  return tokenCrossEntropy(logits, batch.target, batch.mask);
}

/**
 * Encoder, reparameterization with the given noise `eps` `[B, Z]`, decoder with teacher forcing.
 * The baseline (no encoder) decodes with z = 0.
 */
export function textTerms(models: TextModels, batch: TextBatchTensors, eps: tf.Tensor2D, training = false): TextTerms {
  const b = batch.target.shape[0];
  const latent = latentSizeOf(models.decoder);
  if (!models.encoder) {
    const z = tf.zeros([b, latent]) as tf.Tensor2D;
    return { reconstruction: reconstruction(models.decoder, batch, z, training), klPerDim: tf.zeros([b, latent]) as tf.Tensor2D };
  }
  const [mu, logvar] = models.encoder.apply(batch.target, { training }) as tf.Tensor2D[];
  const z = reparameterize(mu!, logvar!, eps);
  return { reconstruction: reconstruction(models.decoder, batch, z, training), klPerDim: gaussianKlPerDim(mu!, logvar!), mu: mu!, logvar: logvar! };
}

/**
 * The training loss: mean over sentences of reconstruction, plus `klScale` times the KL with free bits
 * (per-dimension floor `freeBits`, batch-averaged).
 */
export function textLoss(terms: TextTerms, klScale: number, freeBits: number): tf.Scalar {
  return tf.tidy(() => terms.reconstruction.mean().add(freeBitsKl(terms.klPerDim, freeBits).mul(klScale)) as tf.Scalar);
}

/** Held-out metrics of a sentence VAE (or baseline), per sentence in nats unless stated. */
export interface TextEvalMetrics {
  sentences: number;
  /** Tokens scored, `<eos>` included (the perplexity denominator). */
  tokens: number;
  /** Negative ELBO = reconstruction + KL (one posterior sample per sentence). For the baseline: the exact NLL. */
  elbo: number;
  reconstruction: number;
  kl: number;
  /** Importance-weighted NLL with `k` samples (Burda et al.): a tighter upper bound on -log p(x) than the ELBO. */
  iwNll?: number;
  k?: number;
  /** Perplexity exp(NLL / tokens), from the IW bound when present, else from the negative ELBO. */
  ppl: number;
  /** Which bound `ppl` comes from. */
  pplBound: 'iw' | 'elbo' | 'exact';
  /** Mutual information I_q (nats), see {@link mutualInformation}. */
  mi?: number;
  /** Active units (Var_x E_q[z_d] >= 0.01). */
  au?: number;
}

/** Options of {@link evaluateText}. */
export interface TextEvalOptions {
  seqLength: number;
  /** Importance samples for the IW-NLL; 0 skips it. Default 0. */
  k?: number;
  /** Sentences per forward pass. Default 64. */
  batchSize?: number;
  seed?: number;
  /** Progress: called after each forward pass with the work done and the total, for ETA display. */
  onProgress?: (done: number, total: number, stage: 'elbo' | 'iw') => void;
}

function rowsOf(set: SentenceSet, start: number, count: number): Int32Array[] {
  return set.ids.slice(start, start + count);
}

function seqLengthOf(decoder: tf.LayersModel): number {
  return decoder.inputs[0]!.shape[1] as number;
}

/**
 * Evaluates on `set`: negative ELBO split into reconstruction and KL, mutual information and active
 * units (VAE only), the IW-NLL with `k` samples and the perplexity. Deterministic for a given seed.
 */
export async function evaluateText(models: TextModels, set: SentenceSet, options: TextEvalOptions): Promise<TextEvalMetrics> {
  const batchSize = options.batchSize ?? 64;
  const seed = options.seed ?? 0;
  const k = models.encoder ? (options.k ?? 0) : 0;
  const latent = latentSizeOf(models.decoder);
  const T = seqLengthOf(models.decoder);
  const n = set.ids.length;
  const mus = new Float32Array(n * latent);
  const logvars = new Float32Array(n * latent);
  const samples = new Float32Array(n * latent);
  let recon = 0;
  let kl = 0;
  let tokens = 0;
  const totalWork = n + n * k;
  for (let start = 0; start < n; start += batchSize) {
    const rows = rowsOf(set, start, batchSize);
    for (const r of rows) tokens += Math.min(r.length, T - 1) + 1;
    const batch = textBatchTensors(rows, T);
    const eps = tf.randomNormal([rows.length, latent], 0, 1, 'float32', evalSeed(seed, start)) as tf.Tensor2D;
    const out = tf.tidy(() => {
      const t = textTerms(models, batch, eps);
      const z = t.mu ? reparameterize(t.mu, t.logvar!, eps) : undefined;
      return [t.reconstruction.sum(), t.klPerDim.sum(), t.mu, t.logvar, z].filter((x): x is tf.Tensor => x !== undefined);
    });
    const [r, kk, mu, lv, z] = await Promise.all(out.map((x) => x.data()));
    recon += r![0]!;
    kl += kk![0]!;
    if (mu) {
      mus.set(mu, start * latent);
      logvars.set(lv!, start * latent);
      samples.set(z!, start * latent);
    }
    tf.dispose([...out, batch.target, batch.decoderInput, batch.mask, eps]);
    options.onProgress?.(Math.min(start + batchSize, n), totalWork, 'elbo');
  }
  const metrics: TextEvalMetrics = {
    sentences: n,
    tokens,
    elbo: (recon + kl) / n,
    reconstruction: recon / n,
    kl: kl / n,
    ppl: Math.exp((recon + kl) / tokens),
    pplBound: models.encoder ? 'elbo' : 'exact',
  };
  if (models.encoder && n > 0) {
    metrics.mi = mutualInformation(mus, logvars, samples, n, latent);
    metrics.au = activeUnits(mus, n, latent).active;
  }
  if (k > 0 && n > 0) {
    const iw = await importanceWeightedNll(models, set, mus, logvars, { k, seed, batchSize, seqLength: T }, (done) =>
      options.onProgress?.(n + done, totalWork, 'iw'),
    );
    metrics.iwNll = iw.total / n;
    metrics.k = k;
    metrics.ppl = Math.exp(iw.total / tokens);
    metrics.pplBound = 'iw';
  }
  return metrics;
}

/**
 * The IW bound -log p(x) <= -log (1/K) sum_k p(x, z_k) / q(z_k|x), z_k ~ q(z|x), for every sentence, with
 * the posteriors already computed. The K samples of a sentence are decoded as rows of one batch.
 */
async function importanceWeightedNll(
  models: TextModels,
  set: SentenceSet,
  mus: Float32Array,
  logvars: Float32Array,
  options: { k: number; seed: number; batchSize: number; seqLength: number },
  onProgress: (done: number) => void,
): Promise<{ total: number }> {
  const { k, seqLength } = options;
  const latent = latentSizeOf(models.decoder);
  const rng = createRng(options.seed * 104729 + 13);
  // Rows per forward pass: whole chunks of one sentence's samples.
  const chunk = Math.max(1, Math.min(k, options.batchSize));
  let total = 0;
  let done = 0;
  for (let i = 0; i < set.ids.length; i++) {
    const logWeights = new Float64Array(k);
    for (let s0 = 0; s0 < k; s0 += chunk) {
      const m = Math.min(chunk, k - s0);
      const z = new Float32Array(m * latent);
      for (let s = 0; s < m; s++) {
        for (let d = 0; d < latent; d++) {
          const mu = mus[i * latent + d]!;
          const sd = Math.exp(0.5 * logvars[i * latent + d]!);
          z[s * latent + d] = mu + sd * rng.normal();
        }
      }
      const batch = textBatchTensors(Array.from({ length: m }, () => set.ids[i]!), seqLength);
      const recon = tf.tidy(() => {
        const logits = models.decoder.apply([batch.decoderInput, tf.tensor2d(z, [m, latent])]) as tf.Tensor3D;
        return tokenCrossEntropy(logits, batch.target, batch.mask);
      });
      const nll = await recon.data();
      tf.dispose([recon, batch.target, batch.decoderInput, batch.mask]);
      for (let s = 0; s < m; s++) {
        logWeights[s0 + s] = logImportanceWeight(-nll[s]!, z, s * latent, mus, logvars, i * latent, latent);
      }
      done += m;
      onProgress(done);
    }
    total -= logMeanExp(logWeights);
  }
  return { total };
}
