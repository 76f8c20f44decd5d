/**
 * tfjs LayersModel -> ONNX. Pipeline: walk the layer graph (functional or Sequential, nested models
 * flattened) -> check every layer has a handler -> map layers to IR nodes -> optimize -> serialize.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import type { TensorSpec } from '@vaekit/core';
import { ExportError, UnsupportedLayerError, type UnsupportedLayer } from './errors.js';
import { DEFAULT_OPSET, irVersionForOpset } from './opsets.js';
import { defaultRegistry } from './handlers/index.js';
import { convertFor, type HandlerRegistry, type LayerCall } from './handlers/registry.js';
import { ConversionContext, DataType, elemTypeFor, type ExportProfile, type IrModel, type IrValueInfo } from './ir.js';
import { runPasses } from './passes/index.js';
import type { WeightDtype } from './passes/weight-dtype.js';
import { serializeModel } from './serialize.js';

export { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, irVersionForOpset } from './opsets.js';

/** Name and version of this package, written into every model as the producer. */
export const PRODUCER: { name: string; version: string } = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return { name: 'vaekit', version: pkg.version ?? '0.0.0' };
  } catch {
    return { name: 'vaekit', version: '0.0.0' };
  }
})();

/** Options of {@link convertLayersModel}. */
export interface ConvertOptions {
  /** Target opset of the default ONNX domain, 13 to 21. Default 17. */
  opset?: number;
  /** ONNX graph input names, one per model input. Default: the tfjs input layer names. */
  inputNames?: string[];
  /** ONNX graph output names, one per model output. Default: the tfjs output layer names. */
  outputNames?: string[];
  /** Extra `metadata_props` entries (the producer is always recorded). */
  metadata?: Record<string, string>;
  /** Model doc string. */
  docString?: string;
  /** Graph name. Default: the tfjs model name. */
  graphName?: string;
  /**
   * Adds an int32 `[batch]` graph input of this name giving each sequence's length; masking layers
   * (`Embedding` with `maskZero`) then take their lengths from it instead of counting non-zero ids.
   * It comes after the model's inputs. Used by text encoders (`tokens, lengths -> mu, logvar`).
   */
  lengthsInput?: string;
  /**
   * Dimensions of graph inputs (and outputs) to declare dynamic although tfjs fixed them, by tensor name
   * and axis, with the symbolic name to use: `{ tokens: { 1: 'time' } }` lets a text encoder trained on
   * padded length T read any length. Only for graphs whose ops do not depend on that size.
   */
  dynamicDims?: Record<string, Record<number, string>>;
  /** Weight storage: `fp32` (default), `fp16` or `int8` (see passes/weight-dtype.ts). */
  dtype?: WeightDtype;
  /**
   * `default` (every ONNX op) or `webgl`: only ops onnxruntime-web's WebGL backend runs, recurrent
   * layers unrolled over their static length (see passes/profile.ts).
   */
  profile?: ExportProfile;
  /** Handlers to use. Default: the built-in registry. */
  registry?: HandlerRegistry;
  /**
   * Appends nodes after the model's own and returns more graph outputs, placed after the model's. It
   * gets the context and the public names of the model's outputs (in `outputNames` order). Parity
   * against tfjs covers only the model's outputs; the caller checks what it adds.
   */
  extraOutputs?: (ctx: ConversionContext, outputs: readonly string[]) => IrValueInfo[];
}

/** Result of {@link convertLayersModel}. */
export interface ConvertResult {
  /** The serialized ONNX model: the file to write. */
  bytes: Uint8Array;
  /**
   * The same graph with its dynamic dimensions symbolic, for checking it with ONNX Runtime's Node and
   * WASM builds: they refuse any size but 0 where a `webgl`-profile file declares 0 (see
   * passes/profile.ts). Equal to `bytes` for the default profile.
   */
  parityBytes: Uint8Array;
  /** Graph inputs (batch dimension `"batch"`). */
  inputs: TensorSpec[];
  /** Graph outputs. */
  outputs: TensorSpec[];
  opset: number;
  irVersion: number;
  /** The IR after the passes (as checked by parity), for inspection and tests. */
  model: IrModel;
}

/** Structural view of a tfjs graph node (not exported by tfjs' typings). */
interface TfNode {
  outboundLayer: tf.layers.Layer;
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

interface TfLayerWithNodes {
  inboundNodes: TfNode[];
}

function isNestedModel(layer: tf.layers.Layer): layer is tf.LayersModel & tf.layers.Layer {
  return layer instanceof tf.LayersModel;
}

function producingNode(t: tf.SymbolicTensor): TfNode {
  const node = (t.sourceLayer as unknown as TfLayerWithNodes).inboundNodes[t.nodeIndex];
  if (!node) throw new ExportError(`Tensor "${t.name}" has no producing node in the model graph.`, { userError: false });
  return node;
}

/** Nodes of `model` that compute its outputs from its inputs, in topological order. */
function topoNodes(model: tf.LayersModel): TfNode[] {
  const inputIds = new Set(model.inputs.map((t) => t.id));
  const order: TfNode[] = [];
  const done = new Set<TfNode>();
  const visiting = new Set<TfNode>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (inputIds.has(t.id)) return;
    const node = producingNode(t);
    if (done.has(node)) return;
    if (visiting.has(node)) throw new ExportError('The model graph has a cycle.', { userError: false });
    visiting.add(node);
    for (const i of node.inputTensors) visit(i);
    visiting.delete(node);
    done.add(node);
    order.push(node);
  };
  for (const o of model.outputs) visit(o);
  return order;
}

function collectUnsupported(
  model: tf.LayersModel,
  registry: HandlerRegistry,
  opset: number,
  found: UnsupportedLayer[],
  seen: Set<tf.layers.Layer>,
): void {
  for (const node of topoNodes(model)) {
    const layer = node.outboundLayer;
    if (seen.has(layer)) continue;
    seen.add(layer);
    if (isNestedModel(layer)) {
      collectUnsupported(layer, registry, opset, found, seen);
      continue;
    }
    const className = layer.getClassName();
    const handler = registry.get(className);
    if (!handler) {
      found.push({ className, layerName: layer.name });
    } else if (opset < handler.opsets.min || opset > handler.opsets.max) {
      found.push({ className, layerName: layer.name, reason: `needs opset ${handler.opsets.min}-${handler.opsets.max}` });
    } else {
      const reason = handler.check?.(layer, opset);
      if (reason) found.push({ className, layerName: layer.name, reason });
    }
  }
}

/** Layers that only move elements around: their output has their input's element type. */
const SHAPE_ONLY = new Set(['Reshape', 'Flatten', 'Permute', 'RepeatVector', 'Cropping2D', 'InputLayer']);

const shapeOf = (t: tf.SymbolicTensor): Array<number | null> => t.shape.map((d) => d ?? null);

/** Emits the nodes of `model` with its inputs bound to `inputNames`; returns the names of its outputs. */
function emitModel(ctx: ConversionContext, model: tf.LayersModel, inputNames: string[], registry: HandlerRegistry): string[] {
  const names = new Map<number, string>();
  model.inputs.forEach((t, i) => {
    names.set(t.id, inputNames[i]!);
    ctx.setShape(inputNames[i]!, shapeOf(t));
    ctx.setElemType(inputNames[i]!, elemTypeFor(t.dtype));
  });
  const nameOf = (t: tf.SymbolicTensor): string => {
    const n = names.get(t.id);
    if (n === undefined) throw new ExportError(`Tensor "${t.name}" is used before it is computed.`, { userError: false });
    return n;
  };
  for (const node of topoNodes(model)) {
    const layer = node.outboundLayer;
    const inputs = node.inputTensors.map(nameOf);
    let outputs: string[];
    if (isNestedModel(layer)) {
      outputs = emitModel(ctx, layer, inputs, registry);
    } else {
      const handler = registry.get(layer.getClassName());
      if (!handler) throw new Error(`unreachable: no handler for ${layer.getClassName()}`);
      const call: LayerCall = {
        inputShapes: node.inputTensors.map(shapeOf),
        outputShapes: node.outputTensors.map(shapeOf),
      };
      ctx.scope = layer.name;
      outputs = convertFor(handler, ctx.opset)(ctx, layer, inputs, call);
      ctx.scope = '';
      // tfjs reports some shape-only layers' outputs as float32 whatever their input; ONNX keeps the
      // input's type, and consumers (Embedding's Gather) must see the real one.
      const inType = inputs[0] === undefined ? undefined : ctx.elemTypeOf(inputs[0]);
      if (inType !== undefined && SHAPE_ONLY.has(layer.getClassName())) {
        for (const o of outputs) if (ctx.elemTypeOf(o) === undefined) ctx.setElemType(o, inType);
      }
      // tfjs' default computeMask passes the input mask through layers that support masking.
      const inMask = inputs.map((i) => ctx.maskOf(i)).find((m) => m !== undefined);
      if (!handler.managesMask && inMask && (layer as unknown as { supportsMasking?: boolean }).supportsMasking) {
        for (const o of outputs) if (!ctx.maskOf(o)) ctx.setMask(o, inMask);
      }
    }
    if (outputs.length !== node.outputTensors.length) {
      throw new ExportError(
        `Handler for ${layer.getClassName()} layer "${layer.name}" returned ${outputs.length} outputs, expected ${node.outputTensors.length}.`,
        { userError: false },
      );
    }
    node.outputTensors.forEach((t, i) => {
      names.set(t.id, outputs[i]!);
      if (!ctx.shapeOf(outputs[i]!)) ctx.setShape(outputs[i]!, shapeOf(t));
      if (ctx.elemTypeOf(outputs[i]!) === undefined) ctx.setElemType(outputs[i]!, elemTypeFor(t.dtype));
    });
  }
  return model.outputs.map(nameOf);
}

function checkNames(kind: 'inputNames' | 'outputNames', names: string[], count: number): void {
  if (names.length !== count) {
    throw new ExportError(`${kind} has ${names.length} names but the model has ${count} ${kind === 'inputNames' ? 'inputs' : 'outputs'}.`);
  }
  if (names.some((n) => typeof n !== 'string' || n.length === 0)) throw new ExportError(`${kind} must be non-empty strings.`);
}

function valueInfo(name: string, t: tf.SymbolicTensor): IrValueInfo {
  return {
    name,
    elemType: elemTypeFor(t.dtype),
    shape: t.shape.map((d, i) => (d === null ? (i === 0 ? 'batch' : `${name}_dim${i}`) : d)),
  };
}

/** Manifest dtype of the element types an {@link ConvertOptions.extraOutputs} output may have. */
const ELEM_DTYPE: Partial<Record<number, string>> = { [DataType.FLOAT]: 'float32', [DataType.INT32]: 'int32', [DataType.INT64]: 'int64' };

function tensorSpec(v: IrValueInfo, dtype: string): TensorSpec {
  return { name: v.name, dtype: dtype as TensorSpec['dtype'], shape: [...v.shape] };
}

/**
 * Converts a tfjs LayersModel (Sequential or functional, any number of inputs and outputs) to an ONNX
 * model. The batch dimension is dynamic (`dim_param "batch"`); weights are float32 initializers.
 *
 * Throws {@link UnsupportedLayerError} listing every layer without a handler (all at once), and
 * {@link ExportError} for a bad opset (accepted: 13 to 21) or bad names.
 */
export function convertLayersModel(model: tf.LayersModel, opts: ConvertOptions = {}): ConvertResult {
  const opset = opts.opset ?? DEFAULT_OPSET;
  const irVersion = irVersionForOpset(opset);
  const registry = opts.registry ?? defaultRegistry;
  if (!model.inputs || !model.outputs || model.outputs.length === 0) {
    throw new ExportError('The model has no symbolic inputs/outputs; build it (give an inputShape) before exporting.');
  }

  const unsupported: UnsupportedLayer[] = [];
  collectUnsupported(model, registry, opset, unsupported, new Set());
  if (unsupported.length > 0) throw new UnsupportedLayerError(unsupported, registry.classNames());

  const inputNames = opts.inputNames ?? model.inputs.map((t, i) => model.inputNames[i] ?? t.name);
  // tfjs names every output of a multi-output layer after the layer: number the repeats.
  const outputNames =
    opts.outputNames ??
    model.outputs.map((t, i, all) => {
      const base = model.outputNames[i] ?? t.name;
      const same = all.filter((_, j) => (model.outputNames[j] ?? all[j]!.name) === base).length;
      return same > 1 ? `${base}_${all.slice(0, i).filter((_, j) => (model.outputNames[j] ?? all[j]!.name) === base).length}` : base;
    });
  checkNames('inputNames', inputNames, model.inputs.length);
  checkNames('outputNames', outputNames, model.outputs.length);
  const all = [...inputNames, ...(opts.lengthsInput !== undefined ? [opts.lengthsInput] : []), ...outputNames];
  if (new Set(all).size !== all.length) {
    throw new ExportError(`Graph input and output names must be distinct, got: ${all.join(', ')}.`);
  }

  const profile = opts.profile ?? 'default';
  const ctx = new ConversionContext(opset, profile);
  ctx.reserve(...all);
  if (opts.lengthsInput !== undefined) {
    ctx.lengthsInput = opts.lengthsInput;
    ctx.setElemType(opts.lengthsInput, DataType.INT32);
  }
  const produced = emitModel(ctx, model, inputNames, registry);

  // Give each output tensor its public name: rename the producing node's output when it is an
  // internal tensor used by a single graph output, else route it through an Identity.
  const graphInputs = new Set(inputNames);
  const claimed = new Set<string>();
  produced.forEach((internal, i) => {
    const wanted = outputNames[i]!;
    const producer = ctx.nodes.find((n) => n.outputs.includes(internal));
    if (graphInputs.has(internal) || claimed.has(internal) || !producer) {
      ctx.makeNode('Identity', [internal], {}, { outputs: [wanted], name: `${wanted}/Identity` });
      return;
    }
    claimed.add(internal);
    claimed.add(wanted);
    producer.outputs = producer.outputs.map((o) => (o === internal ? wanted : o));
    for (const n of ctx.nodes) n.inputs = n.inputs.map((x) => (x === internal ? wanted : x));
    for (let j = i + 1; j < produced.length; j++) if (produced[j] === internal) produced[j] = wanted;
  });

  const inputs = model.inputs.map((t, i) => {
    const v = valueInfo(inputNames[i]!, t);
    const dyn = opts.dynamicDims?.[v.name];
    if (dyn) v.shape = v.shape.map((d, axis) => dyn[axis] ?? d);
    return v;
  });
  if (opts.lengthsInput !== undefined) inputs.push({ name: opts.lengthsInput, elemType: DataType.INT32, shape: ['batch'] });
  const outputs = model.outputs.map((t, i) => {
    const v = valueInfo(outputNames[i]!, t);
    const dyn = opts.dynamicDims?.[v.name];
    if (dyn) v.shape = v.shape.map((d, axis) => dyn[axis] ?? d);
    return v;
  });
  if (opts.extraOutputs) {
    ctx.scope = '';
    outputs.push(...opts.extraOutputs(ctx, outputNames));
  }
  const ir: IrModel = {
    irVersion,
    opset,
    producerName: PRODUCER.name,
    producerVersion: PRODUCER.version,
    ...(opts.docString !== undefined ? { docString: opts.docString } : {}),
    metadata: { producer: `${PRODUCER.name} ${PRODUCER.version}`, 'vaekit.version': PRODUCER.version, ...opts.metadata },
    graph: {
      name: opts.graphName ?? model.name,
      nodes: ctx.nodes,
      initializers: ctx.initializers,
      inputs,
      outputs,
    },
  };
  const passOptions = { dtype: opts.dtype ?? 'fp32', profile };
  runPasses(ir, passOptions, false);
  // The manifest keeps the symbolic names (they say what each dimension means); the file may not.
  const inputSpecs = inputs.map((v, i) => tensorSpec(v, model.inputs[i]?.dtype ?? 'int32'));
  const outputSpecs = outputs.map((v, i) => tensorSpec(v, model.outputs[i]?.dtype ?? ELEM_DTYPE[v.elemType] ?? 'float32'));
  const parityBytes = serializeModel(ir);
  runPasses(ir, passOptions, true);
  // The file-only passes rewrite nothing in the default profile: no second serialization.
  const bytes = profile === 'default' ? parityBytes : serializeModel(ir);
  return {
    bytes,
    parityBytes,
    inputs: inputSpecs,
    outputs: outputSpecs,
    opset,
    irVersion,
    model: ir,
  };
}
