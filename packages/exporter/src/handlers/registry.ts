/**
 * The handler registry: tfjs layer `className` -> the handler that writes its ONNX nodes. Like
 * tf2onnx's op registry, handlers are grouped by family (one file each) and declare the opsets they
 * support; the table is data, so listing what is supported needs no conversion.
 */
import type * as tf from '@tensorflow/tfjs';
import { ExportError } from '../errors.js';
import type { ConversionContext } from '../ir.js';
import { MAX_OPSET, MIN_OPSET } from '../opsets.js';

/** Every opset the exporter writes: the range of handlers whose mapping holds at all of them. */
export const ALL_OPSETS: { readonly min: number; readonly max: number } = { min: MIN_OPSET, max: MAX_OPSET };

/**
 * Forms of an emit function keyed by the first opset each applies to, like tf2onnx's `version_N`
 * methods: `{ 13: decomposed, 18: fused }` writes the decomposed form at opsets 13-17 and the fused op
 * from 18. The lowest key must be the handler's lowest opset.
 */
export type Versioned<F> = Readonly<Record<number, F>>;

/** The form of `versions` for `opset`: the one with the highest key not above it. */
export function pickVersion<F>(versions: Versioned<F>, opset: number): F {
  const since = Object.keys(versions).map(Number).filter((v) => v <= opset).sort((a, b) => b - a)[0];
  if (since === undefined) throw new ExportError(`No form for opset ${opset}. Should be one of: ${Object.keys(versions).map((v) => `${v}+`).join(', ')}.`, { userError: false });
  return versions[since]!;
}

/** Emits the nodes of one layer (see {@link LayerHandler.convert}). */
export type ConvertFn = (ctx: ConversionContext, layer: tf.layers.Layer, inputs: string[], call: LayerCall) => string[];

/** Static facts about one call of a layer, taken from tfjs' symbolic tensors. */
export interface LayerCall {
  /** Shapes of the layer's inputs (`null` for unknown dimensions, e.g. the batch). */
  inputShapes: Array<Array<number | null>>;
  /** Shapes of the layer's outputs. */
  outputShapes: Array<Array<number | null>>;
}

/** Converts one tfjs layer class to ONNX nodes. */
export interface LayerHandler {
  /** The tfjs layer class name it handles, e.g. `Dense`. */
  className: string;
  /** Inclusive range of default-domain opsets the handler can target. */
  opsets: { min: number; max: number };
  /**
   * True when the handler sets the masks of its outputs itself (see `ConversionContext.setMask`).
   * Otherwise a layer whose tfjs class `supportsMasking` passes its first input's mask through.
   */
  managesMask?: boolean;
  /**
   * Optional static check run on every layer before any conversion starts, so all problems are
   * reported at once. Returns a reason when this layer's configuration is unsupported.
   */
  check?(layer: tf.layers.Layer, opset: number): string | undefined;
  /**
   * Emits the nodes computing the layer from the ONNX tensors named `inputs` and returns the names of
   * its outputs (one per tfjs output tensor). May return an input name unchanged (identity layers).
   * Give either `convert` (one form at every opset) or `versions`.
   */
  convert?: ConvertFn;
  /** The forms of `convert` by the first opset each applies to, when the ONNX form changes with the opset. */
  versions?: Versioned<ConvertFn>;
}

/** The convert function of `handler` for `opset` (its `convert`, or the matching form of `versions`). */
export function convertFor(handler: LayerHandler, opset: number): ConvertFn {
  if (handler.versions) return pickVersion(handler.versions, opset);
  return handler.convert!;
}

/** A set of layer handlers keyed by tfjs class name. */
export class HandlerRegistry {
  private readonly handlers = new Map<string, LayerHandler>();

  /** Adds handlers. Throws {@link ExportError} if a class name is already registered. */
  register(...handlers: LayerHandler[]): this {
    for (const h of handlers) {
      if (this.handlers.has(h.className)) {
        throw new ExportError(`A handler for layer class "${h.className}" is already registered.`, { userError: false });
      }
      if (!(Number.isInteger(h.opsets.min) && Number.isInteger(h.opsets.max) && h.opsets.min <= h.opsets.max)) {
        throw new ExportError(`Handler "${h.className}" declares an invalid opset range.`, { userError: false });
      }
      if ((h.convert === undefined) === (h.versions === undefined)) {
        throw new ExportError(`Handler "${h.className}" must give either convert or versions.`, { userError: false });
      }
      if (h.versions) {
        const keys = Object.keys(h.versions).map(Number);
        if (Math.min(...keys) !== h.opsets.min || keys.some((k) => k > h.opsets.max)) {
          throw new ExportError(`Handler "${h.className}" versions (${keys.join(', ')}) must start at its lowest opset ${h.opsets.min} and stay within ${h.opsets.min}-${h.opsets.max}.`, { userError: false });
        }
      }
      this.handlers.set(h.className, h);
    }
    return this;
  }

  /** The handler for a class name, if any. */
  get(className: string): LayerHandler | undefined {
    return this.handlers.get(className);
  }

  /** True when a handler for the class name exists. */
  has(className: string): boolean {
    return this.handlers.has(className);
  }

  /** Supported class names, sorted. */
  classNames(): string[] {
    return [...this.handlers.keys()].sort();
  }
}

type ConfigValue = tf.serialization.ConfigDictValue;

/** Reads a number from a layer config, with a default when absent. */
export function configNumber(config: tf.serialization.ConfigDict, key: string, fallback: number): number {
  const v: ConfigValue | undefined = config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number') throw new ExportError(`Layer config "${key}" should be a number, got ${JSON.stringify(v)}.`);
  return v;
}

/** Reads a string from a layer config, with a default when absent. */
export function configString(config: tf.serialization.ConfigDict, key: string, fallback: string): string {
  const v: ConfigValue | undefined = config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw new ExportError(`Layer config "${key}" should be a string, got ${JSON.stringify(v)}.`);
  return v;
}

/** Reads a number or list of numbers from a layer config as a list of length `n`. */
export function configInts(config: tf.serialization.ConfigDict, key: string, n: number, fallback: number): number[] {
  const v: ConfigValue | undefined = config[key];
  if (v === undefined || v === null) return Array<number>(n).fill(fallback);
  if (typeof v === 'number') return Array<number>(n).fill(v);
  if (Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number')) return v as number[];
  throw new ExportError(`Layer config "${key}" should be a number or ${n} numbers, got ${JSON.stringify(v)}.`);
}

/** Reads a list of numbers (or nulls) from a layer config. */
export function configShape(config: tf.serialization.ConfigDict, key: string): Array<number | null> {
  const v: ConfigValue | undefined = config[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' || x === null)) {
    throw new ExportError(`Layer config "${key}" should be a list of numbers, got ${JSON.stringify(v)}.`);
  }
  return v as Array<number | null>;
}
