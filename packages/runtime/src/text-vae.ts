/** The platform-neutral sentence VAE over three ONNX sessions (docs/text-model.md). */
import { TEXT_MODEL, stateOutputName, type GraphSpec, type TextBundleManifest } from '@vaekit/core';
import {
  beamSearch,
  collectSequences,
  decodeBatchSteps,
  resolveDecodingOptions,
  type BatchDecoder,
  type BatchStepOutput,
  type DecodingOptions,
  type GeneratedSequence,
  type ResolvedDecodingOptions,
  type StepFn,
  type StepNeed,
} from '@vaekit/core';
import { floatOutput, intOutput, type EngineTensor, type GraphSession } from './engine.js';
import { InputError, RuntimeError } from './errors.js';
import { interpolateLatent, samplePrior } from './latent.js';
import type { WordTokenizer } from '@vaekit/core';
import type {
  BackendName,
  GenerateOptions,
  Generation,
  InterpolateOptions,
  Posterior,
  StreamToken,
  TextSampleOptions,
  TextVae,
} from './types.js';

/** Sequences sent through the decoder together; more are generated in several batches. */
const MAX_BATCH = 512;

/** Per-sequence decoder state between steps. */
interface DecoderState {
  /** One row per recurrent state tensor (`h`, or `h` and `c`), in the manifest's order. */
  rnn: Float32Array[];
  z: Float32Array;
}

const G = TEXT_MODEL.graphs;
const HEADS = G.decoderStep.heads;
const GREEDY_HEAD = G.decoderStep.greedyHead;

/** The decoder state of a whole batch, packed: one `[n, H]` array per recurrent state, and `z [n, Z]`. */
interface PackedState {
  n: number;
  rnn: Float32Array[];
  z: Float32Array;
}

/** Rows `rows` of a packed `[n, width]` array, in that order. */
function gather(data: Float32Array, width: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/** The three sessions of a text bundle. */
export interface TextSessions {
  encoder: GraphSession;
  decoder_init: GraphSession;
  decoder_step: GraphSession;
}

function rows(data: Float32Array, n: number): Float32Array[] {
  const width = data.length / n;
  return Array.from({ length: n }, (_, i) => data.slice(i * width, (i + 1) * width));
}

function pack(vectors: Float32Array[]): Float32Array {
  const width = vectors[0]?.length ?? 0;
  const out = new Float32Array(vectors.length * width);
  vectors.forEach((v, i) => out.set(v, i * width));
  return out;
}

const output = floatOutput;

class OnnxTextVae implements TextVae {
  readonly kind = 'text' as const;
  readonly latentSize: number;
  /** The recurrent state tensors, in graph order, as the manifest names them. */
  private readonly stateNames: readonly string[];
  private readonly special: { bos: number; eos: number };
  private disposed = false;
  /** Pruned copies of decoder_step by fetch list ({@link OnnxTextVae.stepSession}). */
  private readonly prunedSteps = new Map<string, Promise<GraphSession>>();
  /** K of the step graph's decoding heads; 0 for bundles without them (older exports, webgl graphs). */
  private readonly headsK: number;
  /** Whether the step graph has greedy's `best_logprob` head (bundles exported before it lack it). */
  private readonly hasGreedyHead: boolean;

  constructor(
    readonly manifest: TextBundleManifest,
    readonly backend: BackendName,
    readonly variant: string,
    readonly tokenizer: WordTokenizer,
    private readonly sessions: TextSessions,
    private readonly graphs: Record<string, GraphSpec>,
    private readonly openStep?: (outputs: readonly string[]) => Promise<GraphSession>,
  ) {
    this.latentSize = manifest.latentSize;
    this.stateNames = manifest.text.stateNames;
    this.special = { bos: manifest.text.specialTokens.bos, eos: manifest.text.specialTokens.eos };
    const stepOutputs = new Set(sessions.decoder_step.outputNames);
    const k = graphs.decoder_step?.outputs.find((o) => o.name === HEADS.topIds)?.shape[1];
    this.headsK = Object.values(HEADS).every((name) => stepOutputs.has(name)) && typeof k === 'number' && k > 0 ? k : 0;
    this.hasGreedyHead = this.headsK > 0 && stepOutputs.has(GREEDY_HEAD);
  }

  private live(): void {
    if (this.disposed) throw new RuntimeError('This VAE was disposed; load the bundle again.', { userError: false });
  }

  private checkZ(z: Float32Array[]): void {
    if (!Array.isArray(z) || z.length === 0) throw new InputError('z: expected a non-empty array of Float32Array.');
    z.forEach((v, i) => {
      if (!(v instanceof Float32Array) || v.length !== this.latentSize) {
        throw new InputError(`z[${i}] must be a Float32Array of length ${this.latentSize}, got ${v instanceof Float32Array ? `length ${v.length}` : typeof v}.`);
      }
      const bad = v.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) throw new InputError(`z[${i}] contains ${v[bad]} at index ${bad}; only finite numbers are accepted.`);
    });
  }

  async encode(sentences: string[]): Promise<Posterior> {
    this.live();
    if (!Array.isArray(sentences) || sentences.length === 0 || sentences.some((s) => typeof s !== 'string')) {
      throw new InputError('sentences: expected a non-empty array of strings.');
    }
    const mu: Float32Array[] = [];
    const logvar: Float32Array[] = [];
    // A webgl-profile encoder is unrolled over the training length T (maxLength + 1): its `tokens`
    // input has a fixed time dimension, so every batch is padded to it.
    const fixedT = this.graphs.encoder!.inputs.find((t) => t.name === G.encoder.inputs.tokens)?.shape[1];
    for (let start = 0; start < sentences.length; start += MAX_BATCH) {
      const chunk = sentences.slice(start, start + MAX_BATCH);
      const ids = chunk.map((s) => [...this.tokenizer.encode(s).slice(0, this.manifest.text.maxLength), this.special.eos]);
      const longest = Math.max(...ids.map((r) => r.length));
      const T = typeof fixedT === 'number' && fixedT >= longest ? fixedT : longest;
      const tokens = new Int32Array(chunk.length * T); // right-padded with <pad> = 0
      ids.forEach((r, i) => tokens.set(r, i * T));
      const lengths = Int32Array.from(ids, (r) => r.length);
      const spec = this.graphs.encoder!;
      const out = await this.sessions.encoder.run({
        [G.encoder.inputs.tokens]: { data: tokens, dims: [chunk.length, T] },
        [G.encoder.inputs.lengths]: { data: lengths, dims: [chunk.length] },
      });
      mu.push(...rows(output(out, G.encoder.outputs.mu, spec.file), chunk.length));
      logvar.push(...rows(output(out, G.encoder.outputs.logvar, spec.file), chunk.length));
    }
    return { mu, logvar };
  }

  private async initialStates(z: Float32Array[]): Promise<DecoderState[]> {
    const spec = this.graphs.decoder_init!;
    const out = await this.sessions.decoder_init.run({ [G.decoderInit.inputs.z]: { data: pack(z), dims: [z.length, this.latentSize] } });
    const perState = this.stateNames.map((name) => rows(output(out, name, spec.file), z.length));
    return z.map((zi, i) => ({ rnn: perState.map((s) => s[i]!), z: zi }));
  }

  /** One decoder step for a batch of sequences, each with its own state. */
  private readonly step: StepFn<DecoderState> = async (tokens, states) => {
    const n = tokens.length;
    const H = this.manifest.text.hiddenSize;
    const feeds: Record<string, { data: Float32Array | Int32Array; dims: number[] }> = {
      [G.decoderStep.inputs.token]: { data: Int32Array.from(tokens), dims: [n] },
      [G.decoderStep.inputs.z]: { data: pack(states.map((s) => s.z)), dims: [n, this.latentSize] },
    };
    this.stateNames.forEach((name, k) => (feeds[name] = { data: pack(states.map((s) => s.rnn[k]!)), dims: [n, H] }));
    const spec = this.graphs.decoder_step!;
    const out = await this.sessions.decoder_step.run(feeds);
    const logits = rows(output(out, G.decoderStep.outputs.logits, spec.file), n);
    const next = this.stateNames.map((name) => rows(output(out, stateOutputName(name), spec.file), n));
    return { logits, states: states.map((s, i) => ({ rnn: next.map((rowsOf) => rowsOf[i]!), z: s.z })) };
  };

  /** The step graph as a core {@link BatchDecoder}: packed state, only the outputs a step needs. */
  private readonly batchDecoder: BatchDecoder<PackedState> = {
    headsK: 0,
    step: (tokens, state, need) => this.stepPacked(tokens, state, need),
    select: (state, rows) => {
      const H = this.manifest.text.hiddenSize;
      return { n: rows.length, rnn: state.rnn.map((d) => gather(d, H, rows)), z: gather(state.z, this.latentSize, rows) };
    },
  };

  private async stepPacked(tokens: Int32Array, state: PackedState, need: StepNeed): Promise<BatchStepOutput<PackedState>> {
    const n = state.n;
    const H = this.manifest.text.hiddenSize;
    const feeds: Record<string, EngineTensor> = {
      [G.decoderStep.inputs.token]: { data: tokens, dims: [n] },
      [G.decoderStep.inputs.z]: { data: state.z, dims: [n, this.latentSize] },
    };
    this.stateNames.forEach((name, k) => (feeds[name] = { data: state.rnn[k]!, dims: [n, H] }));
    const stateOuts = this.stateNames.map(stateOutputName);
    const wanted =
      need === 'logits'
        ? [G.decoderStep.outputs.logits]
        : need === 'best'
          ? this.hasGreedyHead
            ? [HEADS.bestId, GREEDY_HEAD]
            : [HEADS.bestId, HEADS.bestLogit, HEADS.logZ]
          : [HEADS.topIds, HEADS.topLogits, HEADS.logZ, ...(need === 'top+logits' ? [G.decoderStep.outputs.logits] : [])];
    const file = this.graphs.decoder_step!.file;
    const fetches = [...wanted, ...stateOuts];
    const out = await (await this.stepSession(fetches)).run(feeds, fetches);
    const next: PackedState = { n, rnn: stateOuts.map((name) => output(out, name, file)), z: state.z };
    let logits: BatchStepOutput<PackedState>['logits'];
    if (need === 'logits' || need === 'top+logits') {
      const data = output(out, G.decoderStep.outputs.logits, file);
      const V = data.length / n;
      logits = (r) => data.subarray(r * V, (r + 1) * V);
    }
    if (need === 'logits') return { logits, state: next };
    if (need === 'best') {
      const bestId = intOutput(out, HEADS.bestId, file);
      const heads = this.hasGreedyHead
        ? { k: this.headsK, bestId, bestLogit: new Float32Array(0), logZ: new Float32Array(0), bestLogprob: output(out, GREEDY_HEAD, file) }
        : { k: this.headsK, bestId, bestLogit: output(out, HEADS.bestLogit, file), logZ: output(out, HEADS.logZ, file) };
      return { heads, state: next };
    }
    const logZ = output(out, HEADS.logZ, file);
    return {
      heads: { k: this.headsK, bestId: new Int32Array(0), bestLogit: new Float32Array(0), topIds: intOutput(out, HEADS.topIds, file), topLogits: output(out, HEADS.topLogits, file), logZ },
      ...(logits ? { logits } : {}),
      state: next,
    };
  }

  /**
   * The step session for a fetch list: a copy of decoder_step pruned to those outputs (opened on first
   * use, one per list), because ONNX Runtime runs every decoding head on every call otherwise (a
   * greedy step would pay for TopK and the float64 log-sum-exp of the others). Bundles without heads
   * use the graph as it is.
   */
  private stepSession(fetches: readonly string[]): Promise<GraphSession> | GraphSession {
    if (!this.openStep || this.headsK === 0) return this.sessions.decoder_step;
    const key = fetches.join('\0');
    let session = this.prunedSteps.get(key);
    if (!session) {
      session = this.openStep(fetches);
      this.prunedSteps.set(key, session);
    }
    return session;
  }

  /** The packed initial state of `z` from decoder_init. */
  private async initialPacked(z: Float32Array[]): Promise<PackedState> {
    const spec = this.graphs.decoder_init!;
    const packedZ = pack(z);
    const out = await this.sessions.decoder_init.run({ [G.decoderInit.inputs.z]: { data: packedZ, dims: [z.length, this.latentSize] } });
    return { n: z.length, rnn: this.stateNames.map((name) => output(out, name, spec.file)), z: packedZ };
  }

  /** Greedy or sampled decoding of `z` (at most MAX_BATCH) with the packed-state decoder. */
  private decodeSteps(z: Float32Array[], decoding: ResolvedDecodingOptions, firstIndex: number) {
    const decoder = { ...this.batchDecoder, headsK: this.headsK };
    const self = this;
    return (async function* () {
      yield* decodeBatchSteps(decoder, await self.initialPacked(z), z.length, self.special, decoding, firstIndex);
    })();
  }

  private latents(options: GenerateOptions, decoding: ResolvedDecodingOptions): Float32Array[] {
    if (options.z !== undefined) {
      this.checkZ(options.z);
      return options.z;
    }
    const n = options.n ?? 1;
    if (!Number.isInteger(n) || n <= 0 || n > 100_000) throw new InputError(`n must be a positive integer (at most 100000), got ${n}.`);
    const t = options.latentTemperature ?? 1;
    if (!(t > 0) || !Number.isFinite(t)) throw new InputError(`latentTemperature must be a positive number, got ${t}.`);
    return samplePrior(n, this.latentSize, options.latentSeed ?? decoding.seed, t);
  }

  private toGeneration(seq: GeneratedSequence, z: Float32Array): Generation {
    return {
      text: this.tokenizer.decode(seq.tokens),
      tokenIds: seq.tokens,
      tokens: seq.tokens.map((t) => this.tokenizer.idToToken(t)),
      logprobs: seq.logprobs,
      logprob: seq.logprob,
      finished: seq.finished,
      z,
    };
  }

  private async decodeZ(z: Float32Array[], decoding: ResolvedDecodingOptions): Promise<Generation[]> {
    const out: Generation[] = [];
    if (decoding.strategy === 'beam') {
      for (const zi of z) {
        const [init] = await this.initialStates([zi]);
        out.push(this.toGeneration(await beamSearch(this.step, init!, this.special, decoding), zi));
      }
      return out;
    }
    for (let start = 0; start < z.length; start += MAX_BATCH) {
      const chunk = z.slice(start, start + MAX_BATCH);
      // Sequence i of the whole request keeps its own RNG stream whatever the chunking.
      const seqs = await collectSequences(this.decodeSteps(chunk, decoding, start), chunk.length, this.special.eos);
      seqs.forEach((s, i) => out.push(this.toGeneration(s, chunk[i]!)));
    }
    return out;
  }

  async generate(options: GenerateOptions = {}): Promise<Generation[]> {
    this.live();
    const decoding = resolveDecodingOptions(options);
    return this.decodeZ(this.latents(options, decoding), decoding);
  }

  async *stream(options: GenerateOptions = {}): AsyncGenerator<StreamToken> {
    this.live();
    const decoding = resolveDecodingOptions(options);
    const z = this.latents(options, decoding);
    if (z.length > MAX_BATCH) throw new InputError(`stream() generates at most ${MAX_BATCH} sequences at once, got ${z.length}.`);
    for await (const e of this.decodeSteps(z, decoding, 0)) {
      yield { index: e.index, tokenId: e.token, token: this.tokenizer.idToToken(e.token), logprob: e.logprob, done: e.done };
    }
  }

  async sample(n: number, options: TextSampleOptions = {}): Promise<Generation[]> {
    return this.generate({ ...options, n });
  }

  async reconstruct(sentences: string | string[], options: DecodingOptions = {}): Promise<Generation[]> {
    const { mu } = await this.encode(typeof sentences === 'string' ? [sentences] : sentences);
    return this.generate({ ...options, z: mu });
  }

  async interpolate(a: string, b: string, options: number | (InterpolateOptions & DecodingOptions) = {}): Promise<Generation[]> {
    const { steps, method, ...decoding } = typeof options === 'number' ? { steps: options } : options;
    const { mu } = await this.encode([a, b]);
    return this.generate({ ...decoding, z: interpolateLatent(mu[0]!, mu[1]!, steps ?? 5, method ?? 'linear') });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const pruned = await Promise.allSettled(this.prunedSteps.values());
    await Promise.all([...Object.values(this.sessions), ...pruned.flatMap((p) => (p.status === 'fulfilled' ? [p.value] : []))].map((s: GraphSession) => s.release()));
  }
}

/** Wraps verified sessions into the public {@link TextVae}. */
export function createTextVae(
  manifest: TextBundleManifest,
  backend: BackendName,
  variant: string,
  tokenizer: WordTokenizer,
  sessions: TextSessions,
  graphs: Record<string, GraphSpec>,
  openStep?: (outputs: readonly string[]) => Promise<GraphSession>,
): TextVae {
  return new OnnxTextVae(manifest, backend, variant, tokenizer, sessions, graphs, openStep);
}
