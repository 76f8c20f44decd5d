/**
 * What the kinds' graph builders share when they make inference graphs from trained ones: finding a
 * trained layer by name (one clear error saying what the kind needs), a copy of a trained layer with
 * new settings, and building models without tfjs' warning about `initialState`.
 */
import * as tf from '@tensorflow/tfjs';
import { ExportError } from '../errors.js';

/** The layer `name` of the `graph` (a name for the message: `encoder`, `decoder`); throws an {@link ExportError} ending in `needs` when it is missing. */
export function layerOf(model: tf.LayersModel, name: string, graph: string, needs: string): tf.layers.Layer {
  try {
    return model.getLayer(name);
  } catch {
    throw new ExportError(`The ${graph} has no layer "${name}"; ${needs}.`);
  }
}

/** A copy of a trained layer's configuration with a new name and overrides (its weights are set by the caller). */
export function cloneLayer(layer: tf.layers.Layer, name: string, overrides: tf.serialization.ConfigDict): tf.layers.Layer {
  const config = { ...layer.getConfig(), ...overrides, name };
  const ctor = layer.constructor as unknown as { fromConfig(cls: unknown, config: tf.serialization.ConfigDict): tf.layers.Layer };
  return ctor.fromConfig(layer.constructor, config);
}

/** Runs `fn` without tfjs' warning that `initialState` is a non-serializable keyword argument (it is not an issue for export). */
export function quietly<T>(fn: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('non-serializable keyword arguments')) return;
    warn(...args);
  };
  try {
    return fn();
  } finally {
    console.warn = warn;
  }
}
