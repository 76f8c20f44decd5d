/**
 * Output pruning of ONNX model bytes, at the protobuf wire level (no ONNX library in the runtime).
 *
 * ONNX Runtime runs every node of a graph on every call, whatever outputs the call fetches: a text
 * step graph computes all its decoding heads (TopK, float64 log-sum-exp) even for a greedy step that
 * reads two numbers. {@link pruneOutputs} writes a copy of a model that declares only the wanted
 * outputs and keeps only the nodes they depend on, so a session made from it does only that work.
 * Everything else (initializers, opsets, metadata, value_info) is copied byte for byte; initializers
 * no kept node reads are left out.
 */
import { BundleError } from './errors.js';

/** Protobuf wire types. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** Field numbers of onnx.proto used here. */
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_OUTPUT = 12;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_OP_TYPE = 4;
const VALUE_INFO_NAME = 1;
const TENSOR_NAME = 8;
/** Ops whose subgraphs may read outer-scope values: graphs holding them are not pruned. */
const SUBGRAPH_OPS = new Set(['If', 'Loop', 'Scan', 'SequenceMap']);

/** One field of a message: its number, wire type and where its bytes lie (`start..end` is the whole field). */
interface Field {
  number: number;
  wire: number;
  /** Start of the field's tag. */
  start: number;
  /** For LEN fields, the payload's start. */
  payload: number;
  end: number;
}

function broken(): never {
  throw new BundleError('An ONNX graph of the bundle is not a valid protobuf message (it could not be pruned).');
}

function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) broken();
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
  broken();
}

/** The fields of the message in `buf[start, end)`, in order. */
function fields(buf: Uint8Array, start = 0, end = buf.length): Field[] {
  const out: Field[] = [];
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const [tag, afterTag] = readVarint(buf, pos);
    const number = Math.floor(tag / 8);
    const wire = tag % 8;
    let payload = afterTag;
    if (wire === VARINT) pos = readVarint(buf, afterTag)[1];
    else if (wire === I64) pos = afterTag + 8;
    else if (wire === I32) pos = afterTag + 4;
    else if (wire === LEN) {
      const [length, afterLength] = readVarint(buf, afterTag);
      payload = afterLength;
      pos = afterLength + length;
    } else broken();
    if (pos > end) broken();
    out.push({ number, wire, start: fieldStart, payload, end: pos });
  }
  return out;
}

const utf8 = new TextDecoder();
const text = (buf: Uint8Array, f: Field): string => utf8.decode(buf.subarray(f.payload, f.end));
/** The first string field `number` of the message `f`, or ''. */
function stringField(buf: Uint8Array, f: Field, number: number): string {
  const hit = fields(buf, f.payload, f.end).find((g) => g.number === number && g.wire === LEN);
  return hit ? text(buf, hit) : '';
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return out;
}

/** Concatenates byte ranges of `buf` and literal bytes. */
function concat(parts: (Uint8Array | number[])[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A copy of the ONNX model `model` whose graph has only the outputs `keep` (in the graph's order) and
 * the nodes they depend on. Returns `model` itself when nothing can be removed, or when the graph has
 * control-flow nodes (their subgraphs can read any value). Throws a {@link BundleError} when `keep`
 * names an output the graph lacks.
 */
export function pruneOutputs(model: Uint8Array, keep: readonly string[]): Uint8Array {
  const top = fields(model);
  const graphField = top.find((f) => f.number === MODEL_GRAPH && f.wire === LEN);
  if (!graphField) broken();
  const graph = fields(model, graphField.payload, graphField.end);
  const outputs = graph.filter((f) => f.number === GRAPH_OUTPUT && f.wire === LEN).map((f) => ({ f, name: stringField(model, f, VALUE_INFO_NAME) }));
  const wanted = new Set(keep);
  const missing = keep.filter((name) => !outputs.some((o) => o.name === name));
  if (missing.length) throw new BundleError(`The graph has no output ${missing.map((m) => `"${m}"`).join(', ')} (it has ${outputs.map((o) => o.name).join(', ')}).`);

  const nodes = graph
    .filter((f) => f.number === GRAPH_NODE && f.wire === LEN)
    .map((f) => {
      const parts = fields(model, f.payload, f.end);
      const strings = (n: number) => parts.filter((p) => p.number === n && p.wire === LEN).map((p) => text(model, p));
      return { f, inputs: strings(NODE_INPUT), outputs: strings(NODE_OUTPUT), op: strings(NODE_OP_TYPE)[0] ?? ''};
    });
  if (nodes.some((n) => SUBGRAPH_OPS.has(n.op))) return model;

  // Nodes are topologically sorted (an ONNX requirement): one backward pass finds what the outputs need.
  const needed = new Set(wanted);
  const keptNodes = new Set<Field>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!node.outputs.some((o) => needed.has(o))) continue;
    keptNodes.add(node.f);
    for (const input of node.inputs) if (input) needed.add(input);
  }
  const dropped = (f: Field): boolean => {
    if (f.wire !== LEN) return false;
    if (f.number === GRAPH_OUTPUT) return !wanted.has(stringField(model, f, VALUE_INFO_NAME));
    if (f.number === GRAPH_NODE) return !keptNodes.has(f);
    if (f.number === GRAPH_INITIALIZER) return !needed.has(stringField(model, f, TENSOR_NAME));
    return false;
  };
  if (!graph.some(dropped)) return model;

  const graphBody = concat(graph.filter((f) => !dropped(f)).map((f) => model.subarray(f.start, f.end)));
  const parts: (Uint8Array | number[])[] = [];
  for (const f of top) {
    if (f !== graphField) parts.push(model.subarray(f.start, f.end));
    else parts.push(varintBytes(MODEL_GRAPH * 8 + LEN), varintBytes(graphBody.length), graphBody);
  }
  return concat(parts);
}
