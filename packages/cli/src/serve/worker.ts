/**
 * One inference worker thread: holds an onnxruntime-node session per served graph and runs the
 * batches the main thread sends. ORT's `run()` blocks its thread, so the HTTP event loop stays on the
 * main thread and answers health checks and new connections while batches run here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { logSumExp, pruneOutputs } from '@vaekit/runtime';
import type { Tensor } from './tensors.js';

/** What the main thread gives each worker. */
export interface WorkerInit {
  /** ONNX bytes of each model, by model name. */
  models: Record<string, Uint8Array>;
  /** ORT intra-op threads per session. */
  threads: number;
}

/** A batch to run. */
export interface WorkerRequest {
  id: number;
  model: string;
  feeds: Record<string, Tensor>;
  /**
   * Name of a float [rows, V] output whose per-row log-sum-exp the worker computes (greedy decoding's
   * normaliser, the costliest per-token work), so the main thread does not have to.
   */
  logSumExpOf?: string;
  /**
   * Outputs to fetch; all outputs when absent. ORT runs every node of a graph whatever it fetches, so a
   * fetch list runs on a copy of the graph pruned to it (kept per list, at most {@link MAX_PRUNED}).
   */
  fetch?: string[];
}

/** The answer to a {@link WorkerRequest}. */
export type WorkerResponse = { id: number; outputs: Record<string, Tensor>; logSumExp?: Float64Array } | { id: number; error: string };

const init = workerData as WorkerInit;
const sessions = new Map<string, ort.InferenceSession>();
/**
 * Pruned sessions per model by fetch list (the step graph's decoding needs: a handful). Each holds a
 * copy of the weights it reads, so lists beyond this many per model run on the whole graph instead.
 */
const MAX_PRUNED = 6;
const pruned = new Map<string, Map<string, Promise<ort.InferenceSession>>>();

function createSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: init.threads,
    interOpNumThreads: 1,
  });
}

async function start(): Promise<void> {
  for (const [name, bytes] of Object.entries(init.models)) sessions.set(name, await createSession(bytes));
  parentPort!.postMessage({ ready: true });
}

/** The session that computes `fetch` of `model` with the least work. */
async function sessionFor(model: string, whole: ort.InferenceSession, fetch: readonly string[] | undefined): Promise<ort.InferenceSession> {
  if (!fetch || whole.outputNames.every((name) => fetch.includes(name)) || !fetch.every((name) => whole.outputNames.includes(name))) return whole;
  const key = [...fetch].sort().join('\0');
  let byFetch = pruned.get(model);
  if (!byFetch) pruned.set(model, (byFetch = new Map()));
  let session = byFetch.get(key);
  if (!session) {
    if (byFetch.size >= MAX_PRUNED) return whole;
    session = createSession(pruneOutputs(init.models[model]!, fetch));
    byFetch.set(key, session);
  }
  return session;
}

const ORT_TYPE = { float32: 'float32', int32: 'int32', int64: 'int64', bool: 'bool' } as const;

async function run(req: WorkerRequest): Promise<WorkerResponse> {
  const session = sessions.get(req.model);
  if (!session) return { id: req.id, error: `Unknown model "${req.model}".` };
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(req.feeds)) {
    feeds[name] = new ort.Tensor(ORT_TYPE[t.dtype], t.dtype === 'bool' ? Uint8Array.from(t.data as Uint8Array) : t.data, t.dims);
  }
  const runner = await sessionFor(req.model, session, req.fetch);
  const result = req.fetch ? await runner.run(feeds, req.fetch) : await runner.run(feeds);
  const outputs: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(result)) {
    const dtype = t.type === 'float32' || t.type === 'int32' || t.type === 'int64' || t.type === 'bool' ? t.type : undefined;
    if (!dtype) return { id: req.id, error: `${req.model} output "${name}" has type ${t.type}, which the server does not return.` };
    // A copy in a buffer of our own, so it can be transferred (ORT may own the original).
    outputs[name] = { dtype, dims: [...t.dims], data: (t.data as Tensor['data']).slice() };
    t.dispose();
  }
  if (req.logSumExpOf) {
    const t = outputs[req.logSumExpOf];
    if (!t || !(t.data instanceof Float32Array)) return { id: req.id, error: `${req.model} has no float output "${req.logSumExpOf}".` };
    const rows = t.dims[0]!;
    const width = rows === 0 ? 0 : t.data.length / rows;
    const lse = new Float64Array(rows);
    for (let r = 0; r < rows; r++) lse[r] = logSumExp(t.data.subarray(r * width, (r + 1) * width));
    return { id: req.id, outputs, logSumExp: lse };
  }
  return { id: req.id, outputs };
}

parentPort!.on('message', (req: WorkerRequest) => {
  run(req).then(
    (res) => {
      const transfer = 'outputs' in res ? [...Object.values(res.outputs).map((t) => t.data.buffer as ArrayBuffer), ...(res.logSumExp ? [res.logSumExp.buffer as ArrayBuffer] : [])] : [];
      parentPort!.postMessage(res, transfer);
    },
    (err: unknown) => parentPort!.postMessage({ id: req.id, error: String((err as Error)?.message ?? err).split('\n')[0] }),
  );
});

start().catch((err: unknown) => {
  parentPort!.postMessage({ fatal: String((err as Error)?.message ?? err).split('\n')[0] });
});
