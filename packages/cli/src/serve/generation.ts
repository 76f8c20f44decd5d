/**
 * Shared decoder steps for concurrent generations (iteration-level batching): every live sequence of
 * every request of one text bundle advances by one token per scheduler iteration, in one
 * `decoder_step` run per `maxBatch` sequences. New sequences join between steps (after one batched
 * `decoder_init` run) and finished or cancelled ones leave, so a short request never waits for a long
 * one. Token choice is the runtime's (`chooseToken`, one RNG stream per sequence index), so a sequence
 * gets the same tokens as `TextVae.generate` with the same options.
 */
import { TEXT_MODEL } from '@vaekit/core';
import {
  argmax,
  chooseFromStep,
  chooseToken,
  sequenceRng,
  stepNeed,
  type DecodingHeads,
  type ResolvedDecodingOptions,
  type Rng,
  type StepNeed,
  type TokenChoice,
} from '@vaekit/runtime';
import type { WorkerPool } from './pool.js';
import { fromNumbers, type Dtype, type Tensor } from './tensors.js';

/** What the scheduler needs to know about a text bundle's decoder graphs. */
export interface DecoderInfo {
  initModel: string;
  stepModel: string;
  hiddenSize: number;
  latentSize: number;
  lstm: boolean;
  tokenDtype: Dtype;
  bos: number;
  eos: number;
  /**
   * K of the step graph's decoding heads (TEXT_MODEL.graphs.decoderStep.heads), 0 when it has none:
   * with them a step fetches the best token, the top K and log Z instead of every logit.
   */
  headsK: number;
  /** Whether the step graph has greedy's `best_logprob` head (a greedy step then fetches it and `best_id` only). */
  greedyHead: boolean;
}

const HEADS = TEXT_MODEL.graphs.decoderStep.heads;
const GREEDY_HEAD = TEXT_MODEL.graphs.decoderStep.greedyHead;
const NEED_RANK: Record<StepNeed, number> = { best: 0, top: 1, 'top+logits': 2, logits: 3 };

/** One token chosen for one sequence. */
export interface TokenEvent {
  index: number;
  tokenId: number;
  logprob: number;
  done: boolean;
}

/** Hooks for metrics. */
export interface GenerationObserver {
  step(bundle: string, sequences: number): void;
  active(bundle: string, sequences: number): void;
}

interface Sequence {
  index: number;
  z: Float32Array;
  options: ResolvedDecodingOptions;
  rng: Rng;
  history: number[];
  last: number;
  t: number;
  h?: Float32Array;
  c?: Float32Array;
  job: Job;
}

interface Job {
  cancelled: boolean;
  live: number;
  onToken: (e: TokenEvent) => void;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A running generation: its completion, and a way to stop it (client gone). */
export interface GenerationHandle {
  done: Promise<void>;
  cancel(): void;
}

function pack(rows: Float32Array[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(r, i * width));
  return out;
}

/** One loop of shared decoder steps (see {@link GenerationScheduler}). */
class Lane {
  private pending: Sequence[] = [];
  private active: Sequence[] = [];
  private running = false;

  constructor(
    readonly bundle: string,
    private readonly pool: WorkerPool,
    private readonly info: DecoderInfo,
    private readonly maxBatch: number,
    private readonly onActive: () => void,
    private readonly observer?: GenerationObserver,
  ) {}

  /** Sequences being generated now. */
  get size(): number {
    return this.active.length + this.pending.length;
  }

  generate(z: Float32Array[], options: ResolvedDecodingOptions, onToken: (e: TokenEvent) => void): GenerationHandle {
    let job!: Job;
    const done = new Promise<void>((resolve, reject) => {
      job = { cancelled: false, live: z.length, onToken, resolve, reject };
    });
    z.forEach((zi, index) =>
      this.pending.push({ index, z: zi, options, rng: sequenceRng(options.seed, index), history: [], last: this.info.bos, t: 0, job }),
    );
    if (!this.running) void this.loop();
    return {
      done,
      cancel: () => {
        if (job.cancelled) return;
        job.cancelled = true;
        job.resolve();
      },
    };
  }

  private chunks<T>(items: T[]): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < items.length; i += this.maxBatch) out.push(items.slice(i, i + this.maxBatch));
    return out;
  }

  private fail(seqs: Sequence[], err: Error): void {
    for (const s of seqs) {
      if (!s.job.cancelled) {
        s.job.cancelled = true;
        s.job.reject(err);
      }
    }
  }

  private async initialise(seqs: Sequence[]): Promise<void> {
    const { latentSize: L, hiddenSize: H, lstm } = this.info;
    const out = await this.pool.run(this.info.initModel, { z: { dtype: 'float32', dims: [seqs.length, L], data: pack(seqs.map((s) => s.z), L) } });
    const h = out.h!.data as Float32Array;
    const c = lstm ? (out.c!.data as Float32Array) : undefined;
    seqs.forEach((s, i) => {
      s.h = h.slice(i * H, (i + 1) * H);
      if (c) s.c = c.slice(i * H, (i + 1) * H);
    });
  }

  private stepFeeds(seqs: Sequence[]): Record<string, Tensor> {
    const { latentSize: L, hiddenSize: H, lstm } = this.info;
    const n = seqs.length;
    const feeds: Record<string, Tensor> = {
      token: { dtype: this.info.tokenDtype, dims: [n], data: fromNumbers(this.info.tokenDtype, seqs.map((s) => s.last), 'token') },
      h: { dtype: 'float32', dims: [n, H], data: pack(seqs.map((s) => s.h!), H) },
      z: { dtype: 'float32', dims: [n, L], data: pack(seqs.map((s) => s.z), L) },
    };
    if (lstm) feeds.c = { dtype: 'float32', dims: [n, H], data: pack(seqs.map((s) => s.c!), H) };
    return feeds;
  }

  /**
   * One step over the whole logits rows (no heads, or options the heads cannot serve). Greedy rows
   * without a repetition penalty only need argmax and log Z: the worker computes log Z.
   */
  private async stepWithLogits(seqs: Sequence[]): Promise<{ choices: TokenChoice[]; outputs: Record<string, Tensor> }> {
    const fetch = ['logits', ...(this.info.lstm ? ['h_out', 'c_out'] : ['h_out'])];
    const { outputs, logSumExp: lse } = await this.pool.runWith(this.info.stepModel, this.stepFeeds(seqs), { logSumExpOf: 'logits', fetch });
    const logits = outputs.logits!.data as Float32Array;
    const V = logits.length / seqs.length;
    const choices = seqs.map((s, i) => {
      const row = logits.subarray(i * V, (i + 1) * V);
      if (lse && s.options.strategy !== 'sample' && s.options.repetitionPenalty === 1) {
        // Exactly chooseToken's greedy branch, with logSumExp(row) computed by the worker.
        const token = argmax(row);
        return { token, logprob: row[token]! - lse[i]! };
      }
      return chooseToken(row, s.history, s.options, s.rng);
    });
    return { choices, outputs };
  }

  private async step(seqs: Sequence[]): Promise<void> {
    const { hiddenSize: H, lstm, headsK } = this.info;
    const stateOutputs = lstm ? ['h_out', 'c_out'] : ['h_out'];
    // What this step must fetch: the most any of its sequences needs (stepNeed: best < top < top+logits < logits).
    const need = seqs.reduce<StepNeed>((a, s) => {
      const b = stepNeed(s.options, headsK);
      return NEED_RANK[b] > NEED_RANK[a] ? b : a;
    }, 'best');
    let choices: Array<TokenChoice | undefined>;
    let out: Record<string, Tensor>;
    if (need === 'logits') {
      ({ choices, outputs: out } = await this.stepWithLogits(seqs));
    } else {
      const top = need !== 'best';
      // A greedy-only step reads best_id and best_logprob when the graph has it (no TopK, no float64 log Z).
      const greedy = !top && this.info.greedyHead;
      const fetch = greedy
        ? [...stateOutputs, HEADS.bestId, GREEDY_HEAD]
        : [...stateOutputs, HEADS.bestId, HEADS.bestLogit, HEADS.logZ, ...(top ? [HEADS.topIds, HEADS.topLogits] : []), ...(need === 'top+logits' ? ['logits'] : [])];
      out = await this.pool.runWith(this.info.stepModel, this.stepFeeds(seqs), { fetch }).then((r) => r.outputs);
      const empty = new Float32Array(0);
      const heads: DecodingHeads = {
        bestId: out[HEADS.bestId]!.data as Int32Array,
        bestLogit: greedy ? empty : (out[HEADS.bestLogit]!.data as Float32Array),
        logZ: greedy ? empty : (out[HEADS.logZ]!.data as Float32Array),
        k: headsK,
        ...(greedy ? { bestLogprob: out[GREEDY_HEAD]!.data as Float32Array } : {}),
        ...(top ? { topIds: out[HEADS.topIds]!.data as Int32Array, topLogits: out[HEADS.topLogits]!.data as Float32Array } : {}),
      };
      const logits = out.logits?.data as Float32Array | undefined;
      const V = logits ? logits.length / seqs.length : 0;
      choices = seqs.map((s, i) => chooseFromStep(heads, logits?.subarray(i * V, (i + 1) * V), i, s.history, s.options, s.rng));
      // Rows the heads cannot decide exactly (a nucleus larger than K, or a boundary within rounding):
      // the same step again for those rows, with their whole logits (chooseTokenFromHeads drew nothing).
      const undecided = seqs.flatMap((s, i) => (choices[i] === undefined ? [i] : []));
      if (undecided.length > 0) {
        const again = await this.stepWithLogits(undecided.map((i) => seqs[i]!));
        undecided.forEach((i, j) => (choices[i] = again.choices[j]));
      }
    }
    this.observer?.step(this.bundle, seqs.length);
    const h = out.h_out!.data as Float32Array;
    const c = lstm ? (out.c_out!.data as Float32Array) : undefined;
    seqs.forEach((s, i) => {
      if (s.job.cancelled) return;
      const choice = choices[i]!;
      s.history.push(choice.token);
      const done = choice.token === this.info.eos || s.t === s.options.maxTokens - 1;
      s.t++;
      s.last = choice.token;
      s.h = h.slice(i * H, (i + 1) * H);
      if (c) s.c = c.slice(i * H, (i + 1) * H);
      s.job.onToken({ index: s.index, tokenId: choice.token, logprob: choice.logprob, done });
      if (done) {
        s.t = Infinity;
        if (--s.job.live === 0) s.job.resolve();
      }
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0 || this.active.length > 0) {
        // Newcomers get their initial state while the live sequences take a step: both runs are
        // queued at once (no extra round trip per iteration); the newcomers step from the next one.
        const joining = this.pending.filter((s) => !s.job.cancelled);
        this.pending = [];
        this.active = this.active.filter((s) => !s.job.cancelled);
        this.onActive();
        const stepping = this.active;
        const joined: Sequence[] = [];
        await Promise.all([
          ...this.chunks(joining).map((chunk) => this.initialise(chunk).then(() => joined.push(...chunk), (err: Error) => this.fail(chunk, err))),
          ...this.chunks(stepping).map((chunk) => this.step(chunk).catch((err: Error) => this.fail(chunk, err))),
        ]);
        this.active = [...stepping.filter((s) => !s.job.cancelled && s.t !== Infinity), ...joined.filter((s) => !s.job.cancelled)];
        // Let new requests and client disconnects in before the next step.
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
      this.onActive();
    }
  }
}

/**
 * The iteration-level scheduler of one text bundle: two lanes of shared decoder steps, so that while
 * a worker runs one lane's step the main thread chooses the tokens of the other's (the worker and the
 * main thread overlap instead of waiting for each other). A request's sequences all go to the lane
 * with fewer sequences.
 */
export class GenerationScheduler {
  private readonly lanes: Lane[];

  constructor(
    readonly bundle: string,
    pool: WorkerPool,
    info: DecoderInfo,
    maxBatch: number,
    private readonly observer?: GenerationObserver,
    lanes = 2,
  ) {
    const report = () => this.observer?.active(this.bundle, this.size);
    this.lanes = Array.from({ length: lanes }, () => new Lane(bundle, pool, info, maxBatch, report, observer));
  }

  /** Sequences being generated now. */
  get size(): number {
    return this.lanes.reduce((n, l) => n + l.size, 0);
  }

  /**
   * Generates one sequence per latent vector; `onToken` gets every token as it is chosen (index =
   * position in `z`). Resolves when every sequence has finished.
   */
  generate(z: Float32Array[], options: ResolvedDecodingOptions, onToken: (e: TokenEvent) => void): GenerationHandle {
    const lane = this.lanes.reduce((a, b) => (b.size < a.size ? b : a));
    return lane.generate(z, options, onToken);
  }
}
