/**
 * Across packages: every layer class the trainer registers with tfjs (its custom layers) has an exporter
 * handler, so every model vaekit trains can be exported. (Moved from the exporter's unit tests: the
 * exporter itself does not depend on the trainer.)
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createDefaultRegistry } from '@vaekit/exporter';

const registry = createDefaultRegistry();

describe('registry', () => {
  test('every layer class the trainer registers with tfjs has a handler', async () => {
    const map = () => Object.keys(tf.serialization.SerializationMap.getMap().classNameMap);
    const before = new Set(map());
    await import('@vaekit/trainer');
    const added = map().filter((c) => !before.has(c));
    const layers = added.filter((c) => {
      const [ctor] = tf.serialization.SerializationMap.getMap().classNameMap[c]!;
      return (ctor as { prototype?: unknown }).prototype instanceof tf.layers.Layer;
    });
    const missing = layers.filter((c) => !registry.has(c));
    assert.deepEqual(missing, [], `trainer layers without an exporter handler: ${missing.join(', ')}`);
  });
});
