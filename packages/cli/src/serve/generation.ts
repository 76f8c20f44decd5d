/**
 * Shared decoder steps for concurrent generations (iteration-level batching): every live sequence of
 * every request of one text bundle advances by one token per scheduler iteration, in one
 * `decoder_step` run per `maxBatch` sequences. New sequences join between steps (after one batched
 * `decoder_init` run) and finished or cancelled ones leave, so a short request never waits for a long
 * one. Token choice is the runtime's (`chooseToken`, one RNG stream per sequence index), so a sequence
 * gets the same tokens as `TextVae.generate` with the same options.
 */
import { argmax, chooseToken, sequenceRng, type ResolvedDecodingOptions, type Rng, type TokenChoice } from '@vaekit/runtime';
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
}

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

  private async step(seqs: Sequence[]): Promise<void> {
    const { latentSize: L, hiddenSize: H, lstm } = this.info;
    const n = seqs.length;
    const feeds: Record<string, Tensor> = {
      token: { dtype: this.info.tokenDtype, dims: [n], data: fromNumbers(this.info.tokenDtype, seqs.map((s) => s.last), 'token') },
      h: { dtype: 'float32', dims: [n, H], data: pack(seqs.map((s) => s.h!), H) },
      z: { dtype: 'float32', dims: [n, L], data: pack(seqs.map((s) => s.z), L) },
    };
    if (lstm) feeds.c = { dtype: 'float32', dims: [n, H], data: pack(seqs.map((s) => s.c!), H) };
    // Greedy rows without a repetition penalty only need argmax and log Z: the worker computes log Z.
    const { outputs: out, logSumExp: lse } = await this.pool.runWith(this.info.stepModel, feeds, 'logits');
    this.observer?.step(this.bundle, n);
    const logits = out.logits!.data as Float32Array;
    const V = logits.length / n;
    const h = out.h_out!.data as Float32Array;
    const c = lstm ? (out.c_out!.data as Float32Array) : undefined;
    seqs.forEach((s, i) => {
      if (s.job.cancelled) return;
      const row = logits.subarray(i * V, (i + 1) * V);
      let choice: TokenChoice;
      if (lse && s.options.strategy !== 'sample' && s.options.repetitionPenalty === 1) {
        // Exactly chooseToken's greedy branch, with logSumExp(row) computed by the worker.
        const token = argmax(row);
        choice = { token, logprob: row[token]! - lse[i]! };
      } else choice = chooseToken(row, s.history, s.options, s.rng);
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
