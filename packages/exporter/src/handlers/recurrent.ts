/**
 * Recurrent layers: `GRU`, `LSTM`, `SimpleRNN`, the generic `RNN` wrapper around one of their cells,
 * and `Bidirectional` around any of them. Their sequence lengths come from masks set by `Embedding`
 * (embedding.ts) with `maskZero`.
 *
 * Facts the mapping rests on (tfjs-layers `recurrent.ts`, ONNX operator docs):
 * - tfjs keeps `kernel [I, G*H]`, `recurrent_kernel [H, G*H]`, `bias [G*H]`; ONNX wants
 *   `W [D, G*H, I]`, `R [D, G*H, H]`, `B [D, 2*G*H]` (input bias then recurrent bias).
 * - GRU: tfjs only has `reset_after = false`, i.e. ONNX `linear_before_reset = 0`, with a zero recurrent
 *   bias; gate order z, r, h is the same in both.
 * - LSTM: tfjs gate order i, f, c, o; ONNX i, o, f, c.
 * - tfjs' default recurrent activation is `hardSigmoid` (ONNX HardSigmoid, alpha 0.2, beta 0.5).
 * - ONNX recurrent ops read `[T, B, I]` (the batch-major `layout = 1` of opset 14 is not implemented
 *   by ONNX Runtime's CPU kernels), so the input is transposed and the outputs transposed back.
 * - Masks become `sequence_lens` (right padding): tfjs carries the last real state through masked
 *   steps; ONNX writes zeros there, so sequence outputs of masked forward layers are patched with
 *   the last state at padded positions.
 */
import type * as tf from '@tensorflow/tfjs';
import { ExportError } from '../errors.js';
import { attr, DataType, type ConversionContext, type IrAttribute } from '../ir.js';
import { activationOf, emitActivation } from './activation.js';
import { ALL_OPSETS, type LayerCall, type LayerHandler } from './registry.js';


/** The ONNX recurrent op family of a tfjs cell. */
type CellKind = 'GRU' | 'LSTM' | 'RNN';

/** tfjs gate index for each ONNX gate position. */
const GATE_ORDER: Record<CellKind, number[]> = {
  GRU: [0, 1, 2], // z, r, h in both
  LSTM: [0, 3, 1, 2], // ONNX i, o, f, c <- tfjs i, f, c, o
  RNN: [0],
};

/** tfjs activation identifier -> the ONNX recurrent activation name and its alpha/beta. */
const RNN_ACTIVATIONS: ReadonlyMap<string, { name: string; alpha?: number; beta?: number }> = new Map([
  ['tanh', { name: 'Tanh' }],
  ['sigmoid', { name: 'Sigmoid' }],
  ['hardSigmoid', { name: 'HardSigmoid', alpha: 0.2, beta: 0.5 }],
  ['relu', { name: 'Relu' }],
  ['softsign', { name: 'Softsign' }],
  ['softplus', { name: 'Softplus' }],
  ['elu', { name: 'Elu', alpha: 1 }],
  ['linear', { name: 'Affine', alpha: 1, beta: 0 }],
]);

/** A tfjs recurrent cell as the handlers see it (structural: tfjs' cell classes are not exported). */
interface TfCell {
  units: number;
  getClassName(): string;
  getConfig(): tf.serialization.ConfigDict;
  getWeights(): tf.Tensor[];
}

interface TfRnnLayer extends tf.layers.Layer {
  cell: TfCell;
  returnSequences: boolean;
  returnState: boolean;
  goBackwards: boolean;
  stateful: boolean;
}

interface TfBidirectional extends tf.layers.Layer {
  forwardLayer: TfRnnLayer;
  backwardLayer: TfRnnLayer;
  mergeMode: string | null | undefined;
  returnSequences: boolean;
  returnState: boolean;
}

const CELL_KINDS: Record<string, CellKind> = { GRUCell: 'GRU', LSTMCell: 'LSTM', SimpleRNNCell: 'RNN' };

function cellKind(cell: TfCell | undefined): CellKind | undefined {
  return cell ? CELL_KINDS[cell.getClassName()] : undefined;
}

function activationId(cell: TfCell, key: 'activation' | 'recurrentActivation'): string {
  const a = cell.getConfig()[key];
  if (a === undefined || a === null) return key === 'activation' ? 'tanh' : 'hardSigmoid';
  return activationOf({ getConfig: () => ({ activation: a }) } as unknown as tf.layers.Layer);
}

/** Why an RNN layer cannot be converted, or undefined. */
function checkRnn(layer: TfRnnLayer): string | undefined {
  const kind = cellKind(layer.cell);
  if (!kind) return `cell ${layer.cell?.getClassName?.() ?? '?'} is not supported. Should be one of: GRUCell, LSTMCell, SimpleRNNCell`;
  if (layer.stateful) return 'stateful recurrent layers are not supported';
  const cfg = layer.cell.getConfig();
  if (kind === 'GRU' && cfg.resetAfter === true) return 'GRU with resetAfter is not supported';
  const keys: Array<'activation' | 'recurrentActivation'> = kind === 'RNN' ? ['activation'] : ['activation', 'recurrentActivation'];
  for (const key of keys) {
    const id = activationId(layer.cell, key);
    if (!RNN_ACTIVATIONS.has(id)) {
      return `${key} "${id}" is not supported in recurrent cells. Should be one of: ${[...RNN_ACTIVATIONS.keys()].join(', ')}`;
    }
  }
  return undefined;
}

/** Copies tfjs `[rows, G*H]` (gate blocks along columns) into ONNX `[G*H, rows]` with ONNX gate order. */
function reorderTransposed(src: Float32Array, rows: number, units: number, order: number[]): Float32Array {
  const gates = order.length;
  const cols = gates * units;
  const out = new Float32Array(cols * rows);
  order.forEach((srcGate, g) => {
    for (let j = 0; j < units; j++) {
      const dstRow = (g * units + j) * rows;
      const srcCol = srcGate * units + j;
      for (let i = 0; i < rows; i++) out[dstRow + i] = src[i * cols + srcCol]!;
    }
  });
  return out;
}

/** ONNX W, R, B (B includes the zero recurrent bias) of one direction. */
function directionWeights(cell: TfCell, kind: CellKind): { w: Float32Array; r: Float32Array; b: Float32Array; input: number } {
  const order = GATE_ORDER[kind];
  const units = cell.units;
  const gates = order.length;
  const [kernel, recurrent, bias] = cell.getWeights();
  if (!kernel || !recurrent) throw new ExportError('A recurrent layer has no weights; build the model first.');
  const input = kernel.shape[0]!;
  const w = reorderTransposed(kernel.dataSync() as Float32Array, input, units, order);
  const r = reorderTransposed(recurrent.dataSync() as Float32Array, units, units, order);
  const b = new Float32Array(2 * gates * units);
  if (bias && cell.getConfig().useBias !== false) {
    const src = bias.dataSync() as Float32Array;
    order.forEach((srcGate, g) => b.set(src.subarray(srcGate * units, (srcGate + 1) * units), g * units));
  }
  return { w, r, b, input };
}

function concatF32(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The ONNX attributes `activations`, `activation_alpha`, `activation_beta` for the directions' cells. */
function activationAttrs(kind: CellKind, cells: TfCell[]): Record<string, IrAttribute> {
  const names: string[] = [];
  const alphas: number[] = [];
  const betas: number[] = [];
  for (const cell of cells) {
    const g = activationId(cell, 'activation');
    const ids = kind === 'RNN' ? [g] : kind === 'GRU' ? [activationId(cell, 'recurrentActivation'), g] : [activationId(cell, 'recurrentActivation'), g, g];
    for (const id of ids) {
      const spec = RNN_ACTIVATIONS.get(id)!;
      names.push(spec.name);
      // ONNX Runtime consumes alpha/beta in order, only for the activations that take them.
      if (spec.alpha !== undefined) alphas.push(spec.alpha);
      if (spec.beta !== undefined) betas.push(spec.beta);
    }
  }
  return {
    activations: attr.strings(names),
    ...(alphas.length > 0 ? { activation_alpha: attr.floats(alphas) } : {}),
    ...(betas.length > 0 ? { activation_beta: attr.floats(betas) } : {}),
  };
}

/** Options of {@link emitRecurrent}. */
interface RecurrentEmit {
  kind: CellKind;
  /** One cell per direction: [forward] or [forward, backward]. */
  cells: TfCell[];
  direction: 'forward' | 'reverse' | 'bidirectional';
  x: string;
  /** Initial states `[B, H]` per direction, in tfjs order: h (and c) of forward, then of backward. */
  initialStates: string[];
  /** int32 `[B]` sequence lengths. */
  lengths: string | undefined;
  /** Whether the sequence output Y is used. */
  sequence: boolean;
}

/** Emits the ONNX recurrent node. Returns Y `[T, D, B, H]`, Y_h `[D, B, H]` and (LSTM) Y_c. */
function emitRecurrent(ctx: ConversionContext, e: RecurrentEmit): { y: string; yh: string; yc: string | undefined } {
  const dirs = e.cells.length;
  const units = e.cells[0]!.units;
  const gates = GATE_ORDER[e.kind].length;
  const weights = e.cells.map((c) => directionWeights(c, e.kind));
  const input = weights[0]!.input;
  const w = ctx.addInitializer('W', [dirs, gates * units, input], concatF32(weights.map((d) => d.w)));
  const r = ctx.addInitializer('R', [dirs, gates * units, units], concatF32(weights.map((d) => d.r)));
  const hasBias = e.cells.some((c) => c.getConfig().useBias !== false);
  const b = hasBias ? ctx.addInitializer('B', [dirs, 2 * gates * units], concatF32(weights.map((d) => d.b))) : '';
  // [B, 1, I] and [1, B, I] share one memory order: a one-step sequence (the text step graph) needs
  // only a Reshape, which ONNX Runtime does without copying.
  const oneStep = ctx.shapeOf(e.x)?.[1] === 1;
  const xt = oneStep
    ? ctx.op('Reshape', [e.x, ctx.constInt64([1, -1, input])])
    : ctx.op('Transpose', [e.x], { perm: attr.ints([1, 0, 2]) });

  // Initial states: tfjs gives [B,H] per direction; ONNX wants [D,B,H] per state kind.
  const perDir = e.kind === 'LSTM' ? 2 : 1;
  const stateInput = (which: number): string => {
    if (e.initialStates.length === 0) return '';
    const parts = Array.from({ length: dirs }, (_, d) =>
      ctx.op('Unsqueeze', [e.initialStates[d * perDir + which]!, ctx.constInt64([0])]),
    );
    return parts.length === 1 ? parts[0]! : ctx.op('Concat', parts, { axis: attr.int(0) });
  };
  const inputs = [xt, w, r, b, e.lengths ?? '', stateInput(0)];
  if (e.kind === 'LSTM') inputs.push(stateInput(1));
  while (inputs[inputs.length - 1] === '') inputs.pop();

  const attributes: Record<string, IrAttribute> = {
    hidden_size: attr.int(units),
    direction: attr.string(e.direction),
    ...activationAttrs(e.kind, e.cells),
  };
  if (e.kind === 'GRU') attributes.linear_before_reset = attr.int(0);
  // An unused Y is left unnamed: ONNX Runtime then skips writing the whole [T, D, B, H] sequence.
  const names = ['Y', 'Y_h', ...(e.kind === 'LSTM' ? ['Y_c'] : [])].map((n) =>
    n === 'Y' && !e.sequence ? '' : ctx.uniqueName(`${ctx.scope}/${e.kind}:${n}`),
  );
  ctx.makeNode(e.kind, inputs, attributes, { outputs: names });
  return { y: names[0]!, yh: names[1]!, yc: e.kind === 'LSTM' ? names[2] : undefined };
}

/** `[B, T, 1]` bool: true at real steps (`t < lengths[b]`). */
function stepMask(ctx: ConversionContext, x: string, lengths: string): string {
  const time = ctx.op('Gather', [ctx.op('Shape', [x]), ctx.constInt64(1)], { axis: attr.int(0) });
  const range = ctx.op('Range', [ctx.constInt64(0), time, ctx.constInt64(1)]);
  const len = ctx.op('Unsqueeze', [ctx.op('Cast', [lengths], { to: attr.int(DataType.INT64) }), ctx.constInt64([1])]);
  const mask = ctx.op('Less', [ctx.op('Unsqueeze', [range, ctx.constInt64([0])]), len]);
  return ctx.op('Unsqueeze', [mask, ctx.constInt64([2])]);
}

/** Direction `d` of Y `[T, D, B, H]` as `[B, T, H]`. */
function sequenceOf(ctx: ConversionContext, y: string, d: number, dirs: number): string {
  const one = dirs === 1 ? y : ctx.op('Slice', [y, ctx.constInt64([d]), ctx.constInt64([d + 1]), ctx.constInt64([1])]);
  return ctx.op('Transpose', [ctx.op('Squeeze', [one, ctx.constInt64([1])])], { perm: attr.ints([1, 0, 2]) });
}

/** Direction `d` of a state `[D, B, H]` as `[B, H]`. */
function stateOf(ctx: ConversionContext, s: string, d: number, dirs: number): string {
  const one = dirs === 1 ? s : ctx.op('Slice', [s, ctx.constInt64([d]), ctx.constInt64([d + 1]), ctx.constInt64([0])]);
  return ctx.op('Squeeze', [one, ctx.constInt64([0])]);
}

/** Reverses `[B, T, H]` along time (tfjs' `goBackwards` returns its sequence in processing order). */
function reverseTime(ctx: ConversionContext, seq: string): string {
  // Slice with step -1 from the last index to before the first.
  return ctx.op('Slice', [seq, ctx.constInt64([-1]), ctx.constInt64([-(2 ** 62)]), ctx.constInt64([1]), ctx.constInt64([-1])]);
}

/** The lengths tensor for the layer's input mask, or undefined. */
function lengthsFor(ctx: ConversionContext, x: string): string | undefined {
  return ctx.maskOf(x);
}

/** Result of {@link unroll}: the state after each processed step (in processing order) and the last state. */
interface Unrolled {
  steps: string[];
  h: string;
  c: string | undefined;
}

/** Columns `[from, to)` of a row-major `[rows, cols]` matrix. */
function columns(src: Float32Array, rows: number, cols: number, from: number, to: number): Float32Array {
  const out = new Float32Array(rows * (to - from));
  for (let r = 0; r < rows; r++) out.set(src.subarray(r * cols + from, r * cols + to), r * (to - from));
  return out;
}

/**
 * One direction of a recurrent layer written with primitive ops, one block per time step (the `webgl`
 * profile: WebGL has no GRU/LSTM/RNN op and no loop op). Uses tfjs' own weight layout and formulas;
 * masked steps carry the previous state exactly as tfjs does.
 */
function unroll(
  ctx: ConversionContext,
  kind: CellKind,
  cell: TfCell,
  x: string,
  steps: number,
  lengths: string | undefined,
  initial: string[],
  reverse: boolean,
): Unrolled {
  const units = cell.units;
  const gates = GATE_ORDER[kind].length;
  const [kernel, recurrent, bias] = cell.getWeights();
  if (!kernel || !recurrent) throw new ExportError('A recurrent layer has no weights; build the model first.');
  const rk = recurrent.dataSync() as Float32Array;
  const act = (key: 'activation' | 'recurrentActivation', v: string) => emitActivation(ctx, activationId(cell, key), v);
  const g = (v: string) => act('activation', v);
  const f = (v: string) => act('recurrentActivation', v);
  const gate = (v: string, i: number, n = 1) => ctx.op('Slice', [v, ctx.constInt64([i * units]), ctx.constInt64([(i + n) * units]), ctx.constInt64([-1])]);

  // Input projections of every step at once: [B, T, G*H].
  let xw = ctx.op('MatMul', [x, ctx.addInitializer('kernel', kernel.shape, kernel.dataSync() as Float32Array)]);
  if (bias && cell.getConfig().useBias !== false) xw = ctx.op('Add', [xw, ctx.addInitializer('bias', bias.shape, bias.dataSync() as Float32Array)]);
  const cols = gates * units;
  const rkZr = kind === 'GRU' ? ctx.addInitializer('recurrent_kernel_zr', [units, 2 * units], columns(rk, units, cols, 0, 2 * units)) : '';
  const rkH = kind === 'GRU' ? ctx.addInitializer('recurrent_kernel_h', [units, units], columns(rk, units, cols, 2 * units, 3 * units)) : '';
  const rkAll = kind === 'GRU' ? '' : ctx.addInitializer('recurrent_kernel', [units, cols], rk);

  let h: string | undefined = initial[0];
  let c: string | undefined = initial[1];
  const outs: string[] = [];
  for (let k = 0; k < steps; k++) {
    const t = reverse ? steps - 1 - k : k;
    const xt = ctx.op('Squeeze', [ctx.op('Slice', [xw, ctx.constInt64([t]), ctx.constInt64([t + 1]), ctx.constInt64([1])]), ctx.constInt64([1])]);
    let hNew: string;
    let cNew: string | undefined;
    if (kind === 'GRU') {
      if (h === undefined) {
        const z = f(gate(xt, 0));
        hNew = ctx.op('Mul', [ctx.op('Sub', [ctx.constFloat(1), z]), g(gate(xt, 2))]);
      } else {
        const hr = ctx.op('MatMul', [h, rkZr]);
        const z = f(ctx.op('Add', [gate(xt, 0), gate(hr, 0)]));
        const r = f(ctx.op('Add', [gate(xt, 1), gate(hr, 1)]));
        const hh = g(ctx.op('Add', [gate(xt, 2), ctx.op('MatMul', [ctx.op('Mul', [r, h]), rkH])]));
        // z h + (1 - z) hh
        hNew = ctx.op('Add', [hh, ctx.op('Mul', [z, ctx.op('Sub', [h, hh])])]);
      }
    } else if (kind === 'LSTM') {
      const zt = h === undefined ? xt : ctx.op('Add', [xt, ctx.op('MatMul', [h, rkAll])]);
      const i = f(gate(zt, 0));
      const fg = f(gate(zt, 1));
      const cc = g(gate(zt, 2));
      const o = f(gate(zt, 3));
      const ic = ctx.op('Mul', [i, cc]);
      cNew = c === undefined ? ic : ctx.op('Add', [ctx.op('Mul', [fg, c]), ic]);
      hNew = ctx.op('Mul', [o, g(cNew)]);
    } else {
      hNew = g(h === undefined ? xt : ctx.op('Add', [xt, ctx.op('MatMul', [h, rkAll])]));
    }
    if (lengths) {
      // m = (t < length) as float [B, 1]; state = prev + m (new - prev): masked steps keep the state.
      const m = ctx.op('Unsqueeze', [ctx.op('Cast', [ctx.op('Less', [ctx.constInt32(t), lengths])], { to: attr.int(DataType.FLOAT) }), ctx.constInt64([1])]);
      const blend = (prev: string | undefined, next: string) =>
        prev === undefined ? ctx.op('Mul', [m, next]) : ctx.op('Add', [prev, ctx.op('Mul', [m, ctx.op('Sub', [next, prev])])]);
      hNew = blend(h, hNew);
      if (cNew !== undefined) cNew = blend(c, cNew);
    }
    h = hNew;
    c = cNew;
    outs.push(h);
  }
  if (h === undefined) throw new ExportError('A recurrent layer needs at least one time step.');
  return { steps: outs, h, c };
}

/** Stacks per-step states `[B, H]` into a sequence `[B, T, H]`. */
function stack(ctx: ConversionContext, steps: string[]): string {
  const parts = steps.map((s) => ctx.op('Unsqueeze', [s, ctx.constInt64([1])]));
  return parts.length === 1 ? parts[0]! : ctx.op('Concat', parts, { axis: attr.int(1) });
}

function staticSteps(ctx: ConversionContext, layer: tf.layers.Layer, x: string): number {
  const steps = ctx.shapeOf(x)?.[1];
  if (typeof steps !== 'number') {
    throw new ExportError(
      `Recurrent layer "${layer.name}": the webgl profile unrolls recurrences and needs a static sequence length (give the input a fixed length).`,
    );
  }
  return steps;
}

function convertRnnUnrolled(ctx: ConversionContext, layer: TfRnnLayer, inputs: string[]): string[] {
  const kind = cellKind(layer.cell)!;
  const [x, ...initial] = inputs;
  const lengths = lengthsFor(ctx, x!);
  const r = unroll(ctx, kind, layer.cell, x!, staticSteps(ctx, layer, x!), lengths, initial, layer.goBackwards);
  let out = r.h;
  if (layer.returnSequences) {
    out = stack(ctx, r.steps);
    if (lengths) ctx.setMask(out, lengths);
  }
  if (!layer.returnState) return [out];
  return kind === 'LSTM' ? [out, r.h, r.c!] : [out, r.h];
}

function convertRnn(ctx: ConversionContext, layer: TfRnnLayer, inputs: string[]): string[] {
  if (ctx.profile === 'webgl') return convertRnnUnrolled(ctx, layer, inputs);
  const kind = cellKind(layer.cell)!;
  const [x, ...initial] = inputs;
  const lengths = lengthsFor(ctx, x!);
  // A single step (the text decoder_step graph) as plain MatMul and element-wise ops: ONNX Runtime's
  // GRU/LSTM kernels carry per-call set-up made for sequences, which dominates one step.
  if (ctx.shapeOf(x!)?.[1] === 1 && !lengths) return convertRnnUnrolled(ctx, layer, inputs);
  const { y, yh, yc } = emitRecurrent(ctx, {
    kind,
    cells: [layer.cell],
    direction: layer.goBackwards ? 'reverse' : 'forward',
    x: x!,
    initialStates: initial,
    lengths,
    sequence: layer.returnSequences,
  });
  const h = stateOf(ctx, yh, 0, 1);
  let out: string;
  if (layer.returnSequences) {
    let seq = sequenceOf(ctx, y, 0, 1);
    if (lengths) {
      if (layer.goBackwards) {
        throw new ExportError(
          `Recurrent layer "${layer.name}": a masked goBackwards layer returning sequences is not supported.`,
        );
      }
      // tfjs repeats the last real state at padded steps; ONNX writes zeros there.
      seq = ctx.op('Where', [stepMask(ctx, x!, lengths), seq, ctx.op('Unsqueeze', [h, ctx.constInt64([1])])]);
      ctx.setMask(seq, lengths);
    }
    if (layer.goBackwards) seq = reverseTime(ctx, seq);
    out = seq;
  } else {
    out = h;
  }
  if (!layer.returnState) return [out];
  return kind === 'LSTM' ? [out, h, stateOf(ctx, yc!, 0, 1)] : [out, h];
}

function checkRnnLayer(layer: tf.layers.Layer): string | undefined {
  return checkRnn(layer as TfRnnLayer);
}

const rnnHandler = (className: string): LayerHandler => ({
  className,
  opsets: ALL_OPSETS,
  check: checkRnnLayer,
  managesMask: true,
  convert: (ctx, layer, inputs) => convertRnn(ctx, layer as TfRnnLayer, inputs),
});

/** Merges the two directions' outputs as tfjs' Bidirectional `mergeMode` says. */
function merge(ctx: ConversionContext, mode: string | null | undefined, fwd: string, bwd: string): string[] {
  switch (mode ?? 'concat') {
    case 'concat':
      return [ctx.op('Concat', [fwd, bwd], { axis: attr.int(-1) })];
    case 'sum':
      return [ctx.op('Add', [fwd, bwd])];
    case 'mul':
      return [ctx.op('Mul', [fwd, bwd])];
    case 'ave':
      return [ctx.op('Mul', [ctx.op('Add', [fwd, bwd]), ctx.constFloat(0.5)])];
    default:
      throw new Error(`unreachable: merge mode ${String(mode)} passed the check`);
  }
}

function convertBidirectional(ctx: ConversionContext, layer: TfBidirectional, inputs: string[], call: LayerCall): string[] {
  const fwdLayer = layer.forwardLayer;
  const kind = cellKind(fwdLayer.cell)!;
  const [x, ...initial] = inputs;
  const lengths = lengthsFor(ctx, x!);
  if (ctx.profile === 'webgl') {
    const steps = staticSteps(ctx, layer, x!);
    const per = kind === 'LSTM' ? 2 : 1;
    const f = unroll(ctx, kind, fwdLayer.cell, x!, steps, lengths, initial.slice(0, per), false);
    const b = unroll(ctx, kind, layer.backwardLayer.cell, x!, steps, lengths, initial.slice(per), true);
    // tfjs reverses the backward sequence back to input order before merging.
    const fwd = layer.returnSequences ? stack(ctx, f.steps) : f.h;
    const bwd = layer.returnSequences ? stack(ctx, [...b.steps].reverse()) : b.h;
    const merged = layer.mergeMode === null ? [fwd, bwd] : merge(ctx, layer.mergeMode, fwd, bwd);
    if (lengths && layer.returnSequences) for (const m of merged) ctx.setMask(m, lengths);
    const states = kind === 'LSTM' ? [f.h, f.c!, b.h, b.c!] : [f.h, b.h];
    return layer.returnState ? [...merged, ...states] : merged;
  }
  const { y, yh, yc } = emitRecurrent(ctx, {
    kind,
    cells: [fwdLayer.cell, layer.backwardLayer.cell],
    direction: 'bidirectional',
    x: x!,
    initialStates: initial,
    lengths,
    sequence: layer.returnSequences,
  });
  const states = [0, 1].map((d) =>
    kind === 'LSTM' ? [stateOf(ctx, yh, d, 2), stateOf(ctx, yc!, d, 2)] : [stateOf(ctx, yh, d, 2)],
  );
  let fwd: string;
  let bwd: string;
  if (layer.returnSequences) {
    fwd = sequenceOf(ctx, y, 0, 2);
    // ONNX already returns the backward sequence in input order, as tfjs does after reversing it.
    bwd = sequenceOf(ctx, y, 1, 2);
    if (lengths) {
      const mask = stepMask(ctx, x!, lengths);
      fwd = ctx.op('Where', [mask, fwd, ctx.op('Unsqueeze', [states[0]![0]!, ctx.constInt64([1])])]);
    }
  } else {
    fwd = states[0]![0]!;
    bwd = states[1]![0]!;
  }
  const merged = layer.mergeMode === null ? [fwd, bwd] : merge(ctx, layer.mergeMode, fwd, bwd);
  if (lengths && layer.returnSequences) for (const m of merged) ctx.setMask(m, lengths);
  const outs = layer.returnState ? [...merged, ...states[0]!, ...states[1]!] : merged;
  if (outs.length !== call.outputShapes.length) {
    throw new ExportError(`Bidirectional layer "${layer.name}": unexpected number of outputs.`, { userError: false });
  }
  return outs;
}

/** Handlers of the recurrent family. */
export const recurrentHandlers: LayerHandler[] = [
  rnnHandler('GRU'),
  rnnHandler('LSTM'),
  rnnHandler('SimpleRNN'),
  rnnHandler('RNN'),
  {
    className: 'Bidirectional',
    opsets: ALL_OPSETS,
    managesMask: true,
    check: (layer) => {
      const b = layer as TfBidirectional;
      const mode = b.mergeMode;
      if (mode !== null && mode !== undefined && !['concat', 'sum', 'mul', 'ave'].includes(mode)) {
        return `merge mode "${mode}" is not supported. Should be one of: concat, sum, mul, ave, null`;
      }
      const f = b.forwardLayer;
      if (!f || !('cell' in f)) return 'only recurrent layers can be wrapped';
      const reason = checkRnn(f) ?? checkRnn(b.backwardLayer);
      if (reason) return reason;
      if (f.goBackwards) return 'a goBackwards forward layer is not supported';
      return undefined;
    },
    convert: (ctx, layer, inputs, call) => convertBidirectional(ctx, layer as TfBidirectional, inputs, call),
  },
];
