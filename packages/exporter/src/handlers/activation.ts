/**
 * Activation functions: the tfjs activation identifiers (used by `Dense`, `Conv2D`, `Activation`, ...)
 * as a data table, plus the standalone activation layers (`LeakyReLU`, `ReLU`, `ELU`, `Softmax`,
 * `ThresholdedReLU`).
 *
 * Parity notes: every entry reproduces tfjs' formula (see tfjs-layers `activations.ts`); ONNX Runtime
 * and tfjs agree within 1e-5 for inputs of order 1 (the tests use 1e-4).
 */
import type * as tf from '@tensorflow/tfjs';
import { attr, type ConversionContext } from '../ir.js';
import { ALL_OPSETS, configNumber, pickVersion, type LayerHandler, type Versioned } from './registry.js';

/** Emits nodes computing an activation of `x` and returns the result's name (`axis` for softmax-like ones). */
export type EmitActivation = (ctx: ConversionContext, x: string, axis: number) => string;

/** How one tfjs activation identifier is written in ONNX. */
export interface ActivationSpec {
  /** True when it acts element by element (so it may run in any layout, e.g. before a Transpose). */
  elementwise: boolean;
  /** The ONNX form, the same at every opset. Give either `emit` or `versions`. */
  emit?: EmitActivation;
  /** The forms by the first opset each applies to, when an ONNX op for it appears at a later opset. */
  versions?: Versioned<EmitActivation>;
}

// tfjs computes selu with these constants (tfjs-core selu_util.ts); ONNX's defaults differ in the
// last digits, so they are written explicitly.
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_GAMMA = 1.0507009873554804934193349852946;

/** tfjs activation identifier -> ONNX. Identifiers are tfjs class names as `getConfig()` reports them. */
export const ACTIVATIONS: ReadonlyMap<string, ActivationSpec> = new Map<string, ActivationSpec>([
  ['linear', { elementwise: true, emit: (_ctx, x) => x }],
  ['relu', { elementwise: true, emit: (ctx, x) => ctx.op('Relu', [x]) }],
  ['relu6', { elementwise: true, emit: (ctx, x) => ctx.op('Clip', [x, ctx.constFloat(0), ctx.constFloat(6)]) }],
  ['sigmoid', { elementwise: true, emit: (ctx, x) => ctx.op('Sigmoid', [x]) }],
  [
    'hardSigmoid',
    {
      elementwise: true,
      // WebGL has no HardSigmoid: clip(0.2 x + 0.5, 0, 1) is the same function.
      emit: (ctx, x) =>
        ctx.profile === 'webgl'
          ? ctx.op('Clip', [ctx.op('Add', [ctx.op('Mul', [x, ctx.constFloat(0.2)]), ctx.constFloat(0.5)]), ctx.constFloat(0), ctx.constFloat(1)])
          : ctx.op('HardSigmoid', [x], { alpha: attr.float(0.2), beta: attr.float(0.5) }),
    },
  ],
  ['tanh', { elementwise: true, emit: (ctx, x) => ctx.op('Tanh', [x]) }],
  [
    'softplus',
    {
      elementwise: true,
      // WebGL has no Softplus: relu(x) + log(1 + exp(-|x|)), the overflow-free form.
      emit: (ctx, x) =>
        ctx.profile === 'webgl'
          ? ctx.op('Add', [ctx.op('Relu', [x]), ctx.op('Log', [ctx.op('Add', [ctx.op('Exp', [ctx.op('Neg', [ctx.op('Abs', [x])])]), ctx.constFloat(1)])])])
          : ctx.op('Softplus', [x]),
    },
  ],
  [
    'softsign',
    {
      elementwise: true,
      emit: (ctx, x) =>
        ctx.profile === 'webgl' ? ctx.op('Div', [x, ctx.op('Add', [ctx.op('Abs', [x]), ctx.constFloat(1)])]) : ctx.op('Softsign', [x]),
    },
  ],
  ['elu', { elementwise: true, emit: (ctx, x) => ctx.op('Elu', [x], { alpha: attr.float(1) }) }],
  [
    'selu',
    {
      elementwise: true,
      emit: (ctx, x) => ctx.op('Selu', [x], { alpha: attr.float(SELU_ALPHA), gamma: attr.float(SELU_GAMMA) }),
    },
  ],
  ['softmax', { elementwise: false, emit: (ctx, x, axis) => ctx.op('Softmax', [x], { axis: attr.int(axis) }) }],
  ['logSoftmax', { elementwise: false, emit: (ctx, x, axis) => ctx.op('LogSoftmax', [x], { axis: attr.int(axis) }) }],
  ['swish', { elementwise: true, emit: (ctx, x) => ctx.op('Mul', [x, ctx.op('Sigmoid', [x])]) }],
  [
    'mish',
    {
      elementwise: true,
      // Mish is an ONNX op from opset 18; below that it is x * tanh(softplus(x)), tfjs' own formula.
      versions: {
        13: (ctx, x) => ctx.op('Mul', [x, ctx.op('Tanh', [ctx.op('Softplus', [x])])]),
        18: (ctx, x) => ctx.op('Mish', [x]),
      },
    },
  ],
  [
    'gelu',
    {
      elementwise: true,
      // Exact (erf) GELU; the fused Gelu op exists only from opset 20.
      versions: {
        13: (ctx, x) => {
          const erf = ctx.op('Erf', [ctx.op('Div', [x, ctx.constFloat(Math.SQRT2)])]);
          const cdf = ctx.op('Mul', [ctx.op('Add', [erf, ctx.constFloat(1)]), ctx.constFloat(0.5)]);
          return ctx.op('Mul', [x, cdf]);
        },
        20: (ctx, x) => ctx.op('Gelu', [x]),
      },
    },
  ],
  [
    'gelu_new',
    {
      elementwise: true,
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), tfjs' tanh approximation.
      versions: {
        13: (ctx, x) => {
        const x3 = ctx.op('Mul', [ctx.op('Mul', [x, x]), x]);
        const inner = ctx.op('Add', [x, ctx.op('Mul', [x3, ctx.constFloat(0.044715)])]);
        const t = ctx.op('Tanh', [ctx.op('Mul', [inner, ctx.constFloat(Math.sqrt(2 / Math.PI))])]);
        const half = ctx.op('Mul', [x, ctx.constFloat(0.5)]);
        return ctx.op('Mul', [half, ctx.op('Add', [t, ctx.constFloat(1)])]);
        },
        20: (ctx, x) => ctx.op('Gelu', [x], { approximate: attr.string('tanh') }),
      },
    },
  ],
]);

/** The activation identifier of a layer's config (`linear` when absent). */
export function activationOf(layer: tf.layers.Layer): string {
  const a = layer.getConfig().activation;
  if (a === undefined || a === null) return 'linear';
  if (typeof a === 'string') return a;
  // A serialized activation object: { className, config }.
  if (typeof a === 'object' && !Array.isArray(a) && typeof (a as { className?: unknown }).className === 'string') {
    return (a as { className: string }).className;
  }
  return String(a);
}

/** A reason string when the layer's activation has no ONNX mapping, else undefined. */
export function checkActivation(layer: tf.layers.Layer): string | undefined {
  const id = activationOf(layer);
  return ACTIVATIONS.has(id)
    ? undefined
    : `activation "${id}" is not supported. Should be one of: ${[...ACTIVATIONS.keys()].join(', ')}`;
}

/** Emits the activation named by `id` on `x` (softmax-like ones act on `axis`, default the last). */
export function emitActivation(ctx: ConversionContext, id: string, x: string, axis = -1): string {
  const spec = ACTIVATIONS.get(id);
  if (!spec) throw new Error(`unreachable: activation "${id}" passed the pre-conversion check`);
  return (spec.versions ? pickVersion(spec.versions, ctx.opset) : spec.emit!)(ctx, x, axis);
}


/** Handlers of the activation layer family. */
export const activationHandlers: LayerHandler[] = [
  {
    className: 'Activation',
    opsets: ALL_OPSETS,
    check: checkActivation,
    convert: (ctx, layer, [x]) => [emitActivation(ctx, activationOf(layer), x!)],
  },
  {
    className: 'LeakyReLU',
    opsets: ALL_OPSETS,
    convert: (ctx, layer, [x]) => [
      ctx.op('LeakyRelu', [x!], { alpha: attr.float(configNumber(layer.getConfig(), 'alpha', 0.3)) }),
    ],
  },
  {
    className: 'ELU',
    opsets: ALL_OPSETS,
    convert: (ctx, layer, [x]) => [ctx.op('Elu', [x!], { alpha: attr.float(configNumber(layer.getConfig(), 'alpha', 1)) })],
  },
  {
    className: 'ReLU',
    opsets: ALL_OPSETS,
    convert: (ctx, layer, [x]) => {
      const cfg = layer.getConfig();
      const max = cfg.maxValue;
      return [typeof max === 'number' ? ctx.op('Clip', [x!, ctx.constFloat(0), ctx.constFloat(max)]) : ctx.op('Relu', [x!])];
    },
  },
  {
    className: 'ThresholdedReLU',
    opsets: ALL_OPSETS,
    convert: (ctx, layer, [x]) => [
      ctx.op('ThresholdedRelu', [x!], { alpha: attr.float(configNumber(layer.getConfig(), 'theta', 1)) }),
    ],
  },
  {
    className: 'Softmax',
    opsets: ALL_OPSETS,
    check: (layer) => {
      const axis = layer.getConfig().axis;
      return axis === undefined || typeof axis === 'number' ? undefined : 'only a single softmax axis is supported';
    },
    convert: (ctx, layer, [x]) => [ctx.op('Softmax', [x!], { axis: attr.int(configNumber(layer.getConfig(), 'axis', -1)) })],
  },
];
