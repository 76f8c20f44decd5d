/**
 * BLEU and chrF exactly as sacreBLEU 2.6.0 computes them (Post, 2018, "A Call for Clarity in Reporting
 * BLEU Scores"): the `13a` tokenizer (mteval-v13a), corpus BLEU with its smoothing methods (default
 * `exp`), sentence BLEU with its defaults (effective order, `exp`), chrF (character 6-grams, beta 2,
 * whitespace removed) and the signature strings sacreBLEU prints. Pure TypeScript: runs in Node and
 * browsers. Checked value by value against sacreBLEU's own output in `bleu.test.ts`.
 */
import { InputError } from '../errors.js';

/** The sacreBLEU version whose computation this module reproduces (it appears in every signature). */
export const SACREBLEU_VERSION = '2.6.0';

/** Tokenizers of {@link corpusBleu}: sacreBLEU's default `13a`, or `none` (split on whitespace only). */
export type BleuTokenizer = '13a' | 'none';

/** BLEU's smoothing methods, as sacreBLEU names them (Chen and Cherry, 2014). */
export type BleuSmoothing = 'none' | 'floor' | 'add-k' | 'exp';

/** Options of {@link corpusBleu} and {@link sentenceBleu}; the defaults are sacreBLEU's. */
export interface BleuOptions {
  /** Lower-case hypotheses and references first. Default false (`case:mixed`). */
  lowercase?: boolean;
  /** Default `13a`. */
  tokenize?: BleuTokenizer;
  /** Default `exp`. */
  smoothMethod?: BleuSmoothing;
  /** The value of `floor` (default 0.1) and `add-k` (default 1) smoothing; unused by the others. */
  smoothValue?: number;
  /**
   * Average the log precisions only up to the highest n-gram order the hypothesis has. Default false
   * for {@link corpusBleu}, true for {@link sentenceBleu} (sacreBLEU's `sentence_bleu` defaults).
   */
  effectiveOrder?: boolean;
  /** Highest n-gram order. Default 4. */
  maxNgramOrder?: number;
}

/** A BLEU score with the statistics it came from, field for field as sacreBLEU's `BLEUScore`. */
export interface BleuScore {
  /** BLEU in [0, 100]. */
  score: number;
  /** Matched n-grams of each order (clipped by the references). */
  counts: number[];
  /** Hypothesis n-grams of each order. */
  totals: number[];
  /** n-gram precisions in percent (smoothed where the method says so). */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** Hypothesis length in tokens. */
  sysLen: number;
  /** Reference length in tokens (the closest reference of each segment, shorter on ties). */
  refLen: number;
  /** sacreBLEU's signature, e.g. `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`. */
  signature: string;
}

/** Options of {@link corpusChrf}; the defaults are sacreBLEU's `CHRF()`. */
export interface ChrfOptions {
  /** Character n-gram order. Default 6. */
  charOrder?: number;
  /** Word n-gram order (2 gives chrF++). Default 0. */
  wordOrder?: number;
  /** Recall weight. Default 2. */
  beta?: number;
  /** Default false. */
  lowercase?: boolean;
  /** Keep whitespace in character n-grams. Default false. */
  whitespace?: boolean;
  /** The epsilon smoothing of the chrF++.py script instead of sacreBLEU's effective order. Default false. */
  epsSmoothing?: boolean;
}

/** A chrF score and sacreBLEU's signature for it. */
export interface ChrfScore {
  /** chrF in [0, 100]. */
  score: number;
  /** e.g. `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0`. */
  signature: string;
}

const SMOOTH_DEFAULTS: Record<BleuSmoothing, number | undefined> = {
  none: undefined,
  floor: 0.1,
  'add-k': 1,
  exp: undefined,
};

// mteval-v13a's regular expressions, in sacreBLEU's order (sacrebleu/tokenizers/tokenizer_re.py).
const RE_SYMBOLS = /([{-~[-` -&(-+:-@/])/g;
const RE_PERIOD_COMMA_AFTER_NON_DIGIT = /([^0-9])([.,])/g;
const RE_PERIOD_COMMA_BEFORE_NON_DIGIT = /([.,])([^0-9])/g;
const RE_DASH_AFTER_DIGIT = /([0-9])(-)/g;
// Python's str.split() with no argument: runs of Unicode whitespace, including U+001C..U+001F, which
// JavaScript's \s leaves out.
const PY_WHITESPACE = /[\s\x1c-\x1f\x85]+/u;

/** Python's `str.split()`: the non-empty pieces between runs of whitespace. */
function pySplit(text: string): string[] {
  return text.split(PY_WHITESPACE).filter((piece) => piece.length > 0);
}

/** Python's `str.rstrip()` (trailing whitespace). */
function pyRstrip(text: string): string {
  return text.replace(/[\s\x1c-\x1f\x85]+$/u, '');
}

/**
 * sacreBLEU's `13a` tokenizer (the mteval-v13a.pl tokenization): unescapes a few HTML entities, splits
 * off punctuation and symbols, periods and commas unless beside a digit, and dashes after a digit.
 * Returns the tokens joined by single spaces.
 */
export function tokenize13a(line: string): string {
  let text = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (text.includes('&')) {
    text = text.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  text = ` ${text} `;
  text = text.replace(RE_SYMBOLS, ' $1 ');
  text = text.replace(RE_PERIOD_COMMA_AFTER_NON_DIGIT, '$1 $2 ');
  text = text.replace(RE_PERIOD_COMMA_BEFORE_NON_DIGIT, ' $1 $2');
  text = text.replace(RE_DASH_AFTER_DIGIT, '$1 $2 ');
  return pySplit(text).join(' ');
}

interface ResolvedBleu {
  lowercase: boolean;
  tokenize: BleuTokenizer;
  smoothMethod: BleuSmoothing;
  smoothValue: number | undefined;
  effectiveOrder: boolean;
  maxNgramOrder: number;
}

function resolveBleu(options: BleuOptions, effectiveOrderDefault: boolean): ResolvedBleu {
  const tokenize = options.tokenize ?? '13a';
  if (tokenize !== '13a' && tokenize !== 'none') {
    throw new InputError(`Unknown BLEU tokenizer "${String(tokenize)}": use 13a or none.`);
  }
  const smoothMethod = options.smoothMethod ?? 'exp';
  if (!(smoothMethod in SMOOTH_DEFAULTS)) {
    throw new InputError(`Unknown BLEU smoothing "${String(smoothMethod)}": use none, floor, add-k or exp.`);
  }
  const maxNgramOrder = options.maxNgramOrder ?? 4;
  if (!Number.isInteger(maxNgramOrder) || maxNgramOrder < 1) {
    throw new InputError(`BLEU's maxNgramOrder must be a positive integer, got ${String(maxNgramOrder)}.`);
  }
  return {
    lowercase: options.lowercase ?? false,
    tokenize,
    smoothMethod,
    smoothValue: options.smoothValue ?? SMOOTH_DEFAULTS[smoothMethod],
    effectiveOrder: options.effectiveOrder ?? effectiveOrderDefault,
    maxNgramOrder,
  };
}

function preprocessBleu(sentence: string, o: ResolvedBleu): string {
  const cased = o.lowercase ? sentence.toLowerCase() : sentence;
  const stripped = pyRstrip(cased);
  return o.tokenize === '13a' ? tokenize13a(stripped) : stripped;
}

/** All word n-grams of orders 1..maxOrder (keys joined by a space, which no token contains) and the length. */
function wordNgrams(line: string, maxOrder: number): { ngrams: Map<string, number>; length: number } {
  const tokens = pySplit(line);
  const ngrams = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = `${n}\u0000${tokens.slice(i, i + n).join(' ')}`;
      ngrams.set(key, (ngrams.get(key) ?? 0) + 1);
    }
  }
  return { ngrams, length: tokens.length };
}

/** References as sacreBLEU takes them: one stream (string[]) or several streams (string[][]). */
export type References = readonly string[] | readonly (readonly string[])[];

function referenceStreams(references: References, segments: number): string[][] {
  const streams: string[][] =
    references.length > 0 && Array.isArray(references[0])
      ? (references as readonly (readonly string[])[]).map((s) => [...s])
      : [[...(references as readonly string[])]];
  for (const stream of streams) {
    if (stream.length !== segments) {
      throw new InputError(
        `Each reference stream needs one line per hypothesis: ${segments} hypotheses, a stream of ${stream.length}.`,
      );
    }
    for (const ref of stream) {
      if (typeof ref !== 'string') throw new InputError('References must be strings.');
    }
  }
  return streams;
}

/** One segment's statistics: [hypLen, refLen, correct x N, total x N], as sacreBLEU's. */
function bleuSegmentStats(hypothesis: string, refs: string[], o: ResolvedBleu): number[] {
  const N = o.maxNgramOrder;
  const refNgrams = new Map<string, number>();
  const refLens: number[] = [];
  for (const raw of refs) {
    const { ngrams, length } = wordNgrams(preprocessBleu(raw, o), N);
    refLens.push(length);
    for (const [key, count] of ngrams) refNgrams.set(key, Math.max(refNgrams.get(key) ?? 0, count));
  }
  const { ngrams: hypNgrams, length: hypLen } = wordNgrams(preprocessBleu(hypothesis, o), N);
  // The closest reference length; on ties the shorter one (sacreBLEU's `_get_closest_ref_len`).
  let closestDiff = Infinity;
  let closestLen = Infinity;
  for (const length of refLens) {
    const diff = Math.abs(hypLen - length);
    if (diff < closestDiff || (diff === closestDiff && length < closestLen)) {
      closestDiff = diff;
      closestLen = length;
    }
  }
  const correct = new Array<number>(N).fill(0);
  const total = new Array<number>(N).fill(0);
  for (const [key, count] of hypNgrams) {
    const n = Number(key.slice(0, key.indexOf('\u0000'))) - 1;
    total[n] = (total[n] ?? 0) + count;
    const refCount = refNgrams.get(key);
    if (refCount !== undefined) correct[n] = (correct[n] ?? 0) + Math.min(count, refCount);
  }
  return [hypLen, closestLen, ...correct, ...total];
}

function myLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

/** sacreBLEU's `BLEU.compute_bleu` on summed statistics. */
function computeBleu(stats: number[], o: ResolvedBleu): Omit<BleuScore, 'signature'> {
  const N = o.maxNgramOrder;
  const at = (values: number[], i: number): number => values[i] ?? 0;
  const sysLen = at(stats, 0);
  const refLen = at(stats, 1);
  const correct = stats.slice(2, 2 + N);
  const total = stats.slice(2 + N, 2 + 2 * N);
  const smoothValue = o.smoothValue ?? 0;
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(N).fill(0);
  if (!correct.some((c) => c !== 0)) {
    return { score: 0, counts: correct, totals: total, precisions, bp, sysLen, refLen };
  }
  let smoothMteval = 1;
  let effOrder = N;
  for (let i = 0; i < N; i++) {
    if (o.smoothMethod === 'add-k' && i > 0) {
      correct[i] = at(correct, i) + smoothValue;
      total[i] = at(total, i) + smoothValue;
    }
    const t = at(total, i);
    const c = at(correct, i);
    if (t === 0) break;
    if (o.effectiveOrder) effOrder = i + 1;
    if (c === 0) {
      if (o.smoothMethod === 'exp') {
        smoothMteval *= 2;
        precisions[i] = 100 / (smoothMteval * t);
      } else if (o.smoothMethod === 'floor') {
        precisions[i] = (100 * smoothValue) / t;
      }
    } else {
      precisions[i] = (100 * c) / t;
    }
  }
  let sumLog = 0;
  for (const p of precisions.slice(0, effOrder)) sumLog += myLog(p);
  const score = bp * Math.exp(sumLog / effOrder);
  return { score, counts: correct, totals: total, precisions, bp, sysLen, refLen };
}

function bleuSignature(o: ResolvedBleu, nrefs: number | 'var'): string {
  const smooth =
    o.smoothMethod === 'floor' || o.smoothMethod === 'add-k'
      ? `${o.smoothMethod}[${(o.smoothValue ?? 0).toFixed(2)}]`
      : o.smoothMethod;
  return [
    `nrefs:${nrefs}`,
    `case:${o.lowercase ? 'lc' : 'mixed'}`,
    `eff:${o.effectiveOrder ? 'yes' : 'no'}`,
    `tok:${o.tokenize}`,
    `smooth:${smooth}`,
    `version:${SACREBLEU_VERSION}`,
  ].join('|');
}

/**
 * Corpus BLEU as sacreBLEU's `corpus_bleu(hypotheses, references, ...)`: n-gram statistics summed over
 * the corpus, then one score. `references` is one reference stream (one line per hypothesis) or several.
 */
export function corpusBleu(hypotheses: readonly string[], references: References, options: BleuOptions = {}): BleuScore {
  const o = resolveBleu(options, false);
  const streams = referenceStreams(references, hypotheses.length);
  const stats = new Array<number>(2 + 2 * o.maxNgramOrder).fill(0);
  hypotheses.forEach((hyp, i) => {
    if (typeof hyp !== 'string') throw new InputError('Hypotheses must be strings.');
    const segment = bleuSegmentStats(hyp, streams.map((s) => s[i] ?? ''), o);
    for (let k = 0; k < stats.length; k++) stats[k] = (stats[k] ?? 0) + (segment[k] ?? 0);
  });
  return { ...computeBleu(stats, o), signature: bleuSignature(o, streams.length) };
}

/**
 * Sentence BLEU as sacreBLEU's `sentence_bleu(hypothesis, references)`: effective order and `exp`
 * smoothing by default (signature `eff:yes`). `references` are the references of this one sentence.
 */
export function sentenceBleu(hypothesis: string, references: readonly string[], options: BleuOptions = {}): BleuScore {
  const o = resolveBleu(options, true);
  if (references.length === 0) throw new InputError('sentenceBleu needs at least one reference.');
  const stats = bleuSegmentStats(hypothesis, [...references], o);
  return { ...computeBleu(stats, o), signature: bleuSignature(o, references.length) };
}

// chrF ---------------------------------------------------------------------------------------------

const CHRF_PUNCTS = new Set([...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~']);

/** sacreBLEU's `_remove_punctuation` for chrF++ word n-grams. */
function chrfWords(sentence: string): string[] {
  const out: string[] = [];
  for (const w of pySplit(sentence)) {
    const chars = Array.from(w);
    const first = chars[0] ?? '';
    const last = chars[chars.length - 1] ?? '';
    if (chars.length === 1) out.push(w);
    else if (CHRF_PUNCTS.has(last)) out.push(chars.slice(0, -1).join(''), last);
    else if (CHRF_PUNCTS.has(first)) out.push(first, chars.slice(1).join(''));
    else out.push(w);
  }
  return out;
}

function charNgrams(line: string, maxOrder: number, whitespace: boolean): Array<Map<string, number>> {
  const chars = Array.from(whitespace ? line : pySplit(line).join(''));
  const out: Array<Map<string, number>> = [];
  for (let n = 1; n <= maxOrder; n++) {
    const counts = new Map<string, number>();
    for (let i = 0; i + n <= chars.length; i++) {
      const key = chars.slice(i, i + n).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    out.push(counts);
  }
  return out;
}

function wordNgramCounts(words: string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= words.length; i++) {
    const key = words.slice(i, i + n).join('\u0000');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

interface ResolvedChrf {
  charOrder: number;
  wordOrder: number;
  beta: number;
  lowercase: boolean;
  whitespace: boolean;
  epsSmoothing: boolean;
}

function chrfNgrams(sentence: string, o: ResolvedChrf): Array<Map<string, number>> {
  const text = o.lowercase ? sentence.toLowerCase() : sentence;
  const all = charNgrams(text, o.charOrder, o.whitespace);
  if (o.wordOrder > 0) {
    const words = chrfWords(text);
    for (let n = 1; n <= o.wordOrder; n++) all.push(wordNgramCounts(words, n));
  }
  return all;
}

function chrfFScore(stats: number[], o: ResolvedChrf): number {
  const eps = 1e-16;
  const factor = o.beta ** 2;
  const order = o.charOrder + o.wordOrder;
  let score = 0;
  let effectiveOrder = 0;
  let avgPrec = 0;
  let avgRec = 0;
  for (let i = 0; i < order; i++) {
    const nHyp = stats[3 * i] ?? 0;
    const nRef = stats[3 * i + 1] ?? 0;
    const nMatch = stats[3 * i + 2] ?? 0;
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    score += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effectiveOrder += 1;
    }
  }
  if (o.epsSmoothing) return (100 * score) / order;
  if (effectiveOrder === 0) {
    avgPrec = 0;
    avgRec = 0;
  } else {
    avgPrec /= effectiveOrder;
    avgRec /= effectiveOrder;
  }
  if (avgPrec + avgRec) {
    let f = (1 + factor) * avgPrec * avgRec;
    f /= factor * avgPrec + avgRec;
    return 100 * f;
  }
  return 0;
}

/**
 * Corpus chrF as sacreBLEU's `corpus_chrf(hypotheses, references)` (Popović, 2015): character n-gram
 * statistics summed over the corpus (per segment, those of the best-scoring reference), then one F-beta.
 */
export function corpusChrf(hypotheses: readonly string[], references: References, options: ChrfOptions = {}): ChrfScore {
  const o: ResolvedChrf = {
    charOrder: options.charOrder ?? 6,
    wordOrder: options.wordOrder ?? 0,
    beta: options.beta ?? 2,
    lowercase: options.lowercase ?? false,
    whitespace: options.whitespace ?? false,
    epsSmoothing: options.epsSmoothing ?? false,
  };
  const streams = referenceStreams(references, hypotheses.length);
  const order = o.charOrder + o.wordOrder;
  const totals = new Array<number>(3 * order).fill(0);
  hypotheses.forEach((hyp, i) => {
    const hypNgrams = chrfNgrams(hyp, o);
    let best: number[] = [];
    let bestF = -1;
    for (const stream of streams) {
      const refNgrams = chrfNgrams(stream[i] ?? '', o);
      const stats: number[] = [];
      for (let k = 0; k < order; k++) {
        const h = hypNgrams[k] ?? new Map<string, number>();
        const r = refNgrams[k] ?? new Map<string, number>();
        let match = 0;
        let hypCount = 0;
        for (const [ng, count] of h) {
          hypCount += count;
          const rc = r.get(ng);
          if (rc !== undefined) match += Math.min(count, rc);
        }
        let refCount = 0;
        for (const c of r.values()) refCount += c;
        stats.push(r.size > 0 ? hypCount : 0, refCount, match);
      }
      const f = chrfFScore(stats, o);
      if (f > bestF) {
        bestF = f;
        best = stats;
      }
    }
    for (let k = 0; k < totals.length; k++) totals[k] = (totals[k] ?? 0) + (best[k] ?? 0);
  });
  const signature = [
    `nrefs:${streams.length}`,
    `case:${o.lowercase ? 'lc' : 'mixed'}`,
    `eff:${o.epsSmoothing ? 'no' : 'yes'}`,
    `nc:${o.charOrder}`,
    `nw:${o.wordOrder}`,
    `space:${o.whitespace ? 'yes' : 'no'}`,
    `version:${SACREBLEU_VERSION}`,
  ].join('|');
  return { score: chrfFScore(totals, o), signature };
}
