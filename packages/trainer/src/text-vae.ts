/**
 * The forward pass, loss and evaluation of the sentence VAE (and of its language-model baseline, the
 * same decoder with z fixed at 0), shared by training, `vaekit eval` and the tests.
 */
import * as tf from '@tensorflow/tfjs';
import { TEXT_MODEL, createRng, evalSeed } from '@vaekit/core';
import type { TextTrainConfig } from '@vaekit/core';
import { makeBatch, type SentenceSet } from './data/text.js';
import { logitsNll, nativeLogitsNllAvailable } from './kernels/logits-nll.js';
import { gruInference } from './kernels/native-rnn.js';
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
  /** The decoder's logits `[B, T, V]`, when asked for (distillation compares them with a teacher's). */
  logits?: tf.Tensor3D;
}

/** Latent size of a text decoder (its `z` input). */
export function latentSizeOf(decoder: tf.LayersModel): number {
  return decoder.inputs[1]!.shape[1] as number;
}

/**
 * Token cross-entropy of the decoder's logits summed over each sentence's real positions, `[B]`. With
 * vaekit's native kernels on WASM the logits layer and the cross-entropy run as one fused op over the
 * unmasked positions only (`kernels/logits-xent.ts`); elsewhere the decoder's logits go through
 * {@link tokenCrossEntropy}. Both compute the same numbers (native.test.ts). `decoder` is any
 * `tokens_in, z -> logits` model whose logits layer is the text kind's (the text kind's decoder, the
 * classifier kind's `generate` view); `withLogits` also returns the logits (and so never fuses).
 */
export function decoderReconstruction(decoder: tf.LayersModel, batch: TextBatchTensors, z: tf.Tensor2D, training: boolean, withLogits = false): { reconstruction: tf.Tensor1D; logits?: tf.Tensor3D } {
  const split = !withLogits && nativeLogitsXentAvailable() && batch.target.dtype === 'int32' && batch.mask.dtype === 'float32' ? decoderTrunk(decoder) : undefined;
  if (split) {
    const y = split.trunk.apply([batch.decoderInput, z], { training }) as tf.Tensor3D;
    return { reconstruction: logitsCrossEntropyNative(y, split.kernel, split.bias, batch.target, batch.mask) };
  }
  const logits = decoder.apply([batch.decoderInput, z], { training }) as tf.Tensor3D;
  return { reconstruction: tokenCrossEntropy(logits, batch.target, batch.mask), ...(withLogits ? { logits } : {}) };
}

/**
 * Encoder, reparameterization with the given noise `eps` `[B, Z]`, decoder with teacher forcing.
 * The baseline (no encoder) decodes with z = 0. `withLogits` also returns the decoder's logits (the
 * fused logits + cross-entropy kernel never forms them, so it is not used then).
 */
export function textTerms(models: TextModels, batch: TextBatchTensors, eps: tf.Tensor2D, training = false, withLogits = false): TextTerms {
  const b = batch.target.shape[0];
  const latent = latentSizeOf(models.decoder);
  if (!models.encoder) {
    const z = tf.zeros([b, latent]) as tf.Tensor2D;
    return { ...decoderReconstruction(models.decoder, batch, z, training, withLogits), klPerDim: tf.zeros([b, latent]) as tf.Tensor2D };
  }
  const [mu, logvar] = models.encoder.apply(batch.target, { training }) as tf.Tensor2D[];
  const z = reparameterize(mu!, logvar!, eps);
  return { ...decoderReconstruction(models.decoder, batch, z, training, withLogits), klPerDim: gaussianKlPerDim(mu!, logvar!), mu: mu!, logvar: logvar! };
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
  /**
   * Decoder positions per forward pass of the IW bound (default {@link IW_POSITIONS_PER_PASS}, or
   * {@link IW_POSITIONS_PER_PASS_NATIVE} with the native kernels); it changes memory and speed, never the
   * estimate.
   */
  iwPositionsPerPass?: number;
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
    const iw = await importanceWeightedNll(models, set, mus, logvars, { k, seed, batchSize, seqLength: T, ...(options.iwPositionsPerPass ? { positionsPerPass: options.iwPositionsPerPass } : {}) }, (done) =>
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
 * The decoder's logits for the first `L` positions only (`tokensIn` `[B, L]`, `L <= T`), running the
 * decoder's own layers: the decoder is causal, so these equal the first `L` positions of
 * `decoder.apply` over the padded `[B, T]` input, at `L / T` of the cost (the vocabulary projection
 * dominates). Used where every row is shorter than `T` (the importance-weighted bound).
 */
export function decoderLogitsPrefix(decoder: tf.LayersModel, tokensIn: tf.Tensor2D, z: tf.Tensor2D): tf.Tensor3D {
  if (tokensIn.shape[1] === seqLengthOf(decoder)) return decoder.apply([tokensIn, z]) as tf.Tensor3D;
  return tf.tidy(() => decoder.getLayer(TEXT_MODEL.layers.decoder.logits).apply(decoderHiddenPrefix(decoder, tokensIn, z)) as tf.Tensor3D);
}

/**
 * The input of the decoder's logits layer (the recurrent outputs `[B, L, H]`) for the first `L`
 * positions, as {@link decoderLogitsPrefix} computes them before its last layer.
 */
export function decoderHiddenPrefix(decoder: tf.LayersModel, tokensIn: tf.Tensor2D, z: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const { xz, states } = decoderRnnInputs(decoder, tokensIn, z);
    return decoder.getLayer(TEXT_MODEL.layers.decoder.rnn).apply(xz, { initialState: states }) as tf.Tensor3D;
  });
}

/** The decoder's recurrent layer's input `[B, L, E + Z]` and initial state(s) for tokens `[B, L]` and latents `z`. */
function decoderRnnInputs(decoder: tf.LayersModel, tokensIn: tf.Tensor2D, z: tf.Tensor2D): { xz: tf.Tensor3D; states: tf.Tensor2D[] } {
  const L = tokensIn.shape[1];
  const D = TEXT_MODEL.layers.decoder;
  const layer = (name: string) => decoder.getLayer(name);
  const x = layer(D.embedding).apply(tokensIn) as tf.Tensor3D;
  const zs = tf.tile(tf.expandDims(z, 1), [1, L, 1]);
  const xz = layer(D.concat).apply([x, zs]) as tf.Tensor3D;
  const lstm = decoder.layers.some((l) => l.name === D.initC);
  const states = [layer(D.initH).apply(z) as tf.Tensor2D, ...(lstm ? [layer(D.initC).apply(z) as tf.Tensor2D] : [])];
  return { xz, states };
}

/**
 * {@link decoderHiddenPrefix} as a plain array `[B * L * H]`, the recurrent layer run by the native
 * forward-only GRU ({@link gruInference}) when it can, else by the layer itself.
 */
async function decoderHiddenArray(decoder: tf.LayersModel, tokensIn: Int32Array, z: Float32Array, B: number, L: number): Promise<Float32Array> {
  const tokens = tf.tensor2d(tokensIn, [B, L], 'int32');
  const zt = tf.tensor2d(z, [B, z.length / B]);
  try {
    const rnn = decoder.getLayer(TEXT_MODEL.layers.decoder.rnn);
    if (rnn.getClassName() === 'GRU') {
      const inputs = tf.tidy(() => {
        const { xz, states } = decoderRnnInputs(decoder, tokens, zt);
        return [xz, ...states];
      });
      const [xz, h0] = inputs.map((t) => t.dataSync() as Float32Array);
      tf.dispose(inputs);
      const y = gruInference(rnn, xz!, h0!, B, L);
      if (y) return y;
    }
    const y = tf.tidy(() => decoderHiddenPrefix(decoder, tokens, zt));
    const v = (await y.data()) as Float32Array;
    y.dispose();
    return v;
  } finally {
    tf.dispose([tokens, zt]);
  }
}

/** Decoder positions per forward pass of the IW bound (rows times their padded length): bounds the `[rows, L, V]` logits. */
export const IW_POSITIONS_PER_PASS = 4096;

/**
 * The same with the native output-layer kernel ({@link logitsNll}), which never forms the logits: a pass
 * holds only the decoder's `[rows, L, H]` outputs, and larger passes spread its fixed costs (packing the
 * output weights, the tfjs calls of the recurrent part) over more positions.
 */
export const IW_POSITIONS_PER_PASS_NATIVE = 16384;

/** The logits layer's weights as arrays, for {@link logitsNll}; undefined when the native kernel cannot run. */
function nativeOutputLayer(decoder: tf.LayersModel): { kernel: Float32Array; bias: Float32Array; H: number; V: number } | undefined {
  if (!nativeLogitsNllAvailable()) return undefined;
  const split = decoderTrunk(decoder);
  if (!split) return undefined;
  const [H, V] = split.kernel.shape;
  return { kernel: split.kernel.dataSync() as Float32Array, bias: split.bias.dataSync() as Float32Array, H, V };
}

/**
 * -log p(x | z) of each row of a pass: the rows' sentences `rows` decoded with the latents `z`
 * (`[rows, Z]`) over their first `L` positions, summed over each sentence's tokens and `<eos>`. With
 * `out` (the native kernel's weights) the decoder runs up to its logits layer (its GRU natively when it
 * can) and the output layer with the cross-entropy runs natively at the real positions only; otherwise the decoder's logits go through
 * {@link tokenCrossEntropy}.
 */
async function passNll(decoder: tf.LayersModel, rows: Int32Array[], L: number, z: Float32Array, out: ReturnType<typeof nativeOutputLayer>): Promise<ArrayLike<number>> {
  const n = rows.length;
  const latent = z.length / n;
  if (!out) {
    const batch = textBatchTensors(rows, L);
    const recon = tf.tidy(() => tokenCrossEntropy(decoderLogitsPrefix(decoder, batch.decoderInput, tf.tensor2d(z, [n, latent])), batch.target, batch.mask));
    const nll = await recon.data();
    tf.dispose([recon, batch.target, batch.decoderInput, batch.mask]);
    return nll;
  }
  const b = makeBatch(rows, L);
  const yv = await decoderHiddenArray(decoder, b.decoderInput, z, n, L);
  let positions = 0;
  for (const len of b.lengths) positions += len;
  const at = new Int32Array(positions);
  const labels = new Int32Array(positions);
  for (let r = 0, j = 0; r < n; r++) {
    for (let t = 0; t < b.lengths[r]!; t++, j++) {
      at[j] = r * L + t;
      labels[j] = b.target[r * L + t]!;
    }
  }
  const tokenNll = logitsNll(yv, at, labels, out.kernel, out.bias, out.H, out.V);
  const nll = new Float64Array(n);
  for (let r = 0, j = 0; r < n; r++) for (let t = 0; t < b.lengths[r]!; t++, j++) nll[r] = nll[r]! + tokenNll[j]!;
  return nll;
}

/**
 * The IW bound -log p(x) <= -log (1/K) sum_k p(x, z_k) / q(z_k|x), z_k ~ q(z|x), for every sentence, with
 * the posteriors already computed. The samples are drawn sentence by sentence from one seeded stream
 * (so the estimate does not depend on batching); rows of consecutive sentences share forward passes of
 * up to {@link IW_POSITIONS_PER_PASS} positions ({@link IW_POSITIONS_PER_PASS_NATIVE} with the native
 * output-layer kernel), each pass cut to its longest sentence.
 */
async function importanceWeightedNll(
  models: TextModels,
  set: SentenceSet,
  mus: Float32Array,
  logvars: Float32Array,
  options: { k: number; seed: number; batchSize: number; seqLength: number; positionsPerPass?: number },
  onProgress: (done: number) => void,
): Promise<{ total: number }> {
  const { k, seqLength } = options;
  const out = nativeOutputLayer(models.decoder);
  const budget = options.positionsPerPass ?? (out ? IW_POSITIONS_PER_PASS_NATIVE : IW_POSITIONS_PER_PASS);
  const latent = latentSizeOf(models.decoder);
  const rng = createRng(options.seed * 104729 + 13);
  const n = set.ids.length;
  const lengthOf = (i: number) => Math.min(set.ids[i]!.length, seqLength - 1) + 1;
  const logWeights = Array.from({ length: n }, () => new Float64Array(0));
  let total = 0;
  let done = 0;
  // The next sample to draw: sentence `si`, sample `ss`.
  let si = 0;
  let ss = 0;
  while (si < n) {
    // Rows of this pass: (sentence, first sample, count), consecutive in draw order.
    const parts: Array<{ i: number; s0: number; m: number }> = [];
    let rowsInPass = 0;
    let maxLen = 0;
    while (si < n) {
      const len = Math.max(maxLen, lengthOf(si));
      const room = Math.floor(budget / len) - rowsInPass;
      if (room <= 0 && rowsInPass > 0) break;
      const m = Math.min(k - ss, Math.max(1, room));
      parts.push({ i: si, s0: ss, m });
      rowsInPass += m;
      maxLen = len;
      ss += m;
      if (ss === k) {
        si++;
        ss = 0;
      }
    }
    const z = new Float32Array(rowsInPass * latent);
    const rows: Int32Array[] = [];
    let r = 0;
    for (const { i, m } of parts) {
      for (let s = 0; s < m; s++, r++) {
        rows.push(set.ids[i]!);
        for (let d = 0; d < latent; d++) {
          const mu = mus[i * latent + d]!;
          const sd = Math.exp(0.5 * logvars[i * latent + d]!);
          z[r * latent + d] = mu + sd * rng.normal();
        }
      }
    }
    const nll = await passNll(models.decoder, rows, maxLen, z, out);
    r = 0;
    for (const { i, s0, m } of parts) {
      if (s0 === 0) logWeights[i] = new Float64Array(k);
      const w = logWeights[i]!;
      for (let s = 0; s < m; s++, r++) w[s0 + s] = logImportanceWeight(-nll[r]!, z, r * latent, mus, logvars, i * latent, latent);
      if (s0 + m === k) {
        total -= logMeanExp(w);
        logWeights[i] = new Float64Array(0);
      }
    }
    done += rowsInPass;
    onProgress(done);
  }
  return { total };
}
