/**
 * Core layers: `InputLayer`, `Dense`, the dropout/noise family (identity at inference), `Reshape`,
 * `Flatten`. Tensors keep tfjs' layout (NHWC for images), so `Reshape` and `Flatten` are the plain
 * ONNX ops with the same row-major semantics.
 */
import { ExportError } from '../errors.js';
import { activationOf, checkActivation, emitActivation } from './activation.js';
import { attr, DataType } from '../ir.js';
import { ALL_OPSETS, convertFor, configNumber, configShape, configString, type LayerHandler } from './registry.js';


/** Layers that only act while training: at inference they pass their input through. */
const IDENTITY_AT_INFERENCE = ['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout'];

/** Layer classes TimeDistributed may wrap: their handlers already act on the last axis at any rank. */
const RANK_AGNOSTIC = ['Dense', 'Activation', ...IDENTITY_AT_INFERENCE];

/** Handlers of the core layer family. */
export const coreHandlers: LayerHandler[] = [
  {
    className: 'InputLayer',
    opsets: ALL_OPSETS,
    // Model inputs are mapped to graph inputs before conversion; an InputLayer reached otherwise passes
    // its tensor through.
    convert: (_ctx, _layer, inputs) => inputs,
  },
  {
    className: 'Dense',
    opsets: ALL_OPSETS,
    check: checkActivation,
    convert: (ctx, layer, [x], call) => {
      const [kernel, bias] = layer.getWeights();
      if (!kernel) throw new ExportError(`Dense layer "${layer.name}" has no weights; build the model first.`);
      const w = ctx.addInitializer('kernel', kernel.shape, kernel.dataSync() as Float32Array);
      const b = layer.getConfig().useBias !== false && bias ? ctx.addInitializer('bias', bias.shape, bias.dataSync() as Float32Array) : undefined;
      // Gemm (one fused node) takes rank-2 inputs only; tfjs' Dense applies to the last axis of any
      // rank, which is MatMul + Add.
      const rank2 = (call.inputShapes[0]?.length ?? 0) === 2;
      const y = b === undefined ? ctx.op('MatMul', [x!, w]) : rank2 ? ctx.op('Gemm', [x!, w, b]) : ctx.op('Add', [ctx.op('MatMul', [x!, w]), b]);
      return [emitActivation(ctx, activationOf(layer), y)];
    },
  },
  ...IDENTITY_AT_INFERENCE.map(
    (className): LayerHandler => ({ className, opsets: ALL_OPSETS, convert: (_ctx, _layer, inputs) => inputs }),
  ),
  {
    className: 'Reshape',
    opsets: ALL_OPSETS,
    convert: (ctx, layer, [x]) => {
      const target = configShape(layer.getConfig(), 'targetShape').map((d) => d ?? -1);
      // 0 copies the (dynamic) batch dimension from the input.
      return [ctx.op('Reshape', [x!, ctx.constInt64([0, ...target])])];
    },
  },
  {
    className: 'Flatten',
    opsets: ALL_OPSETS,
    convert: (ctx, layer, [x], call) => {
      let input = x!;
      const rank = call.inputShapes[0]?.length ?? 2;
      if (configString(layer.getConfig(), 'dataFormat', 'channelsLast') === 'channelsFirst' && rank > 2) {
        // Keras flattens channels-first tensors in channels-last order.
        const perm = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
        input = ctx.op('Transpose', [input], { perm: { kind: 'ints', value: perm } });
      }
      return [ctx.op('Flatten', [input], { axis: { kind: 'int', value: 1 } })];
    },
  },
  {
    className: 'RepeatVector',
    opsets: ALL_OPSETS,
    // Tile rather than Expand: WebGL has no Expand.
    convert: (ctx, layer, [x]) => [
      ctx.op('Tile', [ctx.op('Unsqueeze', [x!, ctx.constInt64([1])]), ctx.constInt64([1, configNumber(layer.getConfig(), 'n', 1), 1])]),
    ],
  },
  {
    className: 'Permute',
    opsets: ALL_OPSETS,
    convert: (ctx, layer, [x]) => {
      const dims = configShape(layer.getConfig(), 'dims') as number[];
      return [ctx.op('Transpose', [x!], { perm: attr.ints([0, ...dims]) })];
    },
  },
  {
    className: 'Masking',
    opsets: ALL_OPSETS,
    managesMask: true,
    convert: (ctx, layer, [x], call) => {
      // tfjs: a step is masked when every feature equals maskValue; the step's features are zeroed.
      const value = ctx.constFloat(configNumber(layer.getConfig(), 'maskValue', 0));
      const keep = ctx.op('Not', [ctx.op('Equal', [x!, value])]);
      const anyKeep = ctx.reduce('ReduceMax', ctx.op('Cast', [keep], { to: attr.int(DataType.FLOAT) }), [-1], true);
      const y = ctx.op('Mul', [x!, anyKeep]);
      if ((call.inputShapes[0]?.length ?? 0) === 3) {
        const lengths =
          ctx.lengthsInput ??
          ctx.op('Cast', [ctx.reduce('ReduceSum', ctx.op('Squeeze', [anyKeep, ctx.constInt64([2])]), [1], false)], {
            to: attr.int(DataType.INT32),
          });
        ctx.setMask(y, lengths);
      }
      return [y];
    },
  },
];

/** The handlers TimeDistributed delegates to, by wrapped class name. */
const byClass = new Map(coreHandlers.map((h) => [h.className, h]));

coreHandlers.push({
  className: 'TimeDistributed',
  opsets: ALL_OPSETS,
  check: (layer) => {
    const inner = (layer as unknown as { layer?: { getClassName(): string } }).layer;
    const name = inner?.getClassName();
    if (!name || !RANK_AGNOSTIC.includes(name)) {
      return `wrapped layer ${name ?? "?"} is not supported. Should be one of: ${RANK_AGNOSTIC.join(', ')}`;
    }
    return byClass.get(name)?.check?.(inner as never, 0);
  },
  convert: (ctx, layer, inputs, call) => {
    const inner = (layer as unknown as { layer: import('@tensorflow/tfjs').layers.Layer }).layer;
    return convertFor(byClass.get(inner.getClassName())!, ctx.opset)(ctx, inner, inputs, call);
  },
});
