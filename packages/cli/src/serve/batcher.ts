/**
 * Dynamic batching per graph: requests to one graph that arrive while the workers are busy, or within
 * `maxDelayMs` of each other while some worker is busy, run as one ONNX Runtime call of up to
 * `maxBatch` rows (the first dimension of every input). When no worker is busy the requests of one
 * event-loop turn run at once (no delay at low load). Requests whose other dimensions differ wait for separate batches.
 */
import type { WorkerPool } from './pool.js';
import { concatRows, sliceRows, type Tensor } from './tensors.js';

/** Batching limits; `maxBatch: 1` turns batching off (one run per request). */
export interface BatchingOptions {
  maxBatch: number;
  maxDelayMs: number;
}

/** Hooks for metrics. */
export interface BatchObserver {
  batch(model: string, rows: number, requests: number): void;
  queue(model: string, length: number): void;
}

interface Item {
  feeds: Record<string, Tensor>;
  rows: number;
  key: string;
  at: number;
  resolve: (out: Record<string, Tensor>) => void;
  reject: (err: Error) => void;
}

function shapeKey(feeds: Record<string, Tensor>): string {
  return Object.keys(feeds)
    .sort()
    .map((k) => `${k}:${feeds[k]!.dims.slice(1).join('x')}`)
    .join(',');
}

/** The dynamic batcher of one graph. */
export class DynamicBatcher {
  private readonly queue: Item[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private waitingForWorker = false;

  constructor(
    readonly model: string,
    private readonly pool: WorkerPool,
    private readonly options: BatchingOptions,
    private readonly observer?: BatchObserver,
  ) {}

  /** Requests waiting for a batch. */
  get length(): number {
    return this.queue.length;
  }

  /** Runs `feeds` (all inputs sharing the first dimension) as part of some batch. */
  submit(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const rows = Object.values(feeds)[0]?.dims[0] ?? 1;
    return new Promise((resolve, reject) => {
      this.queue.push({ feeds, rows, key: shapeKey(feeds), at: performance.now(), resolve, reject });
      this.observer?.queue(this.model, this.queue.length);
      this.scheduleSoon();
    });
  }

  /**
   * Schedules after the current event-loop turn, once: every request parsed in this turn (many, under
   * load) is queued by then, so they leave as one batch rather than the first alone because a worker
   * happened to be idle. Costs microseconds of latency, not `maxDelayMs`.
   */
  private scheduleSoon(): void {
    if (this.immediate) return;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.queue.length === 0) return;
    if (!this.pool.idle()) {
      // Every worker is busy: keep collecting; the batch goes out when one is free.
      if (!this.waitingForWorker) {
        this.waitingForWorker = true;
        void this.pool.whenIdle().then(() => {
          this.waitingForWorker = false;
          this.schedule();
        });
      }
      return;
    }
    const head = this.queue[0]!;
    let rows = 0;
    for (const it of this.queue) if (it.key === head.key) rows += it.rows;
    const waited = performance.now() - head.at;
    // With nothing running anywhere, waiting only adds latency: go now. Under load the workers are
    // busy, requests queue up meanwhile, and each free worker takes a full batch.
    const eager = this.pool.busy === 0;
    if (eager || rows >= this.options.maxBatch || waited >= this.options.maxDelayMs || this.options.maxBatch === 1) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.flush();
      this.schedule();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, Math.max(0, this.options.maxDelayMs - waited));
    }
  }

  private flush(): void {
    const head = this.queue[0]!;
    const taken: Item[] = [];
    let rows = 0;
    for (let i = 0; i < this.queue.length; ) {
      const it = this.queue[i]!;
      if (it.key === head.key && (taken.length === 0 || rows + it.rows <= this.options.maxBatch)) {
        taken.push(it);
        rows += it.rows;
        this.queue.splice(i, 1);
      } else i++;
    }
    this.observer?.queue(this.model, this.queue.length);
    this.observer?.batch(this.model, rows, taken.length);
    const feeds: Record<string, Tensor> = {};
    for (const name of Object.keys(head.feeds)) feeds[name] = concatRows(taken.map((t) => t.feeds[name]!));
    this.pool.run(this.model, feeds).then(
      (out) => {
        let start = 0;
        for (const it of taken) {
          const mine: Record<string, Tensor> = {};
          for (const [name, t] of Object.entries(out)) mine[name] = taken.length === 1 ? t : sliceRows(t, start, it.rows);
          start += it.rows;
          it.resolve(mine);
        }
        this.schedule();
      },
      (err: Error) => {
        for (const it of taken) it.reject(err);
        this.schedule();
      },
    );
  }
}
