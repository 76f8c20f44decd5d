import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { defaultRegistry } from './index.js';
import { assertExportParity, chain, initTf, seededInits } from '../test-helpers.js';

before(initTf);

const { dense: k, rnd, next: nextSeed } = seededInits(500);

describe('merge and shape layers', () => {
  test('Concatenate, Add, Multiply, Average, Maximum, Minimum', async (t) => {
    const a = tf.input({ shape: [4], name: 'a' });
    const b = tf.input({ shape: [4], name: 'b' });
    const c = tf.layers.dense({ units: 4, ...k() }).apply(a) as tf.SymbolicTensor;
    const outs = [
      tf.layers.concatenate({ axis: -1 }).apply([a, b, c]),
      tf.layers.add().apply([a, b, c]),
      tf.layers.multiply().apply([a, b, c]),
      tf.layers.average().apply([a, b]),
      tf.layers.maximum().apply([a, b, c]),
      tf.layers.minimum().apply([a, c]),
    ] as tf.SymbolicTensor[];
    await assertExportParity(t, tf.model({ inputs: [a, b], outputs: outs }), { name: 'merge' });
  });

  test('RepeatVector, Permute, TimeDistributed(Dense), Masking before an LSTM', async (t) => {
    const x = tf.input({ shape: [3], name: 'x' });
    const r = tf.layers.repeatVector({ n: 5 }).apply(x) as tf.SymbolicTensor;
    const p = tf.layers.permute({ dims: [2, 1] }).apply(r) as tf.SymbolicTensor;
    const td = tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2, activation: 'tanh', ...k() }) }).apply(r) as tf.SymbolicTensor;
    const s = tf.input({ shape: [6, 2], name: 's' });
    const m = tf.layers.masking({ maskValue: 0 }).apply(s) as tf.SymbolicTensor;
    const l = tf.layers.lstm({ units: 3, ...k(), recurrentInitializer: tf.initializers.glorotNormal({ seed: nextSeed() }) }).apply(m) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [x, s], outputs: [p, td, l] });
    // Random normal input has no all-zero step, so this checks Masking's unmasked path only.
    await assertExportParity(t, model, { name: 'shape-layers', params: model.countParams() + 4 * 3 });
  });
});
