/**
 * The translator's forward pass, loss, held-out evaluation and tfjs decoding (greedy, sampling, beam
 * search with core's decoding primitives), shared by training, `vaekit eval` and the benchmark.
 */
import * as tf from '@tensorflow/tfjs';
import {
  SEQ2SEQ_MODEL,
  beamSearch,
  coalesceSteps,
  corpusBleu,
  corpusChrf,
  decodeBatch,
  distinctN,
  evalSeed,
  resolveDecodingOptions,
  selfBleu,
  type DecodingOptions,
  type GeneratedSequence,
  type WordTokenizer,
} from '@vaekit/core';
import { makePairBatch, type PairSet } from './data/parallel.js';
import { logitsCrossEntropyNative, nativeLogitsXentAvailable } from './kernels/logits-xent.js';
import { freeBitsKl, gaussianKlBetween, reparameterize, tokenCrossEntropy } from './losses.js';
import { activeUnits } from './metrics.js';
import { seq2seqDims, type Seq2SeqModels } from './models/seq2seq.js';
import { decoderTrunk } from './models/text.js';

const SPECIAL = SEQ2SEQ_MODEL.specialIds;

/** A padded batch of pairs as tensors. */
export interface PairTensors {
  source: tf.Tensor2D;
  target: tf.Tensor2D;
  decoderInput: tf.Tensor2D;
  targetMask: tf.Tensor2D;
}

/** Uploads a batch of pairs (word dropout on the decoder input when `wordDropout` > 0). */
export function pairTensors(source: readonly Int32Array[], target: readonly Int32Array[], seqLength: number, wordDropout = 0, uniform?: () => number): PairTensors {
  const b = makePairBatch(source, target, seqLength, SPECIAL, wordDropout, uniform);
  const shape: [number, number] = [b.batch, seqLength];
  return {
    source: tf.tensor2d(b.source, shape, 'int32'),
    target: tf.tensor2d(b.target, shape, 'int32'),
    decoderInput: tf.tensor2d(b.decoderInput, shape, 'int32'),
    targetMask: tf.tensor2d(b.targetMask, shape),
  };
}

/** Frees a batch's tensors. */
export function disposePair(b: PairTensors): void {
  tf.dispose([b.source, b.target, b.decoderInput, b.targetMask]);
}

/** The noise of one forward pass: `z` `[B,Z]` and the attention context's `[B,T,2H]` (each when the model has it). */
export interface Seq2SeqNoise {
  z?: tf.Tensor2D;
  attention?: tf.Tensor3D;
}

/** Per-pair terms of one forward pass. */
export interface Seq2SeqTerms {
  /** Token cross-entropy summed over each target sentence, `[B]`. */
  reconstruction: tf.Tensor1D;
  /** KL(q(z|x,y) || p(z|x)) per pair and dimension, `[B,Z]` (absent without a latent). */
  klPerDim?: tf.Tensor2D;
  /** KL of the variational attention context against N(mean encoder state, I), summed over the target, `[B]`. */
  klAttention?: tf.Tensor1D;
  postMu?: tf.Tensor2D;
}

/** Draws the noise of a forward pass from `seed` (nothing for a model without latent and variational attention). */
export function drawNoise(models: Seq2SeqModels, batch: number, seed: number): Seq2SeqNoise {
  const dims = seq2seqDims(models);
  return {
    ...(dims.latent > 0 ? { z: tf.randomNormal([batch, dims.latent], 0, 1, 'float32', seed) as tf.Tensor2D } : {}),
    ...(dims.attention === 'variational' ? { attention: tf.randomNormal([batch, dims.seqLength, 2 * dims.hidden], 0, 1, 'float32', seed + 1) as tf.Tensor3D } : {}),
  };
}

/** Frees a noise draw. */
export function disposeNoise(noise: Seq2SeqNoise): void {
  tf.dispose([noise.z, noise.attention].filter((t) => t !== undefined) as tf.Tensor[]);
}

/**
 * Encoder (with the posterior when there is a latent), z from the posterior with the given noise, the
 * decoder with teacher forcing, the KL terms. Without noise for z the posterior mean is used.
 */
export function seq2seqTerms(models: Seq2SeqModels, batch: PairTensors, noise: Seq2SeqNoise, training = false): Seq2SeqTerms {
  const dims = seq2seqDims(models);
  const encIn = dims.latent > 0 ? [batch.source, batch.target] : [batch.source];
  const enc = models.encoder.apply(encIn, { training }) as tf.Tensor[];
  const [states, mask, summary, h0] = enc as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const decIn: tf.Tensor[] = [batch.decoderInput, states, mask, h0];
  const terms: Partial<Seq2SeqTerms> = {};
  if (dims.latent > 0) {
    const [pMu, pLv, qMu, qLv] = enc.slice(4) as tf.Tensor2D[];
    const z = noise.z ? reparameterize(qMu!, qLv!, noise.z) : qMu!;
    decIn.push(z);
    terms.klPerDim = gaussianKlBetween(qMu!, qLv!, pMu!, pLv!) as tf.Tensor2D;
    terms.postMu = qMu!;
  }
  if (dims.attention === 'variational') decIn.push(noise.attention ?? tf.zeros([batch.source.shape[0], dims.seqLength, 2 * dims.hidden]));
  // With the native kernels the logits layer and the cross-entropy run fused over the real target
  // positions only (the text kind's kernel, kernels/logits-xent.ts); the same numbers either way.
  const split = nativeLogitsXentAvailable() ? decoderTrunk(models.decoder, SEQ2SEQ_MODEL.layers.decoder.logits) : undefined;
  const out = (split ? split.trunk : models.decoder).apply(decIn, { training }) as tf.Tensor[];
  terms.reconstruction = split
    ? logitsCrossEntropyNative(out[0] as tf.Tensor3D, split.kernel, split.bias, batch.target, batch.targetMask)
    : tokenCrossEntropy(out[0] as tf.Tensor3D, batch.target, batch.targetMask);
  if (dims.attention === 'variational') {
    const [ctxMu, ctxLv] = out.slice(2) as tf.Tensor3D[];
    // Bahuleyan et al.'s prior: N(mean of the encoder states, I), the same for every target step.
    const prior = summary.expandDims(1);
    const perStep = gaussianKlBetween(ctxMu!, ctxLv!, prior, tf.zerosLike(prior)).sum(2);
    terms.klAttention = perStep.mul(batch.targetMask).sum(1) as tf.Tensor1D;
  }
  return terms as Seq2SeqTerms;
}

/** The training loss: mean reconstruction + klScale * KL(z) with free bits + attentionScale * mean KL(attention). */
export function seq2seqLoss(terms: Seq2SeqTerms, klScale: number, freeBits: number, attentionScale: number): tf.Scalar {
  return tf.tidy(() => {
    let loss = terms.reconstruction.mean();
    if (terms.klPerDim) loss = loss.add(freeBitsKl(terms.klPerDim, freeBits).mul(klScale));
    if (terms.klAttention) loss = loss.add(terms.klAttention.mean().mul(attentionScale));
    return loss as tf.Scalar;
  });
}

/** Held-out metrics of a translator, per sentence pair in nats unless stated. */
export interface Seq2SeqEvalMetrics {
  pairs: number;
  /** Target tokens scored, `<eos>` included. */
  tokens: number;
  /** Negative ELBO: reconstruction + KL(z) + KL(attention) (one posterior sample); the exact NLL for the baseline. */
  loss: number;
  reconstruction: number;
  /** KL(q(z|x,y) || p(z|x)) per sentence (0 without a latent). */
  kl: number;
  /** KL of the variational attention context per sentence (0 for deterministic attention). */
  klAttention: number;
  /** exp(loss / tokens). */
  ppl: number;
  /** Active units of z (Var of the posterior mean >= 0.01); absent without a latent. */
  au?: number;
}

/** Evaluates the loss terms on `set` (deterministic for a seed). */
export async function evaluateSeq2Seq(
  models: Seq2SeqModels,
  set: PairSet,
  options: { seed?: number; batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Seq2SeqEvalMetrics> {
  const dims = seq2seqDims(models);
  const batchSize = options.batchSize ?? 128;
  const n = set.source.length;
  let recon = 0;
  let kl = 0;
  let klAtt = 0;
  let tokens = 0;
  const mus = new Float32Array(n * dims.latent);
  for (let start = 0; start < n; start += batchSize) {
    const src = set.source.slice(start, start + batchSize);
    const tgt = set.target.slice(start, start + batchSize);
    for (const t of tgt) tokens += Math.min(t.length, dims.seqLength - 1) + 1;
    const batch = pairTensors(src, tgt, dims.seqLength);
    const noise = drawNoise(models, src.length, evalSeed(options.seed ?? 0, start));
    const out = tf.tidy(() => {
      const t = seq2seqTerms(models, batch, noise);
      return [t.reconstruction.sum(), t.klPerDim ? t.klPerDim.sum() : tf.scalar(0), t.klAttention ? t.klAttention.sum() : tf.scalar(0), ...(t.postMu ? [t.postMu] : [])];
    });
    const values = await Promise.all(out.map((x) => x.data()));
    recon += values[0]![0]!;
    kl += values[1]![0]!;
    klAtt += values[2]![0]!;
    if (values[3]) mus.set(values[3], start * dims.latent);
    tf.dispose(out);
    disposePair(batch);
    disposeNoise(noise);
    options.onProgress?.(Math.min(start + batchSize, n), n);
  }
  const loss = (recon + kl + klAtt) / n;
  return {
    pairs: n,
    tokens,
    loss,
    reconstruction: recon / n,
    kl: kl / n,
    klAttention: klAtt / n,
    ppl: Math.exp((recon + kl + klAtt) / tokens),
    ...(dims.latent > 0 && n > 1 ? { au: activeUnits(mus, n, dims.latent).active } : {}),
  };
}

/** Options of {@link translateIds}. */
export interface TfTranslateOptions extends DecodingOptions {
  /**
   * The latent variables: `mean` (default) decodes with the prior mean of z and the mean attention
   * context; `sample` draws z from p(z|x) once per translation and, with variational attention, the
   * context from N(context, exp(logvar)) at every step (different translations from different latents).
   */
  z?: 'mean' | 'sample';
  /** Sentences per forward pass. Default 128. */
  batchSize?: number;
}

interface PrefixState {
  row: number;
  prefix: number[];
  started: boolean;
}

/**
 * Translates source id sequences with the training graphs in tfjs (no ONNX). Each decoder step runs
 * the teacher-forcing decoder on the prefixes (the GRU is causal, so position t's logits depend on the
 * prefix only), which costs O(T) per step but needs no separate step graph; the logits layer runs only
 * at each row's current position, and beam search runs every source's search at once, their
 * hypotheses batched into one decoder call per step. Variational attention
 * decodes with the context mean, as the bundle's default. Returns target ids ending in `<eos>` when
 * it was produced.
 */
export async function translateIds(models: Seq2SeqModels, sources: readonly Int32Array[], options: TfTranslateOptions = {}): Promise<GeneratedSequence[]> {
  const dims = seq2seqDims(models);
  const T = dims.seqLength;
  const o = resolveDecodingOptions({ ...options, maxTokens: Math.min(options.maxTokens ?? T, T) });
  const zMode = options.z ?? 'mean';
  const split = decoderTrunk(models.decoder, SEQ2SEQ_MODEL.layers.decoder.logits);
  let noiseDraw = 0;
  const batchSize = options.batchSize ?? 128;
  const results: GeneratedSequence[] = [];
  for (let start = 0; start < sources.length; start += batchSize) {
    const src = sources.slice(start, start + batchSize);
    const batch = pairTensors(src, src.map(() => new Int32Array(0)), T);
    const enc = tf.tidy(() => {
      const outs = models.encoder.apply(dims.latent > 0 ? [batch.source, batch.target] : [batch.source]) as tf.Tensor[];
      const kept = [outs[0]!, outs[1]!, outs[3]!];
      if (dims.latent > 0) {
        const pMu = outs[4]! as tf.Tensor2D;
        const pLv = outs[5]! as tf.Tensor2D;
        const eps = tf.randomNormal(pMu.shape, 0, 1, 'float32', (o.seed * 7919 + start) >>> 0) as tf.Tensor2D;
        kept.push(zMode === 'sample' ? reparameterize(pMu, pLv, eps) : pMu);
      }
      return kept;
    });
    disposePair(batch);
    const step = async (_tokens: number[], states: PrefixState[]) => {
      const next = states.map((s, i) => ({ row: s.row, prefix: s.started ? [...s.prefix, _tokens[i]!] : [], started: true }));
      const n = next.length;
      const input = new Int32Array(n * T);
      next.forEach((s, i) => {
        input[i * T] = SPECIAL.bos;
        input.set(s.prefix.slice(0, T - 1), i * T + 1);
      });
      const rows = tf.tensor1d(next.map((s) => s.row), 'int32');
      const logits = tf.tidy(() => {
        const decIn: tf.Tensor[] = [tf.tensor2d(input, [n, T], 'int32'), tf.gather(enc[0]!, rows), tf.gather(enc[1]!, rows), tf.gather(enc[2]!, rows)];
        if (dims.latent > 0) decIn.push(tf.gather(enc[3]!, rows));
        if (dims.attention === 'variational') {
          const shape: [number, number, number] = [n, T, 2 * dims.hidden];
          decIn.push(zMode === 'sample' ? tf.randomNormal(shape, 0, 1, 'float32', (o.seed * 104729 + start * 131 + ++noiseDraw) >>> 0) : tf.zeros(shape));
        }
        // Row i's output at position pos[i], gathered from the flattened [n*T, .] before the logits layer
        // when the decoder splits there (only n rows of logits instead of n*T).
        const pos = tf.tensor1d(next.map((s, i) => i * T + Math.min(s.prefix.length, T - 1)), 'int32');
        if (split) {
          const y = (split.trunk.apply(decIn) as tf.Tensor[])[0] as tf.Tensor3D;
          const picked = tf.gather(y.reshape([n * T, y.shape[2]]), pos) as tf.Tensor2D;
          return tf.add(tf.matMul(picked, split.kernel), split.bias);
        }
        const all = (models.decoder.apply(decIn) as tf.Tensor[])[0] as tf.Tensor3D;
        return tf.gather(all.reshape([n * T, dims.targetVocab]), pos);
      });
      rows.dispose();
      const data = (await logits.data()) as Float32Array;
      logits.dispose();
      return { logits: next.map((_, i) => data.subarray(i * dims.targetVocab, (i + 1) * dims.targetVocab)), states: next };
    };
    const initial = src.map((_, i) => ({ row: i, prefix: [], started: false }));
    if (o.strategy === 'beam') {
      // One search per source, all at once: their hypotheses share each decoder call.
      const shared = coalesceSteps(step);
      results.push(...(await Promise.all(initial.map((init) => beamSearch(shared, init, SPECIAL, o)))));
    } else {
      results.push(...(await decodeBatch(step, initial, SPECIAL, o, start)));
    }
    tf.dispose(enc);
  }
  return results;
}

/** Text of generated target ids (stops at `<eos>`, detokenized by the target tokenizer). */
export function idsToText(tokenizer: WordTokenizer, seq: GeneratedSequence): string {
  return tokenizer.decode(seq.tokens);
}

/** Translation quality and diversity of a translator on a set of pairs. */
export interface TranslationScores {
  pairs: number;
  /** sacreBLEU corpus BLEU of greedy decoding (lower-cased: the vocabulary is lower-case). */
  bleuGreedy: number;
  /** The same with beam search (width `beamWidth`). */
  bleuBeam?: number;
  beamWidth?: number;
  chrf: number;
  /** sacreBLEU's signatures of the numbers above. */
  bleuSignature: string;
  chrfSignature: string;
  /**
   * distinct-1/2 and self-BLEU of `samples` translations per source decoded greedily from different latent
   * draws (z ~ p(z|x), and the attention context for variational attention), averaged over `pairs` sources.
   * The baseline has no latent: its samples are identical.
   */
  diversity?: { samples: number; pairs: number; distinct1: number; distinct2: number; selfBleu: number };
  /** A few examples: source, reference, greedy translation. */
  examples: Array<{ source: string; reference: string; translation: string }>;
}

/**
 * BLEU (greedy and beam), chrF and sample diversity on `set`, with sacreBLEU's computation. BLEU is
 * lower-cased (`case:lc` in the signature) because the word vocabulary is.
 */
export async function scoreTranslations(
  models: Seq2SeqModels,
  tokenizer: WordTokenizer,
  set: PairSet,
  options: { beamWidth?: number; beamPairs?: number; diversityPairs?: number; samples?: number; seed?: number; onProgress?: (stage: string) => void } = {},
): Promise<TranslationScores> {
  const refs = set.targetText;
  const greedy = (await translateIds(models, set.source, { strategy: 'greedy' })).map((s) => idsToText(tokenizer, s));
  options.onProgress?.('greedy');
  const bleu = corpusBleu(greedy, refs, { lowercase: true });
  const chrf = corpusChrf(greedy.map((s) => s.toLowerCase()), refs.map((r) => r.toLowerCase()));
  const scores: TranslationScores = {
    pairs: set.source.length,
    bleuGreedy: bleu.score,
    chrf: chrf.score,
    bleuSignature: bleu.signature,
    chrfSignature: `${chrf.signature} (lower-cased)`,
    examples: greedy.slice(0, 5).map((t, i) => ({ source: set.sourceText[i]!, reference: refs[i]!, translation: t })),
  };
  const beamWidth = options.beamWidth ?? 4;
  if (beamWidth > 0) {
    const n = options.beamPairs && options.beamPairs > 0 ? Math.min(options.beamPairs, set.source.length) : set.source.length;
    const beam = (await translateIds(models, set.source.slice(0, n), { strategy: 'beam', beamWidth })).map((s) => idsToText(tokenizer, s));
    scores.bleuBeam = corpusBleu(beam, refs.slice(0, n), { lowercase: true }).score;
    scores.beamWidth = beamWidth;
    options.onProgress?.('beam');
  }
  const diversityPairs = Math.min(options.diversityPairs ?? 100, set.source.length);
  const samples = options.samples ?? 10;
  if (diversityPairs > 0 && samples > 1) {
    let d1 = 0;
    let d2 = 0;
    let sb = 0;
    const rows = set.source.slice(0, diversityPairs).flatMap((s) => Array.from({ length: samples }, () => s));
    const sampled = (await translateIds(models, rows, { strategy: 'greedy', z: 'sample', seed: options.seed ?? 0 })).map((s) => idsToText(tokenizer, s));
    for (let i = 0; i < diversityPairs; i++) {
      const group = sampled.slice(i * samples, (i + 1) * samples);
      d1 += distinctN(group, 1, { lowercase: true });
      d2 += distinctN(group, 2, { lowercase: true });
      sb += selfBleu(group, { lowercase: true });
    }
    scores.diversity = { samples, pairs: diversityPairs, distinct1: d1 / diversityPairs, distinct2: d2 / diversityPairs, selfBleu: sb / diversityPairs };
    options.onProgress?.('diversity');
  }
  return scores;
}
