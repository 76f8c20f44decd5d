import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { defaultRegistry } from './index.js';
import { assertExportParity, chain, initTf, seededInits } from '../test-helpers.js';

before(initTf);

const { dense: k, rnd, next: nextSeed } = seededInits(500);

describe('normalization', () => {
  test('BatchNormalization (inference form) on rank 2 and 4, with and without scale/center', async (t) => {
    const x = tf.input({ shape: [3, 3, 4], name: 'x' });
    const bn = (args: object) =>
      tf.layers.batchNormalization({ gammaInitializer: rnd(), betaInitializer: rnd(), movingMeanInitializer: rnd(), movingVarianceInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: nextSeed() }), ...args });
    const a = bn({}).apply(x) as tf.SymbolicTensor;
    const f = tf.layers.flatten().apply(a) as tf.SymbolicTensor;
    const b = bn({ scale: false, center: false, epsilon: 0.01 }).apply(f) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: b });
    // Folded: one scale and one shift per channel instead of gamma, beta, mean, variance.
    await assertExportParity(t, model, { name: 'batchnorm', params: 2 * 4 + 2 * 36 });
  });

  test('LayerNormalization (ONNX op from opset 17, decomposed before)', async (t) => {
    const x = tf.input({ shape: [5, 6], name: 'x' });
    const a = tf.layers.layerNormalization({ gammaInitializer: rnd(), betaInitializer: rnd() }).apply(x) as tf.SymbolicTensor;
    const b = tf.layers.layerNormalization({ axis: -1, center: false, epsilon: 1e-5 }).apply(a) as tf.SymbolicTensor;
    const results = await assertExportParity(t, tf.model({ inputs: x, outputs: b }), { name: 'layernorm', scale: 3, params: 12 + 6 });
    for (const r of results) {
      assert.equal(r.result.model.graph.nodes.some((n) => n.opType === 'LayerNormalization'), r.opset >= 17);
    }
  });
});
