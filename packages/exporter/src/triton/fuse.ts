/**
 * The stateful decoder for Triton's sequence batcher, made by merging two exported ONNX graphs at the
 * protobuf level: `decoder_init` (`z -> h[, c]`) and `decoder_step` (`token, h[, c], z -> logits,
 * h_out[, c_out]`). Triton's implicit state starts as zeros (or a file), never as a function of z, so
 * the fused graph takes the sequence-start control `START` ([batch, 1] int32, 1 on a sequence's first
 * request) and picks, per row, `decoder_init(z)` when it is set and the carried state otherwise
 * (`Where`), then runs the step. Both graphs' nodes and weights are kept unchanged under prefixed
 * names, so the fused graph computes exactly what the two graphs compute.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { ExportError } from '../errors.js';

const SCHEMA_URL = new URL('../../schema/onnx.proto', import.meta.url);

let modelType: protobuf.Type | undefined;
function model(): protobuf.Type {
  modelType ??= protobuf.parse(readFileSync(SCHEMA_URL, 'utf8'), { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/* Decoded protobuf messages are edited in place (int64 fields stay Long, so nothing loses precision). */
interface Dim {
  dim_value?: unknown;
  dim_param?: string;
}
interface ValueInfo {
  name: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: Dim[] } } };
}
interface Attribute {
  name: string;
  g?: unknown;
  graphs?: unknown[];
}
interface Node {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: Attribute[];
}
interface Graph {
  name?: string;
  node: Node[];
  initializer: Array<{ name: string }>;
  sparse_initializer?: unknown[];
  input: ValueInfo[];
  output: ValueInfo[];
  value_info?: ValueInfo[];
}
interface Model {
  ir_version?: unknown;
  opset_import: Array<{ domain?: string; version?: unknown }>;
  graph: Graph;
}

/** Name of the sequence-start control input of the fused graph. */
export const START_INPUT = 'START';

const ONNX_INT32 = 6;
const ONNX_BOOL = 9;
const ATTR_INT = 2;

function decode(bytes: Uint8Array, file: string): Model {
  try {
    return model().decode(bytes) as unknown as Model;
  } catch (err) {
    throw new ExportError(`${file} is not a valid ONNX model: ${(err as Error).message}`);
  }
}

/** Renames every value of `g` to `prefix + name`, except those in `keep` (renamed to their mapping). */
function rename(g: Graph, prefix: string, keep: Map<string, string>, file: string): void {
  const r = (n: string) => (n === '' ? '' : (keep.get(n) ?? `${prefix}${n}`));
  g.node.forEach((n, i) => {
    if (n.attribute?.some((a) => a.g || (a.graphs && a.graphs.length))) {
      throw new ExportError(`${file}: node ${n.name ?? i} (${n.op_type}) has a subgraph; the fused decoder supports graphs without control flow.`);
    }
    n.name = `${prefix}${n.name || `${n.op_type}_${i}`}`;
    n.input = n.input.map(r);
    n.output = n.output.map(r);
  });
  if (g.sparse_initializer?.length) throw new ExportError(`${file} has sparse initializers, which the fused decoder does not support.`);
  for (const t of g.initializer) t.name = r(t.name);
  for (const v of g.value_info ?? []) v.name = r(v.name);
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(String(v));
}

/**
 * Builds the fused stateful decoder from the bytes of `decoder_init.onnx` and `decoder_step.onnx`.
 * `stateNames` are the recurrent states (`["h"]` or `["h", "c"]`); the step graph's outputs are named
 * `<state>_out`. Inputs of the result: `START`, `token`, the states, `z`; outputs: the step's.
 */
export function fuseStatefulDecoder(initBytes: Uint8Array, stepBytes: Uint8Array, stateNames: readonly string[]): Uint8Array {
  const init = decode(initBytes, 'decoder_init.onnx');
  const step = decode(stepBytes, 'decoder_step.onnx');
  const stepInputs = step.graph.input.map((v) => v.name);
  for (const want of ['token', 'z', ...stateNames]) {
    if (!stepInputs.includes(want)) throw new ExportError(`decoder_step.onnx has no input "${want}" (inputs: ${stepInputs.join(', ')}).`);
  }
  const initOutputs = init.graph.output.map((v) => v.name);
  for (const s of stateNames) {
    if (!initOutputs.includes(s)) throw new ExportError(`decoder_init.onnx has no output "${s}" (outputs: ${initOutputs.join(', ')}).`);
  }
  const initZ = init.graph.input.find((v) => v.name === 'z');
  if (!initZ || init.graph.input.length !== 1) throw new ExportError('decoder_init.onnx must have the single input "z".');

  rename(init.graph, 'init/', new Map([['z', 'z']]), 'decoder_init.onnx');
  const stepKeep = new Map<string, string>([
    ['token', 'token'],
    ['z', 'z'],
  ]);
  for (const s of stateNames) stepKeep.set(s, `selected/${s}`);
  for (const o of step.graph.output) stepKeep.set(o.name, o.name);
  rename(step.graph, 'step/', stepKeep, 'decoder_step.onnx');

  const token = step.graph.input.find((v) => v.name === 'token')!;
  const batchDim = token.type?.tensor_type?.shape?.dim?.[0] ?? { dim_param: 'batch' };
  const start: ValueInfo = { name: START_INPUT, type: { tensor_type: { elem_type: ONNX_INT32, shape: { dim: [batchDim, { dim_value: 1 }] } } } };
  const glue: Node[] = [
    { name: 'start/cast', op_type: 'Cast', domain: '', input: [START_INPUT], output: ['start/flag'], attribute: [{ name: 'to', type: ATTR_INT, i: ONNX_BOOL } as Attribute] },
    ...stateNames.map((s) => ({ name: `start/select_${s}`, op_type: 'Where', domain: '', input: ['start/flag', `init/${s}`, s], output: [`selected/${s}`] })),
  ];
  // The fused graph's state inputs keep the step graph's names and types (h, c).
  const stateInputs: ValueInfo[] = stateNames.map((s) => {
    // Graph inputs were not renamed; nodes now read `selected/<state>`, fed by the Where above.
    return step.graph.input.find((i) => i.name === s)!;
  });
  const graph: Graph = {
    name: 'vaekit_decoder_stateful',
    node: [...init.graph.node, ...glue, ...step.graph.node],
    initializer: [...init.graph.initializer, ...step.graph.initializer],
    input: [start, token, ...stateInputs, step.graph.input.find((v) => v.name === 'z')!],
    output: step.graph.output,
    value_info: [...(init.graph.value_info ?? []), ...(step.graph.value_info ?? [])],
  };
  const opsets = new Map<string, number>();
  for (const o of [...init.opset_import, ...step.opset_import]) {
    const d = o.domain ?? '';
    opsets.set(d, Math.max(opsets.get(d) ?? 0, num(o.version)));
  }
  const fused = {
    ir_version: Math.max(num(init.ir_version), num(step.ir_version)),
    producer_name: 'vaekit',
    opset_import: [...opsets].map(([domain, version]) => ({ domain, version })),
    graph,
  };
  const err = model().verify(fused);
  if (err) throw new ExportError(`The fused decoder is not a valid ModelProto: ${err}`);
  return model().encode(fused).finish();
}
