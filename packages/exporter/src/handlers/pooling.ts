/**
 * Pooling and resampling: `MaxPooling1D/2D`, `AveragePooling1D/2D`, `GlobalAveragePooling1D/2D`,
 * `GlobalMaxPooling1D/2D`, `UpSampling2D`, `ZeroPadding2D`, `Cropping2D`.
 *
 * Layout as in conv.ts: tensors stay channels-last, windowed pools are wrapped in Transposes (the
 * optimizer cancels pairs between consecutive convolutions and pools). TF's `same` average pooling
 * leaves padded cells out of the mean, which is ONNX's `count_include_pad = 0` (its default); max
 * pooling ignores padded cells in both.
 */
import type * as tf from '@tensorflow/tfjs';
import { ExportError } from '../errors.js';
import { attr, type ConversionContext } from '../ir.js';
import { convPads } from './conv.js';
import { ALL_OPSETS, configInts, configString, type LayerCall, type LayerHandler } from './registry.js';

const INT64_MAX = 2 ** 62;

function channelsLastOnly(layer: tf.layers.Layer): string | undefined {
  return configString(layer.getConfig(), 'dataFormat', 'channelsLast') === 'channelsLast'
    ? undefined
    : 'only channelsLast data is supported';
}

function checkPool(layer: tf.layers.Layer): string | undefined {
  const padding = configString(layer.getConfig(), 'padding', 'valid');
  if (padding !== 'same' && padding !== 'valid') return `padding "${padding}" is not supported. Should be one of: same, valid`;
  return channelsLastOnly(layer);
}

function pool(opType: 'MaxPool' | 'AveragePool', dims: 1 | 2) {
  return (ctx: ConversionContext, layer: tf.layers.Layer, [x]: string[], call: LayerCall): string[] => {
    const cfg = layer.getConfig();
    const size = configInts(cfg, 'poolSize', dims, 2);
    const strides = cfg.strides === null || cfg.strides === undefined ? size : configInts(cfg, 'strides', dims, 1);
    const padding = configString(cfg, 'padding', 'valid');
    const spatial = (call.inputShapes[0] ?? []).slice(1, 1 + dims);
    const pads: number[][] = spatial.map((n, i) => (n === null ? [-1, -1] : convPads(n, size[i]!, strides[i]!, 1, padding)));
    const explicit = pads.every((p) => p[0]! >= 0);
    const attrs = {
      kernel_shape: attr.ints(size),
      strides: attr.ints(strides),
      ...(explicit
        ? { pads: attr.ints([...pads.map((p) => p[0]!), ...pads.map((p) => p[1]!)]) }
        : { auto_pad: attr.string(padding === 'same' ? 'SAME_UPPER' : 'VALID') }),
    };
    const toFirst = dims === 1 ? [0, 2, 1] : [0, 3, 1, 2];
    const toLast = dims === 1 ? [0, 2, 1] : [0, 2, 3, 1];
    const xn = ctx.op('Transpose', [x!], { perm: attr.ints(toFirst) });
    return [ctx.op('Transpose', [ctx.op(opType, [xn], attrs)], { perm: attr.ints(toLast) })];
  };
}

function globalPool(opType: 'ReduceMean' | 'ReduceMax', dims: 1 | 2): LayerHandler['convert'] {
  return (ctx, layer, [x]) => {
    const keep = layer.getConfig().keepDims === true;
    return [ctx.reduce(opType, x!, dims === 1 ? [1] : [1, 2], keep)];
  };
}

/** `[[top, bottom], [left, right]]` from a tfjs padding/cropping config (number, pair or pairs). */
function pairs2d(layer: tf.layers.Layer, key: string): [[number, number], [number, number]] {
  const v = layer.getConfig()[key];
  if (typeof v === 'number') return [[v, v], [v, v]];
  if (Array.isArray(v) && v.length === 2) {
    const [a, b] = v as unknown[];
    if (typeof a === 'number' && typeof b === 'number') return [[a, a], [b, b]];
    if (Array.isArray(a) && Array.isArray(b)) return [a as [number, number], b as [number, number]];
  }
  throw new ExportError(`${layer.getClassName()} layer "${layer.name}": cannot read ${key} ${JSON.stringify(v)}.`);
}

const handlers: LayerHandler[] = [];
for (const dims of [1, 2] as const) {
  handlers.push(
    { className: `MaxPooling${dims}D`, opsets: ALL_OPSETS, check: checkPool, convert: pool('MaxPool', dims) },
    { className: `AveragePooling${dims}D`, opsets: ALL_OPSETS, check: checkPool, convert: pool('AveragePool', dims) },
    { className: `GlobalAveragePooling${dims}D`, opsets: ALL_OPSETS, check: channelsLastOnly, convert: globalPool('ReduceMean', dims) },
    { className: `GlobalMaxPooling${dims}D`, opsets: ALL_OPSETS, check: channelsLastOnly, convert: globalPool('ReduceMax', dims) },
  );
}

/** Handlers of the pooling and resampling family. */
export const poolingHandlers: LayerHandler[] = [
  ...handlers,
  {
    className: 'UpSampling2D',
    opsets: ALL_OPSETS,
    check: (layer) => {
      const mode = configString(layer.getConfig(), 'interpolation', 'nearest');
      if (mode !== 'nearest' && mode !== 'bilinear') return `interpolation "${mode}" is not supported. Should be one of: nearest, bilinear`;
      return channelsLastOnly(layer);
    },
    convert: (ctx, layer, [x]) => {
      const [sh, sw] = configInts(layer.getConfig(), 'size', 2, 2);
      const mode = configString(layer.getConfig(), 'interpolation', 'nearest');
      // tfjs resizes with alignCorners = false and no half-pixel centres: ONNX's asymmetric mapping.
      const attrs = {
        mode: attr.string(mode === 'nearest' ? 'nearest' : 'linear'),
        coordinate_transformation_mode: attr.string('asymmetric'),
        ...(mode === 'nearest' ? { nearest_mode: attr.string('floor') } : {}),
      };
      return [ctx.op('Resize', [x!, '', ctx.constFloat([1, sh!, sw!, 1])], attrs)];
    },
  },
  {
    className: 'ZeroPadding2D',
    opsets: ALL_OPSETS,
    check: channelsLastOnly,
    convert: (ctx, layer, [x]) => {
      const [[t, b], [l, r]] = pairs2d(layer, 'padding');
      return [ctx.op('Pad', [x!, ctx.constInt64([0, t, l, 0, 0, b, r, 0])], { mode: attr.string('constant') })];
    },
  },
  {
    className: 'Cropping2D',
    opsets: ALL_OPSETS,
    check: channelsLastOnly,
    convert: (ctx, layer, [x]) => {
      const [[t, b], [l, r]] = pairs2d(layer, 'cropping');
      const ends = [b > 0 ? -b : INT64_MAX, r > 0 ? -r : INT64_MAX];
      return [ctx.op('Slice', [x!, ctx.constInt64([t, l]), ctx.constInt64(ends), ctx.constInt64([1, 2])])];
    },
  },
];
