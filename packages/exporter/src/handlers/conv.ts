/**
 * Convolutions: `Conv1D`, `Conv2D` and `Conv2DTranspose`.
 *
 * tfjs is NHWC, ONNX Conv is NCHW. Graph tensors stay in tfjs' layout, and each convolution is wrapped
 * in Transpose nodes (NHWC -> NCHW -> conv -> NHWC); the optimizer removes back-to-back Transposes
 * that cancel, so a stack of convolutions transposes once at each end. Elementwise activations run
 * inside the NCHW section so they do not separate the Transposes.
 *
 * Padding is always explicit: TF's `same` puts the odd extra pad at the end, which ONNX's
 * `auto_pad=SAME_UPPER` also does, but explicit `pads` avoid relying on each runtime's reading of it.
 */
import * as tf from '@tensorflow/tfjs';
import { ExportError } from '../errors.js';
import { attr, type ConversionContext } from '../ir.js';
import { ACTIVATIONS, activationOf, checkActivation, emitActivation } from './activation.js';
import { ALL_OPSETS, configInts, configString, type LayerHandler, type LayerCall } from './registry.js';

const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

/** Explicit [begin, end] padding of one spatial axis of a TF convolution. */
export function convPads(
  inSize: number,
  kernel: number,
  stride: number,
  dilation: number,
  padding: string,
): [number, number] {
  if (padding === 'valid') return [0, 0];
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/**
 * ONNX ConvTranspose `pads` (begin, end) and `output_padding` that reproduce tfjs' Conv2DTranspose on
 * one spatial axis: tfjs computes it as the gradient of a conv with TF padding, i.e. the full
 * transposed convolution cropped by that conv's padding, zero-extended when the kernel is smaller than
 * the stride.
 */
export function convTransposePads(
  inSize: number,
  kernel: number,
  stride: number,
  padding: string,
): { begin: number; end: number; outputPadding: number; outSize: number } {
  const outSize = padding === 'valid' ? inSize * stride + Math.max(kernel - stride, 0) : inSize * stride;
  const full = (inSize - 1) * stride + kernel;
  const total = Math.max(full - outSize, 0);
  const begin = Math.floor(total / 2);
  return { begin, end: total - begin, outputPadding: outSize - (full - total), outSize };
}

interface ConvSetup {
  channelsFirst: boolean;
  kernelSize: number[];
  strides: number[];
  dilation: number[];
  padding: string;
  spatial: [number | null, number | null];
}

function setup(layer: tf.layers.Layer, call: LayerCall): ConvSetup {
  const cfg = layer.getConfig();
  const channelsFirst = configString(cfg, 'dataFormat', 'channelsLast') === 'channelsFirst';
  const shape = call.inputShapes[0];
  if (!shape || shape.length !== 4) {
    throw new ExportError(`${layer.getClassName()} layer "${layer.name}" needs a rank-4 input, got [${shape?.join(', ')}].`);
  }
  const spatial: [number | null, number | null] = channelsFirst
    ? [shape[2] ?? null, shape[3] ?? null]
    : [shape[1] ?? null, shape[2] ?? null];
  return {
    channelsFirst,
    kernelSize: configInts(cfg, 'kernelSize', 2, 1),
    strides: configInts(cfg, 'strides', 2, 1),
    dilation: configInts(cfg, 'dilationRate', 2, 1),
    padding: configString(cfg, 'padding', 'valid'),
    spatial,
  };
}

function checkConv(layer: tf.layers.Layer, transpose: boolean): string | undefined {
  const activation = checkActivation(layer);
  if (activation) return activation;
  const cfg = layer.getConfig();
  const padding = configString(cfg, 'padding', 'valid');
  if (padding !== 'same' && padding !== 'valid') return `padding "${padding}" is not supported. Should be one of: same, valid`;
  if (transpose && configInts(cfg, 'dilationRate', 2, 1).some((d) => d !== 1)) {
    return 'dilated Conv2DTranspose is not supported';
  }
  return undefined;
}

/** Runs `body` on x in NCHW layout, transposing in and out when the layer is channels-last. */
function inNchw(
  ctx: ConversionContext,
  layer: tf.layers.Layer,
  s: ConvSetup,
  x: string,
  body: (xNchw: string) => string,
): string {
  const id = activationOf(layer);
  const elementwise = ACTIVATIONS.get(id)?.elementwise ?? false;
  if (s.channelsFirst) return emitActivation(ctx, id, body(x));
  const inner = body(ctx.op('Transpose', [x], { perm: attr.ints(TO_NCHW) }));
  if (elementwise) {
    return ctx.op('Transpose', [emitActivation(ctx, id, inner)], { perm: attr.ints(TO_NHWC) });
  }
  return emitActivation(ctx, id, ctx.op('Transpose', [inner], { perm: attr.ints(TO_NHWC) }), -1);
}

/** tfjs kernel [kH, kW, a, b] -> ONNX [b, a, kH, kW] (Conv: a=in, b=out; ConvTranspose: a=out, b=in). */
function kernelToOnnx(ctx: ConversionContext, kernel: tf.Tensor): string {
  const t = tf.transpose(kernel, [3, 2, 0, 1]);
  try {
    return ctx.addInitializer('kernel', t.shape, t.dataSync() as Float32Array);
  } finally {
    t.dispose();
  }
}

/** Handlers of the convolution layer family. */
export const convHandlers: LayerHandler[] = [
  {
    className: 'Conv2D',
    opsets: ALL_OPSETS,
    check: (layer) => checkConv(layer, false),
    convert: (ctx, layer, [x], call) => {
      const s = setup(layer, call);
      const [kernel, bias] = layer.getWeights();
      if (!kernel) throw new ExportError(`Conv2D layer "${layer.name}" has no weights; build the model first.`);
      const inputs = [kernelToOnnx(ctx, kernel)];
      if (layer.getConfig().useBias !== false && bias) {
        inputs.push(ctx.addInitializer('bias', bias.shape, bias.dataSync() as Float32Array));
      }
      const attrs = {
        kernel_shape: attr.ints(s.kernelSize),
        strides: attr.ints(s.strides),
        dilations: attr.ints(s.dilation),
      };
      const [h, w] = s.spatial;
      const padAttr =
        h !== null && w !== null
          ? (() => {
              const ph = convPads(h, s.kernelSize[0]!, s.strides[0]!, s.dilation[0]!, s.padding);
              const pw = convPads(w, s.kernelSize[1]!, s.strides[1]!, s.dilation[1]!, s.padding);
              return { pads: attr.ints([ph[0], pw[0], ph[1], pw[1]]) };
            })()
          : // Unknown spatial size: SAME_UPPER is TF's rule (extra pad at the end).
            { auto_pad: attr.string(s.padding === 'same' ? 'SAME_UPPER' : 'VALID') };
      return [inNchw(ctx, layer, s, x!, (xn) => ctx.op('Conv', [xn, ...inputs], { ...attrs, ...padAttr }))];
    },
  },
  {
    className: 'Conv2DTranspose',
    opsets: ALL_OPSETS,
    check: (layer) => checkConv(layer, true),
    convert: (ctx, layer, [x], call) => {
      const s = setup(layer, call);
      const [h, w] = s.spatial;
      if (h === null || w === null) {
        throw new ExportError(
          `Conv2DTranspose layer "${layer.name}" needs a static input height and width to reproduce tfjs' output size.`,
        );
      }
      const [kernel, bias] = layer.getWeights();
      if (!kernel) throw new ExportError(`Conv2DTranspose layer "${layer.name}" has no weights; build the model first.`);
      const inputs = [kernelToOnnx(ctx, kernel)];
      if (layer.getConfig().useBias !== false && bias) {
        inputs.push(ctx.addInitializer('bias', bias.shape, bias.dataSync() as Float32Array));
      }
      const ph = convTransposePads(h, s.kernelSize[0]!, s.strides[0]!, s.padding);
      const pw = convTransposePads(w, s.kernelSize[1]!, s.strides[1]!, s.padding);
      const attrs = {
        kernel_shape: attr.ints(s.kernelSize),
        strides: attr.ints(s.strides),
        pads: attr.ints([ph.begin, pw.begin, ph.end, pw.end]),
        ...(ph.outputPadding > 0 || pw.outputPadding > 0
          ? { output_padding: attr.ints([ph.outputPadding, pw.outputPadding]) }
          : {}),
      };
      return [inNchw(ctx, layer, s, x!, (xn) => ctx.op('ConvTranspose', [xn, ...inputs], attrs))];
    },
  },
  {
    className: 'Conv1D',
    opsets: ALL_OPSETS,
    check: (layer) => {
      const activation = checkActivation(layer);
      if (activation) return activation;
      const padding = configString(layer.getConfig(), 'padding', 'valid');
      // tfjs itself cannot run causal Conv1D, so there is nothing to reproduce.
      if (!['same', 'valid'].includes(padding)) return `padding "${padding}" is not supported. Should be one of: same, valid`;
      if (configString(layer.getConfig(), 'dataFormat', 'channelsLast') !== 'channelsLast') return 'only channelsLast Conv1D is supported';
      return undefined;
    },
    convert: (ctx, layer, [x], call) => {
      const cfg = layer.getConfig();
      const [k] = configInts(cfg, 'kernelSize', 1, 1) as [number];
      const [stride] = configInts(cfg, 'strides', 1, 1) as [number];
      const [dilation] = configInts(cfg, 'dilationRate', 1, 1) as [number];
      const padding = configString(cfg, 'padding', 'valid');
      const [kernel, bias] = layer.getWeights();
      if (!kernel) throw new ExportError(`Conv1D layer "${layer.name}" has no weights; build the model first.`);
      // tfjs [k, in, out] -> ONNX [out, in, k]
      const t = tf.transpose(kernel, [2, 1, 0]);
      const inputs = [ctx.addInitializer('kernel', t.shape, t.dataSync() as Float32Array)];
      t.dispose();
      if (cfg.useBias !== false && bias) inputs.push(ctx.addInitializer('bias', bias.shape, bias.dataSync() as Float32Array));
      const steps = call.inputShapes[0]?.[1] ?? null;
      const pads: [number, number] = steps !== null ? convPads(steps, k, stride, dilation, padding) : [-1, -1];
      const attrs = {
        kernel_shape: attr.ints([k]),
        strides: attr.ints([stride]),
        dilations: attr.ints([dilation]),
        ...(pads[0] >= 0 ? { pads: attr.ints(pads) } : { auto_pad: attr.string(padding === 'same' ? 'SAME_UPPER' : 'VALID') }),
      };
      const id = activationOf(layer);
      const xn = ctx.op('Transpose', [x!], { perm: attr.ints([0, 2, 1]) });
      const y = ctx.op('Transpose', [ctx.op('Conv', [xn, ...inputs], attrs)], { perm: attr.ints([0, 2, 1]) });
      return [emitActivation(ctx, id, y)];
    },
  },
];
