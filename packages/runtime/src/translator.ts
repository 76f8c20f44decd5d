/**
 * The platform-neutral translator over the two ONNX sessions of a `seq2seq` bundle
 * (docs/seq2seq-model.md): the encoder runs once per batch of sources, then `decoder_step` once per
 * generated token for all live hypotheses together, with core's decoding primitives (greedy, sampling
 * with temperature/top-k/top-p, beam search, repetition penalty). Several translations per source come
 * from different latents: z drawn from the prior p(z|x) and, with variational attention, the attention
 * context drawn at every step.
 */
import {
  SEQ2SEQ_MODEL,
  beamSearch,
  coalesceSteps,
  createRng,
  decodeBatch,
  decodeSteps,
  resolveDecodingOptions,
  type DecodingOptions,
  type GeneratedSequence,
  type GraphSpec,
  type ResolvedDecodingOptions,
  type Rng,
  type Seq2SeqBundleManifest,
  type StepFn,
  type WordTokenizer,
} from '@vaekit/core';
import { floatOutput, type EngineTensor, type GraphSession } from './engine.js';
import { InputError, RuntimeError } from './errors.js';
import type { BackendName, Generation } from './types.js';

const G = SEQ2SEQ_MODEL.graphs;
/** Sources encoded together; more are translated in several batches. */
const MAX_BATCH = 256;

/** Options of {@link Translator.translate}: every decoding option of the text kind, plus the latents. */
export interface TranslateOptions extends DecodingOptions {
  /** Translations per source (default 1). */
  n?: number;
  /**
   * `mean` decodes with the prior mean of z and the mean attention context (deterministic; the default
   * when `n` is 1); `sample` draws them (`seed`), so each of the `n` translations has its own latents
   * (the default when `n` > 1).
   */
  latent?: 'mean' | 'sample';
  /** Return the attention weights (one row over the source tokens per generated token). Default false. */
  attention?: boolean;
}

/** One translation: a generation of the target sentence, with what the source and the latent were. */
export interface Translation extends Omit<Generation, 'z'> {
  /** The source as the model read it (its tokens, `<unk>` for unknown words). */
  sourceTokens: string[];
  /** The latent z it was decoded from (absent for a bundle without latent). */
  z?: Float32Array;
  /** `attention[t][s]`: weight of source token s when generating target token t (when asked). */
  attention?: number[][];
}

/** One token of a streamed translation. */
export interface TranslationToken {
  /** Which source. */
  source: number;
  /** Which of its `n` translations. */
  sample: number;
  tokenId: number;
  token: string;
  logprob: number;
  done: boolean;
  /** Attention over the source tokens for this token (when asked). */
  attention?: number[];
}

/** A loaded translator bundle. */
export interface Translator {
  readonly kind: 'seq2seq';
  readonly manifest: Seq2SeqBundleManifest;
  readonly backend: BackendName;
  readonly sourceTokenizer: WordTokenizer;
  readonly targetTokenizer: WordTokenizer;
  /** Latent size (0 for the attention baseline). */
  readonly latentSize: number;
  /** Translates each text; returns `n` translations per text, in order. Batched over texts and samples. */
  translate(texts: string | string[], options?: TranslateOptions): Promise<Translation[][]>;
  /** Streams the tokens of greedy or sampled translations as they are chosen (not beam search). */
  stream(texts: string | string[], options?: TranslateOptions): AsyncIterable<TranslationToken>;
  dispose(): Promise<void>;
}

interface Encoded {
  /** Per source: token ids, states `[S, 2H]` padded to the batch's S, mask `[S]`, h `[H]`, prior. */
  ids: number[][];
  S: number;
  states: Float32Array[];
  masks: Float32Array[];
  h: Float32Array[];
  priorMu?: Float32Array[];
  priorLogvar?: Float32Array[];
}

/** Per-hypothesis decoder state. */
interface StepState {
  /** Index of the source in the encoded batch. */
  row: number;
  h: Float32Array;
  z?: Float32Array;
  /** Draws the attention noise of variational attention (sampled latents only). */
  rng?: Rng;
  attention?: number[][];
}

function rows(data: Float32Array, n: number): Float32Array[] {
  const width = data.length / n;
  return Array.from({ length: n }, (_, i) => data.slice(i * width, (i + 1) * width));
}

function pack(vectors: Float32Array[], width: number): Float32Array {
  const out = new Float32Array(vectors.length * width);
  vectors.forEach((v, i) => out.set(v, i * width));
  return out;
}

class OnnxTranslator implements Translator {
  readonly kind = 'seq2seq' as const;
  readonly latentSize: number;
  private readonly special: { bos: number; eos: number };
  private readonly H: number;
  private readonly variational: boolean;
  private disposed = false;

  constructor(
    readonly manifest: Seq2SeqBundleManifest,
    readonly backend: BackendName,
    readonly sourceTokenizer: WordTokenizer,
    readonly targetTokenizer: WordTokenizer,
    private readonly sessions: { encoder: GraphSession; decoder_step: GraphSession },
    private readonly graphs: Record<string, GraphSpec>,
  ) {
    this.latentSize = manifest.seq2seq.latentSize;
    this.special = { bos: manifest.seq2seq.specialTokens.bos, eos: manifest.seq2seq.specialTokens.eos };
    this.H = manifest.seq2seq.hiddenSize;
    this.variational = manifest.seq2seq.attention === 'variational';
  }

  private live(): void {
    if (this.disposed) throw new RuntimeError('This translator was disposed; load the bundle again.', { userError: false });
  }

  private output(result: Record<string, EngineTensor>, name: string, graph: string): Float32Array {
    return floatOutput(result, name, this.graphs[graph]?.file ?? graph);
  }

  private checkTexts(texts: string | string[]): string[] {
    const list = typeof texts === 'string' ? [texts] : texts;
    if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string')) throw new InputError('texts: expected a string or a non-empty array of strings.');
    list.forEach((s, i) => {
      if (this.sourceTokenizer.encode(s).length === 0) throw new InputError(`texts[${i}] has no words to translate (${JSON.stringify(s.slice(0, 40))}).`);
    });
    return list;
  }

  private async encode(texts: string[]): Promise<Encoded> {
    const max = this.manifest.seq2seq.maxLength;
    const ids = texts.map((s) => this.sourceTokenizer.encode(s).slice(0, max + 1));
    // A webgl-profile encoder has a fixed source length: pad every batch to it.
    const fixedS = this.graphs.encoder?.inputs.find((t) => t.name === G.encoder.inputs.tokens)?.shape[1];
    const longest = Math.max(...ids.map((r) => r.length));
    const S = typeof fixedS === 'number' && fixedS >= longest ? fixedS : longest;
    const B = texts.length;
    const tokens = new Int32Array(B * S);
    ids.forEach((r, i) => tokens.set(r, i * S));
    const out = await this.sessions.encoder.run({
      [G.encoder.inputs.tokens]: { data: tokens, dims: [B, S] },
      [G.encoder.inputs.lengths]: { data: Int32Array.from(ids, (r) => r.length), dims: [B] },
    });
    const o = G.encoder.outputs;
    const encoded: Encoded = {
      ids,
      S,
      states: rows(this.output(out, o.states, 'encoder'), B),
      masks: rows(this.output(out, o.mask, 'encoder'), B),
      h: rows(this.output(out, o.h, 'encoder'), B),
    };
    if (this.latentSize > 0) {
      encoded.priorMu = rows(this.output(out, o.priorMu, 'encoder'), B);
      encoded.priorLogvar = rows(this.output(out, o.priorLogvar, 'encoder'), B);
    }
    return encoded;
  }

  private stepFor(enc: Encoded, keepAttention: boolean): StepFn<StepState> {
    const D = G.decoderStep;
    const width = 2 * this.H;
    return async (tokens, states) => {
      const n = tokens.length;
      const feeds: Record<string, { data: Float32Array | Int32Array; dims: number[] }> = {
        [D.inputs.token]: { data: Int32Array.from(tokens), dims: [n] },
        [D.inputs.h]: { data: pack(states.map((s) => s.h), this.H), dims: [n, this.H] },
        [D.inputs.states]: { data: pack(states.map((s) => enc.states[s.row]!), enc.S * width), dims: [n, enc.S, width] },
        [D.inputs.mask]: { data: pack(states.map((s) => enc.masks[s.row]!), enc.S), dims: [n, enc.S] },
      };
      if (this.latentSize > 0) feeds[D.inputs.z] = { data: pack(states.map((s) => s.z!), this.latentSize), dims: [n, this.latentSize] };
      if (this.variational) {
        const noise = new Float32Array(n * width);
        states.forEach((s, i) => {
          if (s.rng) for (let d = 0; d < width; d++) noise[i * width + d] = s.rng.normal();
        });
        feeds[D.inputs.attentionNoise] = { data: noise, dims: [n, width] };
      }
      const out = await this.sessions.decoder_step.run(feeds);
      const logits = rows(this.output(out, D.outputs.logits, 'decoder_step'), n);
      const h = rows(this.output(out, D.outputs.h, 'decoder_step'), n);
      const att = keepAttention ? rows(this.output(out, D.outputs.attention, 'decoder_step'), n) : undefined;
      return {
        logits,
        states: states.map((s, i) => ({
          ...s,
          h: h[i]!,
          ...(att ? { attention: [...(s.attention ?? []), Array.from(att[i]!.subarray(0, enc.ids[s.row]!.length))] } : {}),
        })),
      };
    };
  }

  /** The initial state of translation `k` of source `row` (its own z and noise stream when sampling). */
  private initial(enc: Encoded, row: number, k: number, sample: boolean, seed: number): StepState {
    const state: StepState = { row, h: enc.h[row]! };
    const rng = sample ? createRng((seed * 1_000_003 + row * 7919 + k * 104_729 + 1) >>> 0) : undefined;
    if (this.latentSize > 0) {
      const mu = enc.priorMu![row]!;
      const lv = enc.priorLogvar![row]!;
      state.z = rng ? mu.map((m, d) => m + Math.exp(0.5 * lv[d]!) * rng.normal()) : mu;
    }
    if (rng && this.variational) state.rng = rng;
    return state;
  }

  private options(options: TranslateOptions): { decoding: ResolvedDecodingOptions; n: number; sample: boolean; attention: boolean } {
    const n = options.n ?? 1;
    if (!Number.isInteger(n) || n <= 0 || n > 1000) throw new InputError(`n must be a positive integer (at most 1000), got ${n}.`);
    const latent = options.latent ?? (n > 1 ? 'sample' : 'mean');
    if (latent !== 'mean' && latent !== 'sample') throw new InputError(`latent must be mean or sample, got ${String(latent)}.`);
    const decoding = resolveDecodingOptions({ ...options, maxTokens: options.maxTokens ?? this.manifest.seq2seq.maxLength + 1 });
    return { decoding, n, sample: latent === 'sample', attention: options.attention === true };
  }

  private toTranslation(seq: GeneratedSequence, enc: Encoded, state: StepState, attention?: number[][]): Translation {
    return {
      text: this.targetTokenizer.decode(seq.tokens),
      tokenIds: seq.tokens,
      tokens: seq.tokens.map((t) => this.targetTokenizer.idToToken(t)),
      logprobs: seq.logprobs,
      logprob: seq.logprob,
      finished: seq.finished,
      sourceTokens: enc.ids[state.row]!.map((t) => this.sourceTokenizer.idToToken(t)),
      ...(state.z ? { z: state.z } : {}),
      ...(attention ? { attention } : {}),
    };
  }

  async translate(texts: string | string[], options: TranslateOptions = {}): Promise<Translation[][]> {
    this.live();
    const list = this.checkTexts(texts);
    const o = this.options(options);
    const result: Translation[][] = [];
    for (let start = 0; start < list.length; start += MAX_BATCH) {
      const chunk = list.slice(start, start + MAX_BATCH);
      const enc = await this.encode(chunk);
      const step = this.stepFor(enc, o.attention);
      const initial = chunk.flatMap((_, i) => Array.from({ length: o.n }, (_, k) => this.initial(enc, i, k, o.sample, o.decoding.seed + start)));
      const outcome: Translation[] = [];
      if (o.decoding.strategy === 'beam') {
        // Every search of the chunk at once: their hypotheses share one decoder_step call per step.
        const shared = coalesceSteps(step);
        const seqs = await Promise.all(initial.map((init) => beamSearch(shared, { ...init, attention: [] }, this.special, o.decoding)));
        for (const [i, seq] of seqs.entries()) {
          const init = initial[i]!;
          // The attention of the best hypothesis: rerun its tokens (teacher forced) when asked.
          outcome.push(this.toTranslation(seq, enc, init, o.attention ? await this.attentionOf(step, init, seq.tokens) : undefined));
        }
      } else {
        // Keep each sequence's final state to read its attention: wrap the step to record states.
        const last = new Map<StepState, StepState>();
        const recording: StepFn<StepState> = async (tokens, states) => {
          const r = await step(tokens, states);
          r.states.forEach((s, i) => last.set(initialOf.get(states[i]!) ?? states[i]!, s));
          r.states.forEach((s, i) => initialOf.set(s, initialOf.get(states[i]!) ?? states[i]!));
          return r;
        };
        const initialOf = new Map<StepState, StepState>();
        const seqs = await decodeBatch(recording, initial, this.special, o.decoding, start * o.n);
        seqs.forEach((s, i) => outcome.push(this.toTranslation(s, enc, initial[i]!, o.attention ? last.get(initial[i]!)?.attention : undefined)));
      }
      for (let i = 0; i < chunk.length; i++) result.push(outcome.slice(i * o.n, (i + 1) * o.n));
    }
    return result;
  }

  /** Attention rows of a finished token sequence, by feeding its tokens one step at a time. */
  private async attentionOf(step: StepFn<StepState>, init: StepState, tokens: number[]): Promise<number[][]> {
    let state: StepState = { ...init, attention: [] };
    let last = this.special.bos;
    for (const token of tokens) {
      state = (await step([last], [state])).states[0]!;
      last = token;
    }
    return state.attention ?? [];
  }

  async *stream(texts: string | string[], options: TranslateOptions = {}): AsyncGenerator<TranslationToken> {
    this.live();
    const list = this.checkTexts(texts);
    const o = this.options(options);
    if (list.length > MAX_BATCH) throw new InputError(`stream() translates at most ${MAX_BATCH} texts at once, got ${list.length}.`);
    const enc = await this.encode(list);
    const step = this.stepFor(enc, o.attention);
    const initial = list.flatMap((_, i) => Array.from({ length: o.n }, (_, k) => this.initial(enc, i, k, o.sample, o.decoding.seed)));
    // decodeSteps reports the index of the sequence; the attention row of its newest token comes from the
    // state the step returned for it.
    const latest = new Map<number, number[] | undefined>();
    let live: number[] = initial.map((_, i) => i);
    const tracking: StepFn<StepState> = async (tokens, states) => {
      const r = await step(tokens, states);
      r.states.forEach((s, i) => latest.set(live[i]!, s.attention?.[s.attention.length - 1]));
      return r;
    };
    for await (const e of decodeSteps(tracking, initial, this.special, o.decoding)) {
      const att = latest.get(e.index);
      yield {
        source: Math.floor(e.index / o.n),
        sample: e.index % o.n,
        tokenId: e.token,
        token: this.targetTokenizer.idToToken(e.token),
        logprob: e.logprob,
        done: e.done,
        ...(o.attention && att ? { attention: att } : {}),
      };
      if (e.done) live = live.filter((i) => i !== e.index);
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(Object.values(this.sessions).map((s: GraphSession) => s.release()));
  }
}

/** Wraps verified sessions into the public {@link Translator}. */
export function createTranslator(
  manifest: Seq2SeqBundleManifest,
  backend: BackendName,
  tokenizers: { source: WordTokenizer; target: WordTokenizer },
  sessions: { encoder: GraphSession; decoder_step: GraphSession },
  graphs: Record<string, GraphSpec>,
): Translator {
  return new OnnxTranslator(manifest, backend, tokenizers.source, tokenizers.target, sessions, graphs);
}
