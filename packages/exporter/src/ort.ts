/**
 * All of the exporter's contact with ONNX Runtime: sessions for the parity check (onnxruntime-node, or
 * onnxruntime-web's WASM backend, which also runs in Node) and the graph runner held-out evaluations
 * use. ORT tensors never leave this module: callers feed and read plain typed arrays.
 */
import * as ort from 'onnxruntime-node';
import { ExportError } from './errors.js';

/** One input tensor as plain data. */
export interface ParityInput {
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
  shape: number[];
}

/** An ONNX Runtime build the exporter can run graphs on. */
export type ParityRuntime = 'node' | 'wasm';

/** The ONNX Runtime builds parity can run on. */
export const PARITY_RUNTIMES: readonly ParityRuntime[] = ['node', 'wasm'];

/** An open session over one ONNX file. */
export interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, ParityInput>): Promise<Record<string, { data: ArrayLike<number>; dims: readonly number[] }>>;
  release(): Promise<void>;
}

/** Opens a session with onnxruntime-node or onnxruntime-web's WASM backend. */
export async function openSession(runtime: ParityRuntime, bytes: Uint8Array): Promise<OrtSession> {
  if (runtime === 'node') {
    const session = await ort.InferenceSession.create(bytes);
    return {
      inputNames: session.inputNames,
      outputNames: session.outputNames,
      run: async (feeds) => {
        const t: Record<string, ort.Tensor> = {};
        for (const [n, f] of Object.entries(feeds)) t[n] = new ort.Tensor(f.dtype, f.data, f.shape);
        return (await session.run(t)) as unknown as Awaited<ReturnType<OrtSession['run']>>;
      },
      release: () => session.release(),
    };
  }
  // Loaded on demand: only parity against the browser build needs it.
  const web = await import('onnxruntime-web');
  // One thread: worker threads need a cross-origin-isolated page in browsers and add nothing here.
  web.env.wasm.numThreads = 1;
  const session = await web.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run: async (feeds) => {
      const t: Record<string, InstanceType<typeof web.Tensor>> = {};
      for (const [n, f] of Object.entries(feeds)) t[n] = new web.Tensor(f.dtype, f.data, f.shape);
      return (await session.run(t)) as unknown as Awaited<ReturnType<OrtSession['run']>>;
    },
    release: () => session.release(),
  };
}

/** Runs one graph of a bundle by name on named inputs (ONNX Runtime for Node); for held-out evaluations. */
export type GraphRunner = (
  graph: string,
  feeds: Record<string, ParityInput>,
) => Promise<Record<string, { data: Float32Array; dims: number[] }>>;

/** A {@link GraphRunner} over in-memory ONNX files; `release` closes the sessions it opened. */
export function graphRunner(files: Record<string, Uint8Array>): { run: GraphRunner; release: () => Promise<void> } {
  const sessions = new Map<string, Promise<OrtSession>>();
  const run: GraphRunner = async (graph, feeds) => {
    const bytes = files[graph];
    if (!bytes) throw new ExportError(`No graph named ${JSON.stringify(graph)}. Should be one of: ${Object.keys(files).join(', ')}.`, { userError: false });
    let s = sessions.get(graph);
    if (!s) {
      s = openSession('node', bytes);
      sessions.set(graph, s);
    }
    const out = await (await s).run(feeds);
    return Object.fromEntries(Object.entries(out).map(([n, v]) => [n, { data: v.data as Float32Array, dims: [...v.dims] }]));
  };
  const release = async () => {
    for (const s of sessions.values()) await (await s).release();
    sessions.clear();
  };
  return { run, release };
}
