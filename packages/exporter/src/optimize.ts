/**
 * Graph clean-up passes over the IR: cancel Transpose pairs (left by NHWC <-> NCHW wrapping of
 * convolutions), drop Identity nodes, then remove nodes and initializers nothing uses.
 */
import type { IrGraph, IrNode } from './ir.js';

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

/** Runs every pass until nothing changes. Returns the number of nodes and initializers removed. */
export function optimizeGraph(graph: IrGraph): number {
  let total = 0;
  for (;;) {
    const n = cancelTransposes(graph) + removeIdentities(graph) + removeDeadCode(graph);
    total += n;
    if (n === 0) return total;
  }
}
