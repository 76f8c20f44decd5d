/**
 * Weight dtype variants of an exported graph, as IR rewrites applied after conversion:
 *
 * - `fp16`: weight matrices (rank >= 2) are stored as float16 and cast back to float32 by a `Cast`
 *   node, so every computation (recurrences, softmax, normalization statistics) stays in fp32: the
 *   file halves while the numerically sensitive arithmetic is untouched. Vectors (biases,
 *   normalization scales, folded batch-norm shifts) stay fp32: they are tiny and sensitive.
 * - `int8`: weight matrices are quantized symmetrically to int8 per output channel and dequantized by
 *   a `DequantizeLinear` node (weight-only QDQ, opset 13+), about a quarter of the fp32 size. ONNX
 *   Runtime runs the dequantization once per call on small matrices; the rest of the graph is fp32.
 */
import type * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import type { ConvertResult } from './converter.js';
import { ExportError } from './errors.js';
import { DataType, attr, type IrModel, type IrNode, type IrTensor } from './ir.js';
import { checkParity, type ParityInput, type ParityOptions } from './parity.js';
import { serializeModel } from './serialize.js';

/** Weight dtype variants the exporter writes. */
export const WEIGHT_DTYPES = ['fp32', 'fp16', 'int8'] as const;
/** A weight dtype variant. */
export type WeightDtype = (typeof WEIGHT_DTYPES)[number];

/** Parses a dtype name, throwing {@link ExportError} naming the accepted values. */
export function parseWeightDtype(value: string): WeightDtype {
  if ((WEIGHT_DTYPES as readonly string[]).includes(value)) return value as WeightDtype;
  throw new ExportError(`Unsupported weight dtype ${JSON.stringify(value)}. Should be one of: ${WEIGHT_DTYPES.join(', ')}.`);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 half-precision bits of a float (round to nearest even, overflow to infinity). */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // Rounding may carry into the exponent, up to infinity: still the correctly rounded encoding.
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
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

/** Runs one graph of a bundle by name on named inputs (ONNX Runtime for Node); for held-out evaluations. */
export type GraphRunner = (
  graph: string,
  feeds: Record<string, ParityInput>,
) => Promise<Record<string, { data: Float32Array; dims: number[] }>>;

/** A {@link GraphRunner} over in-memory ONNX files; `release` closes the sessions it opened. */
export function graphRunner(files: Record<string, Uint8Array>): { run: GraphRunner; release: () => Promise<void> } {
  const sessions = new Map<string, Promise<ort.InferenceSession>>();
  const run: GraphRunner = async (graph, feeds) => {
    const bytes = files[graph];
    if (!bytes) throw new ExportError(`No graph named ${JSON.stringify(graph)}. Should be one of: ${Object.keys(files).join(', ')}.`, { userError: false });
    let s = sessions.get(graph);
    if (!s) {
      s = ort.InferenceSession.create(bytes);
      sessions.set(graph, s);
    }
    const session = await s;
    const t: Record<string, ort.Tensor> = {};
    for (const [n, f] of Object.entries(feeds)) t[n] = new ort.Tensor(f.dtype, f.data, f.shape);
    const out = await session.run(t);
    return Object.fromEntries(Object.entries(out).map(([n, v]) => [n, { data: v.data as Float32Array, dims: [...v.dims] }]));
  };
  const release = async () => {
    for (const s of sessions.values()) await (await s).release();
    sessions.clear();
  };
  return { run, release };
}

/** One graph converted to a weight dtype variant and compared with its fp32 export. */
export interface GraphVariant {
  bytes: Uint8Array;
  fp32Bytes: number;
  /** Max abs error of each output against the fp32 ONNX graph on the parity inputs. */
  maxAbsErrorVsFp32: Record<string, number>;
}

/**
 * Rewrites a converted graph's IR to `dtype`, serializes it and measures it against the fp32 file on
 * the same random inputs as the tfjs parity check.
 */
export async function makeVariant(
  model: tf.LayersModel,
  result: ConvertResult,
  dtype: WeightDtype,
  parity: Omit<ParityOptions, 'reference' | 'tolerance'>,
): Promise<GraphVariant> {
  const ir = structuredClone(result.model);
  applyWeightDtype(ir, dtype);
  const bytes = serializeModel(ir);
  const report = await checkParity(model, bytes, { ...parity, reference: result.bytes, tolerance: Number.POSITIVE_INFINITY, runtimes: ['node'] });
  return { bytes, fp32Bytes: result.bytes.length, maxAbsErrorVsFp32: report.maxAbsError };
}
