/**
 * Normalization layers in their inference form: `BatchNormalization` (moving statistics folded into one
 * scale and shift per channel at export time) and `LayerNormalization` (the ONNX op from opset 17,
 * its decomposition below).
 */
import type * as tf from '@tensorflow/tfjs';
import { ExportError } from '../errors.js';
import { attr, type ConversionContext } from '../ir.js';
import { ALL_OPSETS, configNumber, type LayerCall, type LayerHandler } from './registry.js';


/** The single normalized axis of a layer config, as a negative index from the end, or undefined. */
function lastAxisOnly(layer: tf.layers.Layer, rank: number): number | undefined {
  let axis = layer.getConfig().axis;
  if (Array.isArray(axis) && axis.length === 1) axis = axis[0];
  if (typeof axis !== 'number') return undefined;
  return axis < 0 ? axis : axis - rank;
}

/** Handlers of the normalization family. */
export const normalizationHandlers: LayerHandler[] = [
  {
    className: 'BatchNormalization',
    opsets: ALL_OPSETS,
    check: (layer) => {
      const axis = layer.getConfig().axis;
      return typeof axis === 'number' || axis === undefined ? undefined : 'only a single normalized axis is supported';
    },
    convert: (ctx, layer, [x], call) => {
      const cfg = layer.getConfig();
      const rank = call.inputShapes[0]?.length ?? 2;
      const axis = lastAxisOnly(layer, rank) ?? -1;
      const eps = configNumber(cfg, 'epsilon', 1e-3);
      const weights = layer.getWeights();
      const take = (): Float32Array => {
        const t = weights.shift();
        if (!t) throw new ExportError(`BatchNormalization layer "${layer.name}" has no weights; build the model first.`);
        return t.dataSync() as Float32Array;
      };
      const gamma = cfg.scale !== false ? take() : undefined;
      const beta = cfg.center !== false ? take() : undefined;
      const mean = take();
      const variance = take();
      const n = mean.length;
      const scale = new Float32Array(n);
      const shift = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        scale[i] = (gamma?.[i] ?? 1) / Math.sqrt(variance[i]! + eps);
        shift[i] = (beta?.[i] ?? 0) - mean[i]! * scale[i]!;
      }
      // Shape [C, 1, ..., 1] so that broadcasting lines the channel up with `axis`.
      const dims = [n, ...Array<number>(-axis - 1).fill(1)];
      const y = ctx.op('Mul', [x!, ctx.addInitializer('scale', dims, scale)]);
      return [ctx.op('Add', [y, ctx.addInitializer('shift', dims, shift)])];
    },
  },
  {
    className: 'LayerNormalization',
    opsets: ALL_OPSETS,
    check: (layer) => {
      const axis = layer.getConfig().axis;
      const single = Array.isArray(axis) ? axis.length === 1 : typeof axis === 'number' || axis === undefined;
      return single ? undefined : 'only normalization over the last axis is supported';
    },
    // The fused LayerNormalization op exists from opset 17 (not on WebGL); below, mean and variance.
    versions: {
      13: (ctx, layer, [x], call) => {
        const { eps, g, b } = layerNormParams(ctx, layer, call);
        return [decomposedLayerNorm(ctx, x!, eps, g, b)];
      },
      17: (ctx, layer, [x], call) => {
        const { eps, g, b, width } = layerNormParams(ctx, layer, call);
        if (ctx.profile === 'webgl') return [decomposedLayerNorm(ctx, x!, eps, g, b)];
        const scale = g ?? ctx.constFloat(Array<number>(width).fill(1));
        return [ctx.op('LayerNormalization', b ? [x!, scale, b] : [x!, scale], { axis: attr.int(-1), epsilon: attr.float(eps) })];
      },
    },
  },
];

/** The epsilon, gamma and beta initializers, and the normalized width of a LayerNormalization layer. */
function layerNormParams(ctx: ConversionContext, layer: tf.layers.Layer, call: LayerCall): { eps: number; g?: string; b?: string; width: number } {
  const cfg = layer.getConfig();
  const rank = call.inputShapes[0]?.length ?? 2;
  if ((lastAxisOnly(layer, rank) ?? -1) !== -1) {
    throw new ExportError(`LayerNormalization layer "${layer.name}": only the last axis is supported.`);
  }
  const eps = configNumber(cfg, 'epsilon', 1e-3);
  const weights = layer.getWeights();
  const gamma = cfg.scale !== false ? weights.shift() : undefined;
  const beta = cfg.center !== false ? weights.shift() : undefined;
  const width = call.inputShapes[0]?.[rank - 1];
  if (typeof width !== 'number') throw new ExportError(`LayerNormalization layer "${layer.name}" needs a static last axis.`);
  const g = gamma ? ctx.addInitializer('gamma', [width], gamma.dataSync() as Float32Array) : undefined;
  const b = beta ? ctx.addInitializer('beta', [width], beta.dataSync() as Float32Array) : undefined;
  return { eps, width, ...(g ? { g } : {}), ...(b ? { b } : {}) };
}

/** (x - mean) / sqrt(var + eps) * g + b over the last axis, in primitive ops. */
function decomposedLayerNorm(ctx: ConversionContext, x: string, eps: number, g: string | undefined, b: string | undefined): string {
  const mean = ctx.reduce('ReduceMean', x, [-1], true);
  const centered = ctx.op('Sub', [x, mean]);
  const variance = ctx.reduce('ReduceMean', ctx.op('Mul', [centered, centered]), [-1], true);
  let y = ctx.op('Div', [centered, ctx.op('Sqrt', [ctx.op('Add', [variance, ctx.constFloat(eps)])])]);
  if (g) y = ctx.op('Mul', [y, g]);
  if (b) y = ctx.op('Add', [y, b]);
  return y;
}
