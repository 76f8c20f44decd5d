/**
 * Merge layers: `Concatenate`, `Add`, `Multiply`, `Average`, `Maximum`, `Minimum`. ONNX
 * broadcasting matches tfjs' for equal shapes, which is what tfjs' merge layers require.
 */
import { attr } from '../ir.js';
import { ALL_OPSETS, configNumber, type LayerHandler } from './registry.js';


/** Folds the inputs pairwise with a binary op (Add, Mul, Sub) or feeds them all to a variadic one. */
const variadic = (className: string, opType: string): LayerHandler => ({
  className,
  opsets: ALL_OPSETS,
  convert: (ctx, _layer, inputs) => [ctx.op(opType, inputs)],
});

/** Handlers of the merge family. */
export const mergeHandlers: LayerHandler[] = [
  {
    className: 'Concatenate',
    opsets: ALL_OPSETS,
    convert: (ctx, layer, inputs) => [ctx.op('Concat', inputs, { axis: attr.int(configNumber(layer.getConfig(), 'axis', -1)) })],
  },
  variadic('Add', 'Sum'),
  variadic('Maximum', 'Max'),
  variadic('Minimum', 'Min'),
  {
    className: 'Multiply',
    opsets: ALL_OPSETS,
    convert: (ctx, _layer, inputs) => [inputs.slice(1).reduce((acc, x) => ctx.op('Mul', [acc, x]), inputs[0]!)],
  },
  {
    className: 'Average',
    opsets: ALL_OPSETS,
    convert: (ctx, _layer, inputs) => [ctx.op('Mul', [ctx.op('Sum', inputs), ctx.constFloat(1 / inputs.length)])],
  },
];
