/**
 * Graph clean-up passes over the IR: fold constant subgraphs, cancel Transpose pairs (left by
 * NHWC <-> NCHW wrapping of convolutions), drop Identity nodes, then remove nodes and initializers
 * nothing uses. (MatMul + Add become Gemm in the Dense handler, where the input rank is known.)
 */
import { DataType, attr, elementCount, type IrGraph, type IrNode, type IrTensor } from '../ir.js';

function permOf(node: IrNode): number[] | undefined {
  const a = node.attributes.perm;
  return a && a.kind === 'ints' ? a.value : undefined;
}

function renameInputs(graph: IrGraph, from: string, to: string): void {
  for (const n of graph.nodes) n.inputs = n.inputs.map((i) => (i === from ? to : i));
}

/**
 * Removes Transpose B when its input is Transpose A's output and B∘A is the identity: B's consumers
 * read A's input instead. A stays if anything else reads it (dead-code removal decides).
 */
export function cancelTransposes(graph: IrGraph): number {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const producer = new Map<string, IrNode>();
  for (const n of graph.nodes) for (const o of n.outputs) producer.set(o, n);
  let removed = 0;
  for (const b of [...graph.nodes]) {
    if (b.opType !== 'Transpose' || outputs.has(b.outputs[0]!)) continue;
    const a = producer.get(b.inputs[0]!);
    if (!a || a.opType !== 'Transpose') continue;
    const pa = permOf(a);
    const pb = permOf(b);
    if (!pa || !pb || pa.length !== pb.length) continue;
    // out[i] = in[pa[pb[i]]]
    if (!pb.every((p, i) => pa[p] === i)) continue;
    renameInputs(graph, b.outputs[0]!, a.inputs[0]!);
    graph.nodes.splice(graph.nodes.indexOf(b), 1);
    removed++;
  }
  return removed;
}

/** Removes Identity nodes whose output is not a graph output. */
export function removeIdentities(graph: IrGraph): number {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  let removed = 0;
  for (const n of [...graph.nodes]) {
    if (n.opType !== 'Identity' || outputs.has(n.outputs[0]!)) continue;
    renameInputs(graph, n.outputs[0]!, n.inputs[0]!);
    graph.nodes.splice(graph.nodes.indexOf(n), 1);
    removed++;
  }
  return removed;
}

/** Removes nodes none of whose outputs are used, and unused initializers. */
export function removeDeadCode(graph: IrGraph): number {
  let removed = 0;
  for (;;) {
    const used = new Set(graph.outputs.map((o) => o.name));
    for (const n of graph.nodes) for (const i of n.inputs) used.add(i);
    const before = graph.nodes.length;
    graph.nodes = graph.nodes.filter((n) => n.outputs.some((o) => used.has(o)));
    const initBefore = graph.initializers.length;
    graph.initializers = graph.initializers.filter((t) => used.has(t.name));
    const delta = before - graph.nodes.length + (initBefore - graph.initializers.length);
    removed += delta;
    if (delta === 0) return removed;
  }
}

type Data = IrTensor['data'];

function strides(dims: readonly number[]): number[] {
  const out = Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) out[i] = out[i + 1]! * dims[i + 1]!;
  return out;
}

function like(data: Data, n: number): Data {
  return new (data.constructor as new (n: number) => Data)(n);
}

function intsOf(t: IrTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** Evaluators of ops on constant inputs; each returns undefined when it does not handle the case. */
const FOLDERS: Record<string, (node: IrNode, inputs: IrTensor[]) => Omit<IrTensor, 'name'> | undefined> = {
  Identity: (_n, [x]) => x && { dataType: x.dataType, dims: x.dims, data: x.data },
  Cast: (n, [x]) => {
    const to = n.attributes.to?.value;
    // Only full-precision sources: fp16/int8 weights are stored narrow on purpose (see variants.ts).
    if (!x || !(x.data instanceof Float32Array || x.data instanceof Int32Array)) return undefined;
    if (to === DataType.FLOAT) return { dataType: DataType.FLOAT, dims: x.dims, data: Float32Array.from(x.data) };
    if (to === DataType.INT32) return { dataType: DataType.INT32, dims: x.dims, data: Int32Array.from(x.data, (v) => Math.trunc(v)) };
    if (to === DataType.INT64) return { dataType: DataType.INT64, dims: x.dims, data: BigInt64Array.from(x.data, (v) => BigInt(Math.trunc(v))) };
    return undefined;
  },
  Unsqueeze: (_n, [x, axes]) => {
    if (!x || !axes) return undefined;
    const rank = x.dims.length + axes.data.length;
    const at = new Set(intsOf(axes).map((a) => (a < 0 ? a + rank : a)));
    const dims: number[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) dims.push(at.has(i) ? 1 : x.dims[k++]!);
    return { dataType: x.dataType, dims, data: x.data };
  },
  Squeeze: (_n, [x, axes]) => {
    if (!x || !axes) return undefined;
    const at = new Set(intsOf(axes).map((a) => (a < 0 ? a + x.dims.length : a)));
    return { dataType: x.dataType, dims: x.dims.filter((_, i) => !at.has(i)), data: x.data };
  },
  Reshape: (_n, [x, shape]) => {
    if (!x || !shape) return undefined;
    const want = intsOf(shape).map((d, i) => (d === 0 ? x.dims[i]! : d));
    const known = want.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const dims = want.map((d) => (d === -1 ? x.data.length / known : d));
    return elementCount(dims) === x.data.length ? { dataType: x.dataType, dims, data: x.data } : undefined;
  },
  Transpose: (n, [x]) => {
    if (!x) return undefined;
    const rank = x.dims.length;
    const perm = n.attributes.perm?.kind === 'ints' ? n.attributes.perm.value : [...Array(rank).keys()].reverse();
    const dims = perm.map((p) => x.dims[p]!);
    const inStrides = strides(x.dims);
    const outStrides = strides(dims);
    const out = like(x.data, x.data.length);
    for (let i = 0; i < x.data.length; i++) {
      let rest = i;
      let src = 0;
      for (let a = 0; a < rank; a++) {
        const idx = Math.floor(rest / outStrides[a]!);
        rest -= idx * outStrides[a]!;
        src += idx * inStrides[perm[a]!]!;
      }
      (out as unknown as Array<number | bigint>)[i] = (x.data as unknown as Array<number | bigint>)[src]!;
    }
    return { dataType: x.dataType, dims, data: out };
  },
  Concat: (n, xs) => {
    const first = xs[0];
    const axis = n.attributes.axis?.value;
    if (!first || typeof axis !== 'number' || xs.some((x) => x.dataType !== first.dataType)) return undefined;
    const rank = first.dims.length;
    const ax = axis < 0 ? axis + rank : axis;
    const outer = first.dims.slice(0, ax).reduce((a, b) => a * b, 1);
    const dims = [...first.dims];
    dims[ax] = xs.reduce((sum, x) => sum + x.dims[ax]!, 0);
    const out = like(first.data, elementCount(dims));
    let at = 0;
    for (let o = 0; o < outer; o++) {
      for (const x of xs) {
        const block = x.data.length / outer;
        (out as Float32Array).set((x.data as Float32Array).subarray(o * block, (o + 1) * block), at);
        at += block;
      }
    }
    return { dataType: first.dataType, dims, data: out };
  },
};

/**
 * Replaces nodes whose inputs are all constants (initializers or `Constant` outputs) by their value,
 * for the ops in {@link FOLDERS} (shape plumbing and casts). The value becomes an initializer when
 * it came from one (weights stay weights), else a `Constant` node.
 */
export function foldConstants(graph: IrGraph): number {
  const inits = new Map(graph.initializers.map((t) => [t.name, t]));
  const consts = new Map<string, IrTensor>();
  for (const n of graph.nodes) {
    const v = n.attributes.value;
    if (n.opType === 'Constant' && v?.kind === 'tensor') consts.set(n.outputs[0]!, v.value);
  }
  const outputs = new Set(graph.outputs.map((o) => o.name));
  let folded = 0;
  graph.nodes = graph.nodes.map((n) => {
    const fold = FOLDERS[n.opType];
    if (!fold || n.outputs.length !== 1 || outputs.has(n.outputs[0]!)) return n;
    const ins = n.inputs.filter((i) => i !== '').map((i) => inits.get(i) ?? consts.get(i));
    if (ins.length === 0 || ins.some((t) => t === undefined)) return n;
    const value = fold(n, ins as IrTensor[]);
    if (!value) return n;
    const name = n.outputs[0]!;
    folded++;
    if (n.inputs.some((i) => inits.has(i))) {
      const t = { ...value, name };
      graph.initializers.push(t);
      inits.set(name, t);
      return undefined;
    }
    const t = { ...value, name };
    consts.set(name, t);
    return { name: n.name, opType: 'Constant', domain: '', inputs: [], outputs: [name], attributes: { value: attr.tensor(t) } };
  }).filter((n): n is IrNode => n !== undefined);
  return folded;
}

/** Runs every pass until nothing changes. Returns the number of nodes and initializers removed. */
export function optimizeGraph(graph: IrGraph): number {
  let total = 0;
  for (;;) {
    const n = foldConstants(graph) + cancelTransposes(graph) + removeIdentities(graph) + removeDeadCode(graph);
    total += n;
    if (n === 0) return total;
  }
}
