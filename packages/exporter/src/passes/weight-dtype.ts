/**
 * The weight-dtype pass: the one route by which an exported graph stores its weights in another dtype
 * (run by `convertLayersModel` as part of its pass list, see passes/index.ts):
 *
 * - `fp16`: weight matrices (rank >= 2) are stored as float16 and cast back to float32 by a `Cast`
 *   node, so every computation (recurrences, softmax, normalization statistics) stays in fp32: the
 *   file halves while the numerically sensitive arithmetic is untouched. Vectors (biases,
 *   normalization scales, folded batch-norm shifts) stay fp32: they are tiny and sensitive.
 * - `int8`: weight matrices are quantized symmetrically to int8 per output channel and dequantized by
 *   a `DequantizeLinear` node (weight-only QDQ, opset 13+), about a quarter of the fp32 size. ONNX
 *   Runtime runs the dequantization once per call on small matrices; the rest of the graph is fp32.
 */
import { ExportError } from '../errors.js';
import { toHalfBits } from '../float16.js';
import { DataType, attr, type IrModel, type IrNode, type IrTensor } from '../ir.js';

/** Weight dtype variants the exporter writes. */
export const WEIGHT_DTYPES = ['fp32', 'fp16', 'int8'] as const;
/** A weight dtype variant. */
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];

/** Parses a dtype name, throwing {@link ExportError} naming the accepted values. */
export function parseWeightDtype(value: string): WeightDtype {
  if ((WEIGHT_DTYPES as readonly string[]).includes(value)) return value as WeightDtype;
  throw new ExportError(`Unsupported weight dtype ${JSON.stringify(value)}. Should be one of: ${WEIGHT_DTYPES.join(', ')}.`);
}

/** Consumers of each tensor name. */
function consumers(nodes: IrNode[]): Map<string, IrNode[]> {
  const map = new Map<string, IrNode[]>();
  for (const n of nodes) for (const i of n.inputs) map.set(i, [...(map.get(i) ?? []), n]);
  return map;
}

/** The axis to give a weight its own scale per slice: the output channel for each consumer kind. */
function channelAxis(t: IrTensor, users: IrNode[]): number {
  const op = users[0]?.opType;
  if (t.dims.length === 2 && (op === 'MatMul' || op === 'Gemm')) return 1; // [K, N]: per output column
  if (t.dims.length === 3) return 1; // recurrent W/R [D, G*H, I]: per gate unit
  return 0; // Gather tables [V, E] per row, conv kernels [out, in, ...] per output channel
}

/** Float weight matrices worth compressing: rank >= 2, at least `minElements` values. */
function candidates(model: IrModel, minElements: number): IrTensor[] {
  return model.graph.initializers.filter((t) => t.dataType === DataType.FLOAT && t.dims.length >= 2 && t.data.length >= minElements);
}

/** Options of {@link applyWeightDtype}. */
export interface WeightDtypeOptions {
  /** Smallest weight (element count) worth compressing. Default 64. */
  minElements?: number;
}

/**
 * Rewrites `model` (in place) to store its weight matrices as `dtype`. `fp32` leaves it unchanged.
 * Returns the number of initializers rewritten.
 */
export function applyWeightDtype(model: IrModel, dtype: WeightDtype, opts: WeightDtypeOptions = {}): number {
  if (dtype === 'fp32') return 0;
  const minElements = opts.minElements ?? 64;
  const users = consumers(model.graph.nodes);
  const taken = new Set([
    ...model.graph.initializers.map((t) => t.name),
    ...model.graph.nodes.flatMap((n) => n.outputs),
    ...model.graph.inputs.map((v) => v.name),
  ]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const added: IrTensor[] = [];
  const decode: IrNode[] = [];
  let count = 0;
  for (const t of candidates(model, minElements)) {
    const original = t.name;
    const data = t.data as Float32Array;
    if (dtype === 'fp16') {
      const stored = fresh(`${original}/fp16`);
      added.push({ name: stored, dataType: DataType.FLOAT16, dims: t.dims, data: Uint16Array.from(data, toHalfBits) });
      decode.push({ name: fresh(`${original}/Cast`), opType: 'Cast', domain: '', inputs: [stored], outputs: [original], attributes: { to: attr.int(DataType.FLOAT) } });
    } else {
      const axis = channelAxis(t, users.get(original) ?? []);
      const channels = t.dims[axis]!;
      const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
      const scale = new Float32Array(channels);
      for (let i = 0; i < data.length; i++) {
        const c = Math.floor(i / inner) % channels;
        scale[c] = Math.max(scale[c]!, Math.abs(data[i]!));
      }
      for (let c = 0; c < channels; c++) scale[c] = scale[c]! > 0 ? scale[c]! / 127 : 1;
      const q = new Int8Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const c = Math.floor(i / inner) % channels;
        q[i] = Math.max(-127, Math.min(127, Math.round(data[i]! / scale[c]!)));
      }
      const stored = fresh(`${original}/int8`);
      const scaleName = fresh(`${original}/scale`);
      const zeroName = fresh(`${original}/zero_point`);
      added.push(
        { name: stored, dataType: DataType.INT8, dims: t.dims, data: q },
        { name: scaleName, dataType: DataType.FLOAT, dims: [channels], data: scale },
        { name: zeroName, dataType: DataType.INT8, dims: [channels], data: new Int8Array(channels) },
      );
      decode.push({
        name: fresh(`${original}/DequantizeLinear`),
        opType: 'DequantizeLinear',
        domain: '',
        inputs: [stored, scaleName, zeroName],
        outputs: [original],
        attributes: { axis: attr.int(axis) },
      });
    }
    count++;
  }
  const replaced = new Set(decode.map((n) => n.outputs[0]!));
  model.graph.initializers = [...model.graph.initializers.filter((t) => !replaced.has(t.name)), ...added];
  // Decoders first: their outputs keep the weights' names, so consumers need no change.
  model.graph.nodes = [...decode, ...model.graph.nodes];
  return count;
}
