/**
 * A small in-memory ONNX graph IR and the conversion context handlers write into. Handlers never see
 * protobufjs: the serializer turns this IR into bytes.
 */
import { ExportError } from './errors.js';

/** ONNX `TensorProto.DataType` codes used by the exporter. */
export const DataType = {
  FLOAT: 1,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  FLOAT16: 10,
} as const;
/** An ONNX element type code the exporter writes. */
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** A typed ONNX node attribute. Kinds are explicit because `1` may be a float or an int attribute. */
export type IrAttribute =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'floats'; value: number[] }
  | { kind: 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensor'; value: IrTensor };

/** Constructors for {@link IrAttribute} values. */
export const attr = {
  float: (value: number): IrAttribute => ({ kind: 'float', value }),
  int: (value: number): IrAttribute => ({ kind: 'int', value }),
  string: (value: string): IrAttribute => ({ kind: 'string', value }),
  floats: (value: number[]): IrAttribute => ({ kind: 'floats', value }),
  ints: (value: number[]): IrAttribute => ({ kind: 'ints', value }),
  strings: (value: string[]): IrAttribute => ({ kind: 'strings', value }),
  tensor: (value: IrTensor): IrAttribute => ({ kind: 'tensor', value }),
};

/** A constant tensor (initializer or `Constant` value). `data` length equals the product of `dims`. */
export interface IrTensor {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  /** FLOAT16 data is held as IEEE half-precision bit patterns in a Uint16Array. */
  data: Float32Array | Int32Array | BigInt64Array | Uint16Array | Int8Array;
}

/** One ONNX node. */
export interface IrNode {
  name: string;
  opType: string;
  /** Operator set domain; `''` is the default ONNX domain. */
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, IrAttribute>;
}

/** A graph input or output: name, element type and shape (a string dimension is symbolic). */
export interface IrValueInfo {
  name: string;
  elemType: DataTypeCode;
  shape: Array<number | string>;
}

/** A whole graph. Nodes are in topological order. */
export interface IrGraph {
  name: string;
  nodes: IrNode[];
  initializers: IrTensor[];
  inputs: IrValueInfo[];
  outputs: IrValueInfo[];
  docString?: string;
}

/** A whole model: a graph plus the model-level fields of `ModelProto`. */
export interface IrModel {
  irVersion: number;
  opset: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  metadata: Record<string, string>;
  graph: IrGraph;
}

/** Number of elements of a tensor with the given dims. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Export profiles: which ONNX ops a graph may use. */
export const EXPORT_PROFILES = ['default', 'webgl'] as const;
/** An export profile. */
export type ExportProfile = (typeof EXPORT_PROFILES)[number];

/** Options of {@link ConversionContext.makeNode}. */
export interface MakeNodeOptions {
  /** Number of outputs (named automatically) or explicit output names. Default 1. */
  outputs?: number | string[];
  /** Base for the node name; the current scope's name when omitted. */
  name?: string;
  /** Operator domain, default `''` (ai.onnx). */
  domain?: string;
}

/**
 * The mutable state of one conversion: nodes, initializers and the set of taken names. Handlers
 * append to it through {@link makeNode}, {@link addInitializer} and the constant helpers.
 */
export class ConversionContext {
  /** Nodes emitted so far, in topological order. */
  readonly nodes: IrNode[] = [];
  /** Weight tensors emitted so far. */
  readonly initializers: IrTensor[] = [];
  /** Name prefix for nodes and tensors, normally the tfjs layer being converted. */
  scope = '';
  private readonly taken = new Set<string>();
  private readonly constants = new Map<string, string>();
  private readonly shapes = new Map<string, Array<number | null>>();
  private readonly masks = new Map<string, string>();
  private readonly elemTypes = new Map<string, DataTypeCode>();
  /**
   * When set, the name of an int32 `[batch]` graph input giving each sequence's length; masking layers
   * (`Embedding` with `maskZero`, `Masking`) use it instead of computing lengths from their input.
   */
  lengthsInput: string | undefined;

  constructor(
    /** The target ONNX opset of the default domain. */
    readonly opset: number,
    /**
     * Export profile: `default` uses every ONNX op; `webgl` only the ops onnxruntime-web's WebGL
     * backend implements (handlers lower the others to primitives, see profiles.ts).
     */
    readonly profile: ExportProfile = 'default',
  ) {}

  /** Marks names as used (graph inputs and outputs) so {@link uniqueName} never hands them out. */
  reserve(...names: string[]): void {
    for (const n of names) this.taken.add(n);
  }

  /** Returns `base`, or `base_1`, `base_2`, ... whichever is not taken yet, and takes it. */
  uniqueName(base: string): string {
    const clean = base.length > 0 ? base : 't';
    let name = clean;
    for (let i = 1; this.taken.has(name); i++) name = `${clean}_${i}`;
    this.taken.add(name);
    return name;
  }

  private scoped(base: string): string {
    return this.scope ? `${this.scope}/${base}` : base;
  }

  /** Records the static shape of a tensor (from tfjs' symbolic shapes), `null` for unknown dims. */
  setShape(name: string, shape: ReadonlyArray<number | null>): void {
    this.shapes.set(name, [...shape]);
  }

  /** Records the element type of a tensor (from tfjs' symbolic dtypes). */
  setElemType(name: string, type: DataTypeCode): void {
    this.elemTypes.set(name, type);
  }

  /** The recorded element type of a tensor, if known. */
  elemTypeOf(name: string): DataTypeCode | undefined {
    return this.elemTypes.get(name);
  }

  /** The recorded shape of a tensor, if known. */
  shapeOf(name: string): Array<number | null> | undefined {
    const s = this.shapes.get(name);
    return s ? [...s] : undefined;
  }

  /**
   * Records that the time steps of a `[batch, time, ...]` tensor are masked: `lengths` names an int32
   * `[batch]` tensor counting the real (leading) steps. tfjs masks are per step; ONNX recurrent ops take
   * sequence lengths, so masks are carried as lengths and assume right padding.
   */
  setMask(name: string, lengths: string): void {
    this.masks.set(name, lengths);
  }

  /** The lengths tensor of a masked tensor (see {@link setMask}), if any. */
  maskOf(name: string): string | undefined {
    return this.masks.get(name);
  }

  /** Appends a node and returns its output names. */
  makeNode(
    opType: string,
    inputs: string[],
    attributes: Record<string, IrAttribute> = {},
    options: MakeNodeOptions = {},
  ): string[] {
    const outSpec = options.outputs ?? 1;
    const nodeName = this.uniqueName(this.scoped(options.name ?? opType));
    const outputs =
      typeof outSpec === 'number'
        ? Array.from({ length: outSpec }, (_, i) => this.uniqueName(outSpec === 1 ? nodeName : `${nodeName}:${i}`))
        : outSpec.map((n) => {
            this.taken.add(n);
            return n;
          });
    this.nodes.push({ name: nodeName, opType, domain: options.domain ?? '', inputs, outputs, attributes });
    return outputs;
  }

  /** Appends a single-output node and returns its output name. */
  op(opType: string, inputs: string[], attributes: Record<string, IrAttribute> = {}, name?: string): string {
    const [out] = this.makeNode(opType, inputs, attributes, name === undefined ? {} : { name });
    return out!;
  }

  /**
   * A reduction (`ReduceSum`, `ReduceMean`, `ReduceMax`, ...) over `axes`, in the form the target opset
   * wants: `axes` is an input for ReduceSum from opset 13 and for the others from opset 18, an
   * attribute before.
   */
  reduce(opType: string, x: string, axes: number[], keepdims: boolean): string {
    const asInput = opType === 'ReduceSum' ? this.opset >= 13 : this.opset >= 18;
    const keep = { keepdims: attr.int(keepdims ? 1 : 0) };
    return asInput
      ? this.op(opType, [x, this.constInt64(axes)], keep)
      : this.op(opType, [x], { ...keep, axes: attr.ints(axes) });
  }

  /** Adds a weight tensor (a graph initializer) and returns its unique name. */
  addInitializer(
    base: string,
    dims: readonly number[],
    data: IrTensor['data'],
    dataType: DataTypeCode = DataType.FLOAT,
  ): string {
    if (data.length !== elementCount(dims)) {
      throw new ExportError(
        `Initializer ${base}: ${data.length} values do not fill shape [${dims.join(', ')}].`,
        { userError: false },
      );
    }
    const name = this.uniqueName(this.scoped(base));
    this.initializers.push({ name, dataType, dims: [...dims], data });
    return name;
  }

  private constant(key: string, tensor: Omit<IrTensor, 'name'>): string {
    const cached = this.constants.get(key);
    if (cached) return cached;
    const name = this.uniqueName(`const/${key}`);
    this.nodes.push({
      name: this.uniqueName(`${name}/Constant`),
      opType: 'Constant',
      domain: '',
      inputs: [],
      outputs: [name],
      attributes: { value: attr.tensor({ ...tensor, name }) },
    });
    this.constants.set(key, name);
    return name;
  }

  /**
   * A float32 constant (a `Constant` node, shared between identical uses). A number gives a scalar;
   * an array gives a 1-D tensor unless `dims` is given.
   */
  constFloat(values: number | number[], dims?: number[]): string {
    const list = typeof values === 'number' ? [values] : values;
    const shape = dims ?? (typeof values === 'number' ? [] : [list.length]);
    return this.constant(`f32[${shape.join('x')}]:${list.join(',')}`, {
      dataType: DataType.FLOAT,
      dims: shape,
      data: Float32Array.from(list),
    });
  }

  /** An int32 constant; a number gives a scalar, an array a 1-D tensor. */
  constInt32(values: number | number[]): string {
    const list = typeof values === 'number' ? [values] : values;
    const shape = typeof values === 'number' ? [] : [list.length];
    return this.constant(`i32[${shape.join('x')}]:${list.join(',')}`, {
      dataType: DataType.INT32,
      dims: shape,
      data: Int32Array.from(list),
    });
  }

  /** An int64 constant (shapes, axes, perms); a number gives a scalar, an array a 1-D tensor. */
  constInt64(values: number | number[]): string {
    const list = typeof values === 'number' ? [values] : values;
    const shape = typeof values === 'number' ? [] : [list.length];
    return this.constant(`i64[${shape.join('x')}]:${list.join(',')}`, {
      dataType: DataType.INT64,
      dims: shape,
      data: BigInt64Array.from(list.map((v) => BigInt(v))),
    });
  }
}

/** The ONNX data type code for a tfjs dtype allowed on graph inputs and outputs. */
export function elemTypeFor(dtype: string): DataTypeCode {
  if (dtype === 'float32') return DataType.FLOAT;
  if (dtype === 'int32') return DataType.INT32;
  if (dtype === 'int64') return DataType.INT64;
  throw new ExportError(`Unsupported tensor dtype "${dtype}". Should be one of: float32, int32, int64.`);
}
