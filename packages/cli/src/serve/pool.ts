/** A fixed pool of inference worker threads, each holding every served graph. */
import { Worker } from 'node:worker_threads';
import type { Tensor } from './tensors.js';
import type { WorkerInit, WorkerRequest, WorkerResponse } from './worker.js';

/** Outputs of one run, and the per-row log-sum-exp when asked for. */
export interface RunResult {
  outputs: Record<string, Tensor>;
  logSumExp?: Float64Array;
}

interface Pending {
  resolve: (result: RunResult) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  /** False once the worker thread has exited; it gets no more work. */
  alive: boolean;
  busy: number;
  pending: Map<number, Pending>;
}

/** Batches a worker holds at once: one running, one waiting. */
export const PIPELINE_DEPTH = 2;

/** Failure inside ONNX Runtime (a 500 for the client, not bad input). */
export class InferenceError extends Error {
  override name = 'InferenceError';
}

/**
 * Worker threads running ONNX Runtime. {@link WorkerPool.run} sends one batch to the least busy
 * worker; {@link WorkerPool.idle} tells a batcher whether a worker is free, so queues grow into bigger
 * batches while every worker is busy.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private readonly waiters: Array<() => void> = [];
  private closing = false;

  private constructor() {}

  /** Starts `size` workers with the given models and waits until each has loaded them. */
  static async start(models: Record<string, Uint8Array>, size: number, threads = 1): Promise<WorkerPool> {
    const pool = new WorkerPool();
    const url = new URL('./worker.js', import.meta.url);
    await Promise.all(
      Array.from({ length: size }, async () => {
        const init: WorkerInit = { models, threads };
        const worker = new Worker(url, { workerData: init });
        const slot: Slot = { worker, alive: true, busy: 0, pending: new Map() };
        await new Promise<void>((resolve, reject) => {
          const first = (msg: { ready?: boolean; fatal?: string }) => {
            worker.off('message', first);
            if (msg.fatal) reject(new InferenceError(`An inference worker could not load the models: ${msg.fatal}`));
            else resolve();
          };
          worker.on('message', first);
          worker.once('error', reject);
        });
        worker.on('message', (msg: WorkerResponse) => pool.settle(slot, msg));
        worker.on('error', (err) => pool.failAll(slot, err));
        worker.on('exit', (code) => pool.failAll(slot, new Error(`the worker thread exited with code ${code}`)));
        pool.slots.push(slot);
      }),
    );
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.slots.length;
  }

  /** Batches running now, over all workers. */
  get busy(): number {
    return this.slots.reduce((n, s) => n + s.busy, 0);
  }

  /**
   * True when some worker can take a batch: it has fewer than {@link PIPELINE_DEPTH} batches (or no
   * worker is left: then runs fail at once instead of waiting). Two per worker keep the next batch
   * queued in the worker while it runs one, so it never waits for the main thread to wake up.
   */
  idle(): boolean {
    return this.slots.some((s) => s.alive && s.busy < PIPELINE_DEPTH) || !this.slots.some((s) => s.alive);
  }

  /** Resolves when some worker becomes free (immediately when one is). */
  whenIdle(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Runs one batch of `model` on the least busy worker. */
  run(model: string, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    return this.runWith(model, feeds).then((r) => r.outputs);
  }

  /**
   * {@link WorkerPool.run} with options: `logSumExpOf` also returns the per-row log-sum-exp of that
   * output; `fetch` names the outputs to compute and return (default: all).
   */
  runWith(model: string, feeds: Record<string, Tensor>, options: { logSumExpOf?: string; fetch?: string[] } = {}): Promise<RunResult> {
    const { logSumExpOf, fetch } = options;
    const live = this.slots.filter((s) => s.alive);
    if (live.length === 0) return Promise.reject(new InferenceError('No inference worker is running (they exited); restart the server.'));
    const slot = live.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    slot.busy++;
    const req: WorkerRequest = { id, model, feeds, ...(logSumExpOf ? { logSumExpOf } : {}), ...(fetch ? { fetch } : {}) };
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(req);
    });
  }

  private settle(slot: Slot, msg: WorkerResponse): void {
    const p = slot.pending.get(msg.id);
    if (!p) return;
    slot.pending.delete(msg.id);
    slot.busy--;
    if ('error' in msg) p.reject(new InferenceError(msg.error));
    else p.resolve({ outputs: msg.outputs, ...(msg.logSumExp ? { logSumExp: msg.logSumExp } : {}) });
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
  }

  private failAll(slot: Slot, err: Error): void {
    if (this.closing) return;
    slot.alive = false;
    for (const p of slot.pending.values()) p.reject(new InferenceError(`An inference worker failed: ${err.message}`));
    slot.pending.clear();
    slot.busy = 0;
    this.waiters.splice(0).forEach((w) => w());
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
