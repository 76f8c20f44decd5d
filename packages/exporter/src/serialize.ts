/**
 * IR <-> ONNX protobuf bytes. The only module that touches protobufjs; the schema is the official
 * ONNX `onnx.proto` shipped in this package's `schema/` folder.
 */
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { ExportError, OnnxFormatError } from './errors.js';
import { elementCount, type IrAttribute, type IrModel, type IrTensor, type IrValueInfo } from './ir.js';

const SCHEMA_URL = new URL('../schema/onnx.proto', import.meta.url);

let modelType: protobuf.Type | undefined;

/** The `onnx.ModelProto` message type, parsed once from `schema/onnx.proto`. */
function getModelType(): protobuf.Type {
  if (modelType) return modelType;
  let source: string;
  try {
    source = readFileSync(SCHEMA_URL, 'utf8');
  } catch (err) {
    throw new ExportError(`Cannot read the ONNX schema at ${SCHEMA_URL.pathname}: ${(err as Error).message}`, {
      userError: false,
      cause: err,
    });
  }
  const root = protobuf.parse(source, { keepCase: true }).root;
  modelType = root.lookupType('onnx.ModelProto');
  return modelType;
}

const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7, strings: 8 } as const;

const encoder = new TextEncoder();

/** Little-endian bytes of a tensor's data, whatever the host's byte order. */
function rawData(t: IrTensor): Uint8Array {
  const bytes = new Uint8Array(t.data.length * t.data.BYTES_PER_ELEMENT);
  const view = new DataView(bytes.buffer);
  const data = t.data;
  if (data instanceof Float32Array) {
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
  } else if (data instanceof Int32Array) {
    for (let i = 0; i < data.length; i++) view.setInt32(i * 4, data[i]!, true);
  } else if (data instanceof Uint16Array) {
    for (let i = 0; i < data.length; i++) view.setUint16(i * 2, data[i]!, true);
  } else if (data instanceof Int8Array) {
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.length));
  } else {
    for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, data[i]!, true);
  }
  return bytes;
}

function tensorMessage(t: IrTensor): Record<string, unknown> {
  return { name: t.name, dims: t.dims, data_type: t.dataType, raw_data: rawData(t) };
}

function attributeMessage(name: string, a: IrAttribute): Record<string, unknown> {
  const msg: Record<string, unknown> = { name, type: ATTRIBUTE_TYPE[a.kind] };
  switch (a.kind) {
    case 'float':
      msg.f = a.value;
      break;
    case 'int':
      msg.i = a.value;
      break;
    case 'string':
      msg.s = encoder.encode(a.value);
      break;
    case 'floats':
      msg.floats = a.value;
      break;
    case 'ints':
      msg.ints = a.value;
      break;
    case 'strings':
      msg.strings = a.value.map((s) => encoder.encode(s));
      break;
    case 'tensor':
      msg.t = tensorMessage(a.value);
      break;
  }
  return msg;
}

function valueInfoMessage(v: IrValueInfo): Record<string, unknown> {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: v.elemType,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

/** Encodes an IR model as ONNX `ModelProto` bytes. */
export function serializeModel(model: IrModel): Uint8Array {
  const Model = getModelType();
  const g = model.graph;
  const message = {
    ir_version: model.irVersion,
    opset_import: [{ domain: '', version: model.opset }],
    producer_name: model.producerName,
    producer_version: model.producerVersion,
    doc_string: model.docString ?? '',
    graph: {
      name: g.name,
      doc_string: g.docString ?? '',
      node: g.nodes.map((n) => ({
        name: n.name,
        op_type: n.opType,
        domain: n.domain,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes).map(([k, a]) => attributeMessage(k, a)),
      })),
      initializer: g.initializers.map(tensorMessage),
      input: g.inputs.map(valueInfoMessage),
      output: g.outputs.map(valueInfoMessage),
    },
    metadata_props: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
  };
  const err = Model.verify(message);
  if (err) throw new ExportError(`Internal error: the ONNX model message is invalid (${err}).`, { userError: false });
  // A plain Uint8Array that owns its buffer (protobufjs may return a view into a pooled Node Buffer).
  return Uint8Array.from(Model.encode(Model.fromObject(message)).finish());
}

const ELEM_TYPE_NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};
const FLOAT_TYPES = new Set([1, 10, 11, 16]);
const ELEM_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

/** A graph input or output as read back from an ONNX file. */
export interface OnnxValueSummary {
  name: string;
  /** Element type, e.g. `float32`, `int64` (or `type<N>` for codes this reader does not name). */
  elemType: string;
  /** Dimensions; strings are symbolic (e.g. `batch`), `"?"` when the file leaves a dimension unnamed. */
  shape: Array<number | string>;
}

/** A plain summary of an ONNX model, as printed by `vaekit inspect`. */
export interface OnnxModelSummary {
  irVersion: number;
  opsetImport: Array<{ domain: string; version: number }>;
  producerName: string;
  producerVersion: string;
  docString: string;
  graphName: string;
  inputs: OnnxValueSummary[];
  outputs: OnnxValueSummary[];
  nodeCount: number;
  /** Number of nodes per op type, e.g. `{ MatMul: 3, Add: 3 }`. */
  opHistogram: Record<string, number>;
  initializerCount: number;
  /** Number of floating-point initializer elements: the model's weights. */
  parameterCount: number;
  /** Total bytes of initializer data. */
  initializerBytes: number;
  metadata: Record<string, string>;
}

interface DecodedTensor {
  name?: string;
  dims?: number[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: number[];
  double_data?: number[];
  uint64_data?: number[];
  data_location?: number;
}
interface DecodedValueInfo {
  name?: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: Array<{ dim_value?: number; dim_param?: string }> } } };
}
interface DecodedModel {
  ir_version?: number;
  opset_import?: Array<{ domain?: string; version?: number }>;
  producer_name?: string;
  producer_version?: string;
  doc_string?: string;
  graph?: {
    name?: string;
    node?: Array<{ op_type?: string; domain?: string; input?: string[]; output?: string[] }>;
    initializer?: DecodedTensor[];
    input?: DecodedValueInfo[];
    output?: DecodedValueInfo[];
  };
  metadata_props?: Array<{ key?: string; value?: string }>;
}

function valueSummary(v: DecodedValueInfo): OnnxValueSummary {
  const tt = v.type?.tensor_type;
  const code = tt?.elem_type ?? 0;
  return {
    name: v.name ?? '',
    elemType: ELEM_TYPE_NAMES[code] ?? `type${code}`,
    shape: (tt?.shape?.dim ?? []).map((d) => d.dim_param ?? d.dim_value ?? '?'),
  };
}

/**
 * Decodes ONNX bytes into a plain summary (IR version, opsets, producer, graph inputs/outputs, op
 * histogram, parameter count, metadata). Throws {@link OnnxFormatError} for bytes that are truncated,
 * corrupt or not an ONNX model, naming what is wrong.
 */
export function decodeModel(bytes: Uint8Array): OnnxModelSummary {
  const Model = getModelType();
  if (bytes.length === 0) throw new OnnxFormatError('Not an ONNX model: the file is empty.');
  let decoded: DecodedModel;
  try {
    const message = Model.decode(bytes);
    decoded = Model.toObject(message, { longs: Number, bytes: Uint8Array, defaults: false, arrays: true }) as DecodedModel;
  } catch (err) {
    throw new OnnxFormatError(
      `Not a valid ONNX model (${bytes.length} bytes): the protobuf data is truncated or corrupt (${(err as Error).message}).`,
      { cause: err },
    );
  }
  const problems: string[] = [];
  if (!decoded.ir_version || decoded.ir_version < 1) problems.push('ir_version is missing');
  if (!decoded.opset_import || decoded.opset_import.length === 0) problems.push('opset_import is missing');
  const g = decoded.graph;
  if (!g) problems.push('the graph is missing');
  if (g && (!g.output || g.output.length === 0)) problems.push('the graph has no outputs');
  const known = new Set<string>(['']);
  for (const v of g?.input ?? []) known.add(v.name ?? '');
  let parameterCount = 0;
  let initializerBytes = 0;
  for (const t of g?.initializer ?? []) {
    known.add(t.name ?? '');
    const count = elementCount(t.dims ?? []);
    const code = t.data_type ?? 0;
    if (t.raw_data && t.data_location !== 1) {
      const width = ELEM_BYTES[code];
      if (width !== undefined && t.raw_data.length !== count * width) {
        problems.push(
          `initializer "${t.name}" holds ${t.raw_data.length} bytes, expected ${count * width} for shape [${(t.dims ?? []).join(', ')}]`,
        );
      }
      initializerBytes += t.raw_data.length;
    }
    if (FLOAT_TYPES.has(code)) parameterCount += count;
  }
  const opHistogram: Record<string, number> = {};
  for (const n of g?.node ?? []) {
    const op = n.domain ? `${n.domain}.${n.op_type ?? '?'}` : (n.op_type ?? '?');
    opHistogram[op] = (opHistogram[op] ?? 0) + 1;
    for (const i of n.input ?? []) {
      if (!known.has(i)) problems.push(`node input "${i}" of a ${op} node is never produced`);
    }
    for (const o of n.output ?? []) known.add(o);
  }
  for (const o of g?.output ?? []) {
    if (!known.has(o.name ?? '')) problems.push(`graph output "${o.name}" is never produced`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : '');
    throw new OnnxFormatError(`Not a valid ONNX model (${bytes.length} bytes, truncated or corrupt?): ${shown}.`);
  }
  const metadata: Record<string, string> = {};
  for (const p of decoded.metadata_props ?? []) metadata[p.key ?? ''] = p.value ?? '';
  return {
    irVersion: decoded.ir_version!,
    opsetImport: (decoded.opset_import ?? []).map((o) => ({ domain: o.domain ?? '', version: o.version ?? 0 })),
    producerName: decoded.producer_name ?? '',
    producerVersion: decoded.producer_version ?? '',
    docString: decoded.doc_string ?? '',
    graphName: g?.name ?? '',
    inputs: (g?.input ?? []).filter((v) => !(g?.initializer ?? []).some((t) => t.name === v.name)).map(valueSummary),
    outputs: (g?.output ?? []).map(valueSummary),
    nodeCount: (g?.node ?? []).length,
    opHistogram,
    initializerCount: (g?.initializer ?? []).length,
    parameterCount,
    initializerBytes,
    metadata,
  };
}
