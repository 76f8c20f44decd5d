/**
 * The runtime's own facades (the classifier, the translator, any kind registered with the runtime)
 * running on the server's worker pool: each graph's session is a {@link GraphSession} whose `run`
 * goes through that graph's dynamic batcher, so concurrent requests share ONNX Runtime calls while
 * the decoding, tokenization and decisions stay exactly the runtime's (one place for them).
 */
import { runtimeKind, type EngineTensor, type GraphSession, type GraphSpec } from '@vaekit/runtime';
import type { DynamicBatcher } from './batcher.js';
import type { ServedBundle, ServedModel } from './models.js';
import type { Tensor } from './tensors.js';

/** A graph session whose runs are batched with other requests' runs of the same graph. */
function batchedSession(model: ServedModel, batcher: DynamicBatcher): GraphSession {
  return {
    inputNames: model.inputs.map((t) => t.name),
    outputNames: model.outputs.map((t) => t.name),
    async run(feeds: Record<string, EngineTensor>, fetches?: readonly string[]): Promise<Record<string, EngineTensor>> {
      const tensors: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) tensors[name] = { dtype: t.data instanceof Int32Array ? 'int32' : 'float32', dims: t.dims, data: t.data };
      const out = await batcher.submit(tensors);
      const result: Record<string, EngineTensor> = {};
      for (const name of fetches ?? Object.keys(out)) {
        const t = out[name];
        if (t && (t.data instanceof Float32Array || t.data instanceof Int32Array)) result[name] = { data: t.data, dims: t.dims };
      }
      return result;
    },
    // The pool owns the ONNX Runtime sessions; they close with the server.
    release: async () => {},
  };
}

/**
 * The runtime facade of `bundle` (its kind's `create`, fed what its `prepare` read at load time) over
 * batched sessions. `batcherOf` gives the batcher of a served model.
 */
export function servedFacade(bundle: ServedBundle, batcherOf: (model: ServedModel) => DynamicBatcher): unknown {
  const sessions: Record<string, GraphSession> = {};
  const graphs: Record<string, GraphSpec> = {};
  const manifestGraphs = bundle.manifest.graphs as unknown as Record<string, GraphSpec>;
  for (const [key, model] of Object.entries(bundle.models)) {
    sessions[key] = batchedSession(model, batcherOf(model));
    graphs[key] = manifestGraphs[key]!;
  }
  return runtimeKind(bundle.manifest.kind).create({ manifest: bundle.manifest, backend: 'cpu', profile: 'default', sessions, graphs, prepared: bundle.prepared });
}
