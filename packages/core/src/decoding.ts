/**
 * Decoding strategies as plain functions over logits, shared by Node and browsers: greedy, temperature
 * sampling, top-k, top-p (nucleus), repetition penalty, and beam search with a length penalty.
 * Nothing here knows about ONNX Runtime: a generation loop calls a {@link StepFn} that returns one row
 * of logits per sequence, so the strategies are tested on hand-made logits.
 */
import { InputError } from './errors.js';
import { createRng, type Rng } from './rng.js';

/** How the next token is chosen. */
export type DecodingStrategy = 'greedy' | 'sample' | 'beam';

/** Options shared by every strategy (all optional; defaults in {@link resolveDecodingOptions}). */
export interface DecodingOptions {
  /** Default `greedy`. */
  strategy?: DecodingStrategy;
  /** Divides the logits before sampling (`sample` only; default 1). */
  temperature?: number;
  /** Keep only the `topK` most likely tokens before sampling (`sample`; 0 = off, the default). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches `topP` (`sample`; 1 = off, the default). */
  topP?: number;
  /** Hypotheses kept by beam search (default 4). */
  beamWidth?: number;
  /** Beam scores are `logp / length^lengthPenalty` (default 1; 0 = raw log-probability). */
  lengthPenalty?: number;
  /** CTRL-style penalty (> 1 discourages tokens already generated; default 1 = off). */
  repetitionPenalty?: number;
  /** Most tokens generated per sequence, including `<eos>` (default 32). */
  maxTokens?: number;
  /** Seed of the sampling RNG; the same seed gives the same tokens in Node and browsers (default 0). */
  seed?: number;
  /**
   * Keep generating after `<eos>` until `maxTokens` (as vLLM's `ignore_eos`): fixed-length runs for
   * benchmarks. Default false. Not for beam search.
   */
  ignoreEos?: boolean;
}

/** {@link DecodingOptions} with every default filled in and every value checked. */
export type ResolvedDecodingOptions = Required<DecodingOptions>;

const STRATEGIES: readonly DecodingStrategy[] = ['greedy', 'sample', 'beam'];

/** Fills defaults and throws {@link InputError} naming the bad option and what is accepted. */
export function resolveDecodingOptions(options: DecodingOptions = {}): ResolvedDecodingOptions {
  const o: ResolvedDecodingOptions = {
    strategy: options.strategy ?? 'greedy',
    temperature: options.temperature ?? 1,
    topK: options.topK ?? 0,
    topP: options.topP ?? 1,
    beamWidth: options.beamWidth ?? 4,
    lengthPenalty: options.lengthPenalty ?? 1,
    repetitionPenalty: options.repetitionPenalty ?? 1,
    maxTokens: options.maxTokens ?? 32,
    seed: options.seed ?? 0,
    ignoreEos: options.ignoreEos ?? false,
  };
  if (!STRATEGIES.includes(o.strategy)) {
    throw new InputError(`Unsupported strategy "${String(o.strategy)}". Should be one of: ${STRATEGIES.join(', ')}.`);
  }
  if (!(o.temperature > 0) || !Number.isFinite(o.temperature)) throw new InputError(`temperature must be a positive number, got ${o.temperature}.`);
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new InputError(`topK must be a non-negative integer (0 = off), got ${o.topK}.`);
  if (!(o.topP > 0 && o.topP <= 1)) throw new InputError(`topP must be a number in (0, 1], got ${o.topP}.`);
  if (!Number.isInteger(o.beamWidth) || o.beamWidth < 1 || o.beamWidth > 256) throw new InputError(`beamWidth must be an integer from 1 to 256, got ${o.beamWidth}.`);
  if (!Number.isFinite(o.lengthPenalty)) throw new InputError(`lengthPenalty must be a finite number, got ${o.lengthPenalty}.`);
  if (!(o.repetitionPenalty > 0) || !Number.isFinite(o.repetitionPenalty)) {
    throw new InputError(`repetitionPenalty must be a positive number (1 = off), got ${o.repetitionPenalty}.`);
  }
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1 || o.maxTokens > 10_000) throw new InputError(`maxTokens must be an integer from 1 to 10000, got ${o.maxTokens}.`);
  if (!Number.isInteger(o.seed)) throw new InputError(`seed must be an integer, got ${o.seed}.`);
  if (typeof o.ignoreEos !== 'boolean') throw new InputError(`ignoreEos must be true or false, got ${String(o.ignoreEos)}.`);
  return o;
}

/** Index of the largest logit; ties go to the lowest index, so every platform picks the same token. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/** Numerically stable log-softmax of `logits / temperature` (float64; `-Infinity` logits stay out). */
export function logSoftmax(logits: ArrayLike<number>, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]! / temperature);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! / temperature - max);
  const logZ = max + Math.log(sum);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! / temperature - logZ;
  return out;
}

/**
 * CTRL's repetition penalty (Keskar et al. 2019, as in Hugging Face transformers): each token already
 * generated has its logit divided by `penalty` when positive and multiplied by it when negative, so a
 * penalty above 1 always makes it less likely. Returns a new array.
 */
export function applyRepetitionPenalty(logits: ArrayLike<number>, previous: Iterable<number>, penalty: number): Float32Array {
  const out = copy(logits);
  if (penalty === 1) return out;
  for (const t of new Set(previous)) {
    if (t < 0 || t >= out.length) continue;
    const v = out[t]!;
    out[t] = v > 0 ? v / penalty : v * penalty;
  }
  return out;
}

/** Keeps the `k` largest logits (ties at the boundary kept by lowest index) and sets the rest to -Infinity. */
export function topKFilter(logits: ArrayLike<number>, k: number): Float32Array {
  const out = copy(logits);
  if (k <= 0 || k >= out.length) return out;
  const keep = new Set(topIndices(out, k));
  for (let i = 0; i < out.length; i++) if (!keep.has(i)) out[i] = -Infinity;
  return out;
}

/**
 * Nucleus filtering (Holtzman et al. 2020): keeps the smallest set of most likely tokens whose total
 * probability (of `softmax(logits)`) reaches `p`, and sets the rest to -Infinity. The most likely
 * token is always kept.
 */
export function topPFilter(logits: ArrayLike<number>, p: number): Float32Array {
  const out = copy(logits);
  if (p >= 1) return out;
  const logp = logSoftmax(out);
  const order = sortedIndices(out);
  let cumulative = 0;
  let keep = 0;
  while (keep < order.length) {
    cumulative += Math.exp(logp[order[keep]!]!);
    keep++;
    // A small slack so that probabilities summing to exactly p in decimal are not lost to rounding.
    if (cumulative >= p - 1e-12) break;
  }
  for (let r = keep; r < order.length; r++) out[order[r]!] = -Infinity;
  return out;
}

/** A Float32Array copy (`slice` on typed arrays: `Float32Array.from` iterates and is much slower). */
function copy(values: ArrayLike<number>): Float32Array {
  return values instanceof Float32Array ? values.slice() : Float32Array.from(values);
}

/** log(sum(exp(logits))), stable, without allocating. */
export function logSumExp(logits: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return max + Math.log(sum);
}

/**
 * The `k` indices of the largest values, in descending order (ties by ascending index), in one pass
 * with a small sorted buffer: beam search and top-k need a handful out of a 10,000-word vocabulary.
 */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (top.length === k && !(v > values[top[k - 1]!]!)) continue;
    let pos = top.length;
    while (pos > 0 && v > values[top[pos - 1]!]!) pos--;
    top.splice(pos, 0, i);
    if (top.length > k) top.pop();
  }
  return top;
}

/** Indices sorted by descending value, ties by ascending index (a stable, platform-independent order). */
function sortedIndices(values: ArrayLike<number>): number[] {
  return Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
}

/**
 * Draws an index from `exp(logp)` with one uniform number from `rng`, walking indices in ascending
 * order so the result depends only on the RNG stream.
 */
export function sampleFromLogProbs(logp: ArrayLike<number>, rng: Rng): number {
  const u = rng.uniform();
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < logp.length; i++) {
    const p = Math.exp(logp[i]!);
    if (p === 0) continue;
    cumulative += p;
    last = i;
    if (u < cumulative) return i;
  }
  return last; // rounding left the total a hair below u
}

/** A chosen token and its log-probability under the distribution it was chosen from. */
export interface TokenChoice {
  token: number;
  logprob: number;
}

/**
 * Chooses the next token for one sequence from its logits with the greedy or sampling strategy:
 * repetition penalty, then (sampling) temperature, top-k and top-p, then argmax or a draw from `rng`.
 * `logprob` is the token's log-probability under that final distribution.
 */
export function chooseToken(logits: ArrayLike<number>, previous: readonly number[], options: ResolvedDecodingOptions, rng: Rng): TokenChoice {
  // Greedy is the hot path of batched generation: no copy unless a penalty applies, one pass for log Z.
  let l: ArrayLike<number> = options.repetitionPenalty === 1 ? logits : applyRepetitionPenalty(logits, previous, options.repetitionPenalty);
  if (options.strategy !== 'sample') {
    const token = argmax(l);
    return { token, logprob: l[token]! - logSumExp(l) };
  }
  if (options.temperature !== 1) l = Float32Array.from(l, (v) => v / options.temperature);
  if (options.topK > 0) l = topKFilter(l, options.topK);
  if (options.topP < 1) l = topPFilter(l, options.topP);
  const logp = logSoftmax(l);
  const token = sampleFromLogProbs(logp, rng);
  return { token, logprob: logp[token]! };
}

/**
 * One decoder step for a batch of sequences: feeds the last token and state of each, returns the
 * next-token logits and the new state of each. `S` is the caller's per-sequence state (opaque here).
 */
export type StepFn<S> = (tokens: number[], states: S[]) => Promise<{ logits: Float32Array[]; states: S[] }>;

/** A generated sequence: token ids (without `<bos>`, with `<eos>` when it was produced) and their log-probs. */
export interface GeneratedSequence {
  tokens: number[];
  logprobs: number[];
  /** Sum of `logprobs`. */
  logprob: number;
  /** True when the sequence ended with `<eos>`, false when it hit `maxTokens`. */
  finished: boolean;
}

/** One token of a streamed generation. */
export interface StepEvent {
  /** Which sequence of the batch. */
  index: number;
  token: number;
  logprob: number;
  /** True for the sequence's last token (`<eos>` or the `maxTokens`-th). */
  done: boolean;
}

/**
 * The RNG of sequence `index` for `seed`: one stream per sequence, so a sequence's tokens do not
 * depend on how many others are generated with it.
 */
export function sequenceRng(seed: number, index: number): Rng {
  return createRng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
}

/**
 * What a decoder graph computes besides the logits for each row of a step (the text step graph's
 * decoding heads, TEXT_MODEL.graphs.decoderStep.heads): enough to choose greedy, top-k and top-p
 * tokens without the whole logits row. Arrays are packed over the step's `n` rows.
 */
export interface DecodingHeads {
  /** Most likely token per row (ties by lower id). */
  bestId: Int32Array;
  /** Its logit. */
  bestLogit: Float32Array;
  /** `K` per row. */
  k: number;
  /** `[n, K]` largest logits in descending order (ties by lower id) and their ids; absent when not fetched. */
  topIds?: Int32Array;
  topLogits?: Float32Array;
  /** `[n, 2]`: log-sum-exp of the row's logits, computed in float64, as `hi + lo` (empty when a greedy step fetched `bestLogprob`). */
  logZ: Float32Array;
  /** The best token's log-probability (float32), when the step graph has greedy's head and a greedy step fetched it. */
  bestLogprob?: Float32Array;
}

/** What one batched step must return: the whole logits, only the best token, the top `K`, or the top `K` and the logits. */
export type StepNeed = 'logits' | 'best' | 'top' | 'top+logits';

/** The result of one {@link BatchDecoder} step for its `n` rows. */
export interface BatchStepOutput<B> {
  /** Row `r`'s logits (a view, not a copy); present when `need` was `logits` or `top+logits`. */
  logits?: (row: number) => ArrayLike<number>;
  /** Present when `need` was `best`, `top` or `top+logits`. */
  heads?: DecodingHeads;
  /** The state after the step, all `n` rows. */
  state: B;
}

/**
 * A decoder that steps a whole batch with its state kept packed (`B` is opaque here): the runtime's
 * step graph, or {@link stepFnDecoder} over a per-sequence {@link StepFn}.
 */
export interface BatchDecoder<B> {
  /** K of its top heads, or 0 when it has none (then every step asks for `logits`). */
  readonly headsK: number;
  step(tokens: Int32Array, state: B, need: StepNeed): Promise<BatchStepOutput<B>>;
  /** The rows `rows` (ascending indices into the state's batch) of a state, in that order. */
  select(state: B, rows: readonly number[]): B;
}

/** A {@link BatchDecoder} over a per-sequence {@link StepFn} (always fetches logits). */
export function stepFnDecoder<S>(step: StepFn<S>): BatchDecoder<S[]> {
  return {
    headsK: 0,
    async step(tokens, states) {
      const out = await step(Array.from(tokens), states);
      return { logits: (r) => out.logits[r]!, state: out.states };
    },
    select: (states, rows) => rows.map((r) => states[r]!),
  };
}

/**
 * What a step must fetch for these options, given the decoder's heads: `best` for greedy, `top` for
 * top-k (k <= K, with or without top-p) at temperature 1, `top+logits` for top-p alone at temperature
 * 1 (its nucleus may be larger than K: then it is found in the row with the heads' log Z,
 * {@link chooseTopPFromRow}), `logits` for the rest (a repetition penalty, another temperature, plain
 * sampling over the whole vocabulary, k > K, or no heads).
 */
export function stepNeed(options: ResolvedDecodingOptions, headsK: number): StepNeed {
  if (headsK <= 0 || options.repetitionPenalty !== 1) return 'logits';
  if (options.strategy !== 'sample') return 'best';
  if (options.temperature !== 1) return 'logits';
  if (options.topK > headsK) return 'logits';
  if (options.topK > 0) return 'top';
  return options.topP < 1 ? 'top+logits' : 'logits';
}

/**
 * Slack on the heads' log-sum-exp when deciding a nucleus from it: the step graph sums float32
 * exponentials of (logit - max) in float64, within about 1.5e-6 of {@link logSoftmax}'s float64
 * value (each exponent's rounding is at most 2^-24 of its size, which averages below ln V + ... under
 * the softmax weights); the margin is several times that. A boundary that moves within it is decided
 * from the whole row with the exact float64 log Z.
 */
export const LOG_Z_SLACK = 1e-5;

/**
 * Chooses row `r`'s token from the decoding heads exactly as {@link chooseToken} would from the whole
 * row, for options whose {@link stepNeed} is `best` or `top`; returns undefined, without drawing from
 * `rng`, when the heads cannot decide exactly (the nucleus is larger than K, or its boundary lies
 * within float64 rounding of the threshold): the caller then fetches the logits.
 */
export function chooseTokenFromHeads(heads: DecodingHeads, r: number, options: ResolvedDecodingOptions, rng: Rng): TokenChoice | undefined {
  if (options.strategy !== 'sample') {
    const logprob = heads.bestLogprob ? heads.bestLogprob[r]! : heads.bestLogit[r]! - (heads.logZ[2 * r]! + heads.logZ[2 * r + 1]!);
    return { token: heads.bestId[r]!, logprob };
  }
  const logZ = heads.logZ[2 * r]! + heads.logZ[2 * r + 1]!;
  const K = heads.k;
  const ids = heads.topIds!.subarray(r * K, (r + 1) * K);
  const values = heads.topLogits!.subarray(r * K, (r + 1) * K);
  let keep = options.topK > 0 ? Math.min(options.topK, K) : K;
  if (options.topP < 1) {
    if (options.topK > 0) {
      // topPFilter after topKFilter: the log-softmax of the kept k (the rest are -Infinity, and a
      // nucleus that rounding leaves short of p keeps all k).
      keep = Math.min(keep, nucleusSize(values, keep, normalizer(kept(ids, values, keep).values, values[0]!), options.topP));
    } else {
      const n = wholeRowNucleus(values, K, logZ, options.topP);
      if (n === undefined) return undefined;
      keep = n;
    }
  }
  return sampleKept(kept(ids, values, keep), values[0]!, rng);
}

/**
 * Row `r`'s token from one step's outputs, exactly as {@link chooseToken} would choose it from the
 * whole row: from the decoding `heads` when they decide, else from its `logits` row when the step
 * fetched it (top-p from the heads' log Z, or logSoftmax's exact one within its slack); without heads,
 * {@link chooseToken} on the row. Undefined, without a draw from `rng`, when neither can decide: the
 * caller then steps that row again for its logits.
 */
export function chooseFromStep(
  heads: DecodingHeads | undefined,
  logits: ArrayLike<number> | undefined,
  r: number,
  previous: readonly number[],
  options: ResolvedDecodingOptions,
  rng: Rng,
): TokenChoice | undefined {
  if (!heads) return chooseToken(logits!, previous, options, rng);
  const choice = chooseTokenFromHeads(heads, r, options, rng);
  if (choice || !logits) return choice;
  const logZ = heads.logZ[2 * r]! + heads.logZ[2 * r + 1]!;
  // The nucleus is larger than K: find it in the row (its boundary within rounding of p: the reference).
  return chooseTopPFromRow(logits, logZ, options, rng) ?? chooseToken(logits, previous, options, rng);
}

/** Buckets per nat of {@link chooseTopPFromRow}'s histogram of candidate logits. */
const BUCKETS_PER_NAT = 256;
/**
 * Scratch space of {@link chooseTopPFromRow}, grown on demand (the function is synchronous), and
 * `scale[b] = exp(-b / BUCKETS_PER_NAT)`, computed once.
 */
const scratch = { ids: new Int32Array(0), weights: new Float64Array(0), buckets: new Uint16Array(0), prefix: new Float64Array(0), mass: new Float64Array(0), scale: new Float64Array(0) };
/**
 * Relative margin on the sampling draw of {@link chooseTopPFromRow}: its cumulative sums use
 * weights within 1e-14 of `exp(v - logZ)`, summed in another order than {@link sampleFromLogProbs}'
 * `exp(v - logZKept)`, a difference far below 1e-12 of the total for any vocabulary that fits in
 * memory; a draw this close to a token's edge is decided with the reference's own sums.
 */
const DRAW_SLACK = 1e-9;
/** Relative margin on {@link chooseTopPFromRow}'s nucleus threshold for float64 rounding of its sums, beyond the log Z slack. */
const TOP_P_SLACK = 1e-9;
/** How far below the top logit {@link rowNormaliser} still weighs tokens (the rest add less than V * exp(-48)). */
const TAIL_NATS = 48;

/**
 * The sum of `exp(v - top)` over a row, weighing every token within {@link TAIL_NATS} of `top` as
 * {@link chooseTopPFromRow} weighs candidates (`scale` is its table, long enough for the tail).
 */
function rowNormaliser(row: ArrayLike<number>, top: number, scale: Float64Array): number {
  const table = scale.length;
  let all = 0;
  for (let i = 0; i < row.length; i++) {
    const d = (top - row[i]!) * BUCKETS_PER_NAT;
    if (!(d < table) || d < 0) continue; // far below the top, -Infinity or NaN (above the top: the candidate pass refused the row)
    const b = d | 0;
    const r = (d - b) / BUCKETS_PER_NAT;
    all += scale[b]! * (1 - r * (1 - r * (0.5 - r * (1 / 6 - r * (1 / 24)))));
  }
  return all;
}

/**
 * Top-p sampling (temperature 1, no top-k, no penalty) of one whole logits row: the token
 * {@link chooseToken} would choose for the same `rng`, without a log-softmax or a sort of the
 * vocabulary, given the row's log-sum-exp from the step graph (`logZ`, within `slack` of
 * logSoftmax's float64 value). Tokens below `logZ + log((1 - p) / V) - 1` together hold less than
 * `1 - p` of the probability, so the nucleus lies among the others (the candidates): one pass over the
 * row compares each logit with that cut-off, as an argmax would, and only candidates are weighed. Each
 * goes into a histogram of logit buckets 1/256 nat wide with its weight `exp(v - top)`, the bucket's
 * tabulated `exp` times a 4th-order Taylor series of the rest (relative error below 1e-14, no
 * `Math.exp` per token). The row's normaliser is `exp(logZ - top)`: the nucleus boundary is found in
 * the bucket where the cumulative mass crosses p, whose few tokens alone are sorted (by value, ties by
 * lower id), and it is decided only when it is the same for every normaliser within `slack`. The draw
 * then walks the kept tokens' cumulative weights in ascending id order, as {@link sampleFromLogProbs}
 * does (a binary search on prefix sums); a draw within rounding of a token's edge is redone with the
 * reference's exact sums. Returns undefined (no draw) when the boundary lies within the slack of p:
 * the caller then uses {@link chooseToken}.
 */
export function chooseTopPFromRow(row: ArrayLike<number>, logZ: number, options: ResolvedDecodingOptions, rng: Rng, slack = LOG_Z_SLACK): TokenChoice | undefined {
  const V = row.length;
  const p = options.topP;
  const cutoff = logZ + Math.log((1 - p) / V) - 1;
  // Candidate logits lie in [cutoff, top] (logZ >= max up to its slack): bucket 0 holds the largest.
  const top = logZ + slack + 1e-3;
  const buckets = Math.ceil((top - cutoff) * BUCKETS_PER_NAT) + 1;
  if (!(buckets <= 65536)) return undefined; // a nucleus of p within 1e-100 of 1: leave it to chooseToken
  if (scratch.ids.length < V) {
    scratch.ids = new Int32Array(V);
    scratch.weights = new Float64Array(V);
    scratch.buckets = new Uint16Array(V);
    scratch.prefix = new Float64Array(V);
  }
  if (scratch.mass.length < buckets) scratch.mass = new Float64Array(buckets);
  const table = buckets + TAIL_NATS * BUCKETS_PER_NAT;
  if (scratch.scale.length < table) scratch.scale = Float64Array.from({ length: table }, (_, b) => Math.exp(-b / BUCKETS_PER_NAT));
  const { ids, weights, buckets: bucketOf, prefix, mass, scale } = scratch;
  mass.fill(0, 0, buckets);
  let n = 0;
  let max = -Infinity;
  for (let i = 0; i < V; i++) {
    const v = row[i]!;
    if (!(v >= cutoff)) continue; // below the cut-off, or NaN
    const d = (top - v) * BUCKETS_PER_NAT;
    if (d < 0) return undefined; // logZ was not within its slack of the row's log-sum-exp
    const b = d | 0;
    // exp(v - top) = exp(-b/256) * exp(-r), 0 <= r < 1/256: the series' error is below r^5/120 < 1e-14.
    const r = (d - b) / BUCKETS_PER_NAT;
    const w = scale[b]! * (1 - r * (1 - r * (0.5 - r * (1 / 6 - r * (1 / 24)))));
    if (v > max) max = v;
    ids[n] = i;
    weights[n] = w;
    bucketOf[n] = b;
    mass[b]! += w;
    n++;
  }
  // topPFilter keeps the fewest tokens whose cumulative probability reaches p - 1e-12, that is weight
  // (p - 1e-12) * all here for the row's normaliser `all` (known within a factor exp(+-rel)) up to
  // float64 rounding of the sums: the boundary bucket and edge token, when they are the same for
  // every threshold in between.
  const nucleusEdge = (all: number, rel: number): { bucket: number; edge: number } | undefined => {
    const target = (p - 1e-12) * all;
    const lo = target * Math.exp(-rel) * (1 - TOP_P_SLACK);
    const hi = target * Math.exp(rel) * (1 + TOP_P_SLACK);
    let bucket = 0;
    let before = 0;
    while (bucket < buckets && before + mass[bucket]! < lo) before += mass[bucket++]!;
    if (bucket === buckets || before + mass[bucket]! < hi) return undefined; // rounding, or lo and hi in different buckets
    const inBucket: number[] = [];
    for (let j = 0; j < n; j++) if (bucketOf[j] === bucket) inBucket.push(j);
    inBucket.sort((a, b) => row[ids[b]!]! - row[ids[a]!]! || ids[a]! - ids[b]!);
    let cumulative = before;
    for (let j = 0; j < inBucket.length; j++) {
      cumulative += weights[inBucket[j]!]!;
      if (cumulative >= lo) return cumulative < hi ? undefined : { bucket, edge: inBucket[j]! }; // undefined: the boundary moves within the margin
    }
    return undefined;
  };
  // First with the graph's log Z as the normaliser; when the boundary lies within its slack, with the
  // row's own normaliser (every token within TAIL_NATS of the top weighed, within 1e-12 of logSoftmax's).
  const found = nucleusEdge(Math.exp(logZ - top), slack) ?? nucleusEdge(rowNormaliser(row, top, scale), 0);
  if (!found) return undefined;
  const { bucket, edge } = found;
  // Kept: every candidate of an earlier bucket, and those of this one down to the edge token.
  const edgeValue = row[ids[edge]!]!;
  const edgeId = ids[edge]!;
  let m = 0;
  let total = 0;
  for (let j = 0; j < n; j++) {
    const b = bucketOf[j]!;
    if (b > bucket) continue;
    if (b === bucket) {
      const v = row[ids[j]!]!;
      if (v < edgeValue || (v === edgeValue && ids[j]! > edgeId)) continue;
    }
    total += weights[j]!;
    ids[m] = ids[j]!;
    prefix[m] = total;
    m++;
  }
  const u = rng.uniform();
  const want = u * total;
  // The first kept token whose cumulative weight exceeds u * total (binary search on the prefix sums).
  let a = 0;
  let z = m - 1;
  while (a < z) {
    const mid = (a + z) >> 1;
    if (prefix[mid]! > want) z = mid;
    else a = mid + 1;
  }
  const margin = DRAW_SLACK * total;
  const clear = prefix[a]! - want > margin && (a === 0 || want - prefix[a - 1]! > margin);
  if (!clear) {
    const keptIds = ids.slice(0, m);
    return sampleKept({ ids: keptIds, values: Float64Array.from(keptIds, (i) => row[i]!) }, max, u);
  }
  const token = ids[a]!;
  return { token, logprob: row[token]! - (top + Math.log(total)) };
}

/**
 * {@link topPFilter}'s nucleus size over the descending `values` (the first `limit` of a row's tokens
 * in sorted order) with the row's float64 log Z from the graph, taken with a margin either side: the
 * size when both agree and it fits in `limit`, else undefined.
 */
function wholeRowNucleus(values: Float32Array, limit: number, logZ: number, p: number, slack = LOG_Z_SLACK): number | undefined {
  const fewest = nucleusSize(values, limit, logZ - slack, p);
  const most = nucleusSize(values, limit, logZ + slack, p);
  return fewest !== most || most > limit ? undefined : most;
}

/** The first `keep` tokens of descending `ids`/`values`, reordered by ascending id. */
function kept(ids: Int32Array, values: ArrayLike<number>, keep: number): { ids: Int32Array; values: Float64Array } {
  const order = Array.from({ length: keep }, (_, i) => i).sort((a, b) => ids[a]! - ids[b]!);
  return { ids: Int32Array.from(order, (i) => ids[i]!), values: Float64Array.from(order, (i) => values[i]!) };
}

/** {@link logSoftmax}'s normalizer `max + log(sum exp(l - max))` of values in ascending id order (bit-equal to it). */
function normalizer(values: ArrayLike<number>, max: number): number {
  let sum = 0;
  for (let j = 0; j < values.length; j++) sum += Math.exp(values[j]! - max);
  return max + Math.log(sum);
}

/**
 * logSoftmax of the filtered row then {@link sampleFromLogProbs}, over the kept tokens only (in
 * ascending id order; the rest are -Infinity and add nothing): bit-equal to the whole-row path.
 */
function sampleKept(k: { ids: Int32Array; values: ArrayLike<number> }, max: number, draw: Rng | number): TokenChoice {
  const logZKept = normalizer(k.values, max);
  const u = typeof draw === 'number' ? draw : draw.uniform();
  let cumulative = 0;
  let last = -1;
  for (let j = 0; j < k.ids.length; j++) {
    const p = Math.exp(k.values[j]! - logZKept);
    if (p === 0) continue;
    cumulative += p;
    last = j;
    if (u < cumulative) break;
  }
  return { token: k.ids[last]!, logprob: k.values[last]! - logZKept };
}

/**
 * {@link topPFilter}'s count of kept tokens walking the top values (descending) with normalizer
 * `logZ`; `limit + 1` when the first `limit` do not reach `p`.
 */
function nucleusSize(values: Float32Array, limit: number, logZ: number, p: number): number {
  let cumulative = 0;
  for (let keep = 0; keep < limit; ) {
    cumulative += Math.exp(values[keep]! - logZ);
    keep++;
    if (cumulative >= p - 1e-12) return keep;
  }
  return limit + 1;
}

/**
 * Greedy or sampled decoding of a batch, one step for all live sequences at a time (finished ones
 * drop out of the batch). Yields every token as it is chosen. Sequence `i` samples with
 * {@link sequenceRng}`(seed, firstIndex + i)`, so a long request split into batches repeats exactly.
 */
export async function* decodeSteps<S>(
  step: StepFn<S>,
  initial: S[],
  special: { bos: number; eos: number },
  options: ResolvedDecodingOptions,
  firstIndex = 0,
): AsyncGenerator<StepEvent> {
  yield* decodeBatchSteps(stepFnDecoder(step), initial, initial.length, special, options, firstIndex);
}

/**
 * {@link decodeSteps} over a {@link BatchDecoder}: the state stays packed (rows are gathered only when
 * some finish), and each step fetches only what {@link stepNeed} asks for. When the heads cannot
 * decide a row exactly ({@link chooseTokenFromHeads}), those rows are stepped again from the same
 * state for their logits, so the tokens are those of the whole-row path for the same seed.
 */
export async function* decodeBatchSteps<B>(
  decoder: BatchDecoder<B>,
  initial: B,
  n: number,
  special: { bos: number; eos: number },
  options: ResolvedDecodingOptions,
  firstIndex = 0,
): AsyncGenerator<StepEvent> {
  if (options.strategy === 'beam') throw new InputError('Beam search cannot be streamed token by token; use generate() for strategy "beam".');
  const need = stepNeed(options, decoder.headsK);
  const rngs = Array.from({ length: n }, (_, i) => sequenceRng(options.seed, firstIndex + i));
  const history: number[][] = Array.from({ length: n }, () => []);
  let live = Array.from({ length: n }, (_, i) => i);
  let state = initial;
  let last = new Int32Array(n).fill(special.bos);
  const choices: TokenChoice[] = [];
  for (let t = 0; t < options.maxTokens && live.length > 0; t++) {
    const out = await decoder.step(last, state, need);
    const undecided: number[] = [];
    for (let r = 0; r < live.length; r++) {
      const index = live[r]!;
      const rng = rngs[index]!;
      const choice = chooseFromStep(out.heads, out.logits?.(r), r, history[index]!, options, rng);
      if (choice) choices[r] = choice;
      else undecided.push(r);
    }
    if (undecided.length > 0) {
      const again = await decoder.step(last.filter((_, r) => undecided.includes(r)), decoder.select(state, undecided), 'logits');
      undecided.forEach((r, j) => (choices[r] = chooseToken(again.logits!(j), history[live[r]!]!, options, rngs[live[r]!]!)));
    }
    const keep: number[] = [];
    for (let r = 0; r < live.length; r++) {
      const index = live[r]!;
      const choice = choices[r]!;
      history[index]!.push(choice.token);
      const done = (choice.token === special.eos && !options.ignoreEos) || t === options.maxTokens - 1;
      yield { index, token: choice.token, logprob: choice.logprob, done };
      if (!done) keep.push(r);
    }
    if (keep.length === live.length) {
      state = out.state;
      last = Int32Array.from(choices.slice(0, live.length), (c) => c.token);
    } else {
      state = keep.length > 0 ? decoder.select(out.state, keep) : out.state;
      last = Int32Array.from(keep, (r) => choices[r]!.token);
      live = keep.map((r) => live[r]!);
    }
  }
}

/** Runs {@link decodeSteps} to the end and collects one {@link GeneratedSequence} per initial state. */
export async function decodeBatch<S>(
  step: StepFn<S>,
  initial: S[],
  special: { bos: number; eos: number },
  options: ResolvedDecodingOptions,
  firstIndex = 0,
): Promise<GeneratedSequence[]> {
  return collectSequences(decodeSteps(step, initial, special, options, firstIndex), initial.length, special.eos);
}

/** Collects the events of {@link decodeSteps} / {@link decodeBatchSteps} into `n` sequences. */
export async function collectSequences(events: AsyncIterable<StepEvent>, n: number, eos: number): Promise<GeneratedSequence[]> {
  const seqs: GeneratedSequence[] = Array.from({ length: n }, () => ({ tokens: [], logprobs: [], logprob: 0, finished: false }));
  for await (const e of events) {
    const s = seqs[e.index]!;
    s.tokens.push(e.token);
    s.logprobs.push(e.logprob);
    s.logprob += e.logprob;
    s.finished = e.token === eos; // the last token decides (ignoreEos may pass <eos> on the way)
  }
  return seqs;
}

/**
 * Wraps a {@link StepFn} so that concurrent callers share its calls: every call made while a flush is
 * pending (the callers resumed by the previous answer, each in its own microtask) joins one batched call
 * of `step`, whose rows are handed back to each caller in order. Running one {@link beamSearch} per
 * source concurrently through it decodes all their hypotheses in one model call per step, with each
 * search's result unchanged (rows do not interact).
 */
export function coalesceSteps<S>(step: StepFn<S>): StepFn<S> {
  let pending: Array<{ tokens: number[]; states: S[]; resolve: (out: { logits: Float32Array[]; states: S[] }) => void; reject: (err: unknown) => void }> = [];
  const flush = async () => {
    const calls = pending;
    pending = [];
    try {
      const out = await step(calls.flatMap((c) => c.tokens), calls.flatMap((c) => c.states));
      let row = 0;
      for (const c of calls) {
        const n = c.tokens.length;
        c.resolve({ logits: out.logits.slice(row, row + n), states: out.states.slice(row, row + n) });
        row += n;
      }
    } catch (err) {
      for (const c of calls) c.reject(err);
    }
  };
  return (tokens, states) =>
    new Promise((resolve, reject) => {
      pending.push({ tokens, states, resolve, reject });
      // After the microtasks of this turn: every caller resumed by the last answer has asked by then.
      if (pending.length === 1) setTimeout(() => void flush(), 0);
    });
}

/** Beam score of a hypothesis: total log-probability over `length^lengthPenalty`. */
export function beamScore(logprob: number, length: number, lengthPenalty: number): number {
  return lengthPenalty === 0 ? logprob : logprob / Math.pow(Math.max(1, length), lengthPenalty);
}

interface Hypothesis<S> {
  tokens: number[];
  logprobs: number[];
  logprob: number;
  state: S;
}

/**
 * Beam search for one sequence. Each step extends every live hypothesis (all of them in one batched
 * {@link StepFn} call) with its `2 * beamWidth` best tokens, keeps the `beamWidth` best unfinished
 * extensions by total log-probability, and moves those ending in `<eos>` to the finished list scored by
 * {@link beamScore}. It stops when `beamWidth` hypotheses have finished and no live one can still beat
 * the worst of them (log-probabilities only fall, so with `lengthPenalty >= 0` the bound is exact),
 * or at `maxTokens`, where live hypotheses are finished as they are. Returns the best-scoring one.
 */
export async function beamSearch<S>(
  step: StepFn<S>,
  initial: S,
  special: { bos: number; eos: number },
  options: ResolvedDecodingOptions,
): Promise<GeneratedSequence & { score: number }> {
  const width = options.beamWidth;
  let beams: Hypothesis<S>[] = [{ tokens: [], logprobs: [], logprob: 0, state: initial }];
  const finished: Array<GeneratedSequence & { score: number }> = [];
  const finish = (h: Hypothesis<S>, done: boolean) =>
    finished.push({ tokens: h.tokens, logprobs: h.logprobs, logprob: h.logprob, finished: done, score: beamScore(h.logprob, h.tokens.length, options.lengthPenalty) });

  for (let t = 0; t < options.maxTokens && beams.length > 0; t++) {
    const out = await step(
      beams.map((b) => b.tokens[b.tokens.length - 1] ?? special.bos),
      beams.map((b) => b.state),
    );
    const candidates: Array<{ beam: number; token: number; logprob: number; total: number }> = [];
    beams.forEach((b, r) => {
      const logp = logSoftmax(applyRepetitionPenalty(out.logits[r]!, b.tokens, options.repetitionPenalty));
      for (const token of topIndices(logp, 2 * width)) {
        const lp = logp[token]!;
        if (lp === -Infinity) continue;
        candidates.push({ beam: r, token, logprob: lp, total: b.logprob + lp });
      }
    });
    candidates.sort((a, b) => b.total - a.total || a.beam - b.beam || a.token - b.token);
    const next: Hypothesis<S>[] = [];
    for (const c of candidates) {
      if (next.length >= width) break;
      const parent = beams[c.beam]!;
      const h: Hypothesis<S> = {
        tokens: [...parent.tokens, c.token],
        logprobs: [...parent.logprobs, c.logprob],
        logprob: c.total,
        state: out.states[c.beam]!,
      };
      if (c.token === special.eos) finish(h, true);
      else next.push(h);
    }
    beams = next;
    if (finished.length >= width && beams.length > 0) {
      finished.sort((a, b) => b.score - a.score);
      const worstKept = finished[width - 1]!.score;
      // The best a live hypothesis can reach: its current log-probability at the longest length it may get
      // (lengthPenalty > 0 divides a negative number by a larger length, which raises the score).
      const bestLive = Math.max(
        ...beams.map((b) => beamScore(b.logprob, options.lengthPenalty > 0 ? options.maxTokens : b.tokens.length + 1, options.lengthPenalty)),
      );
      if (bestLive <= worstKept) beams = [];
    }
  }
  for (const b of beams) finish(b, false);
  finished.sort((a, b) => b.score - a.score);
  return finished[0]!;
}
