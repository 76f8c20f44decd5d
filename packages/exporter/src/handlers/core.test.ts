import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { ACTIVATIONS } from './activation.js';
import { convPads, convTransposePads } from './conv.js';
import { convertLayersModel } from '../converter.js';
import { assertExportParity, chain, initTf } from '../test-helpers.js';

// Non-zero biases, so a dropped or misplaced bias shows up in the parity numbers.
const bias = { biasInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: 7 }) } as const;
let seed = 1;
const kernel = () => ({ kernelInitializer: tf.initializers.glorotNormal({ seed: seed++ }) });

before(initTf);

describe('core handlers', () => {
  test('Dense with bias', async (t) => {
    await assertExportParity(t, chain([9], tf.layers.dense({ units: 4, ...kernel(), ...bias })), { name: 'dense-bias' });
  });

  test('Dense without bias', async (t) => {
    const model = chain([9], tf.layers.dense({ units: 4, useBias: false, ...kernel() }));
    const [first] = await assertExportParity(t, model, { name: 'dense-nobias' });
    assert.deepEqual(
      first!.result.model.graph.nodes.map((n) => n.opType),
      ['MatMul'],
      'no Add node without a bias',
    );
  });

  test('Dense on a rank-3 input acts on the last axis', async (t) => {
    await assertExportParity(t, chain([3, 5], tf.layers.dense({ units: 2, ...kernel(), ...bias })), { name: 'dense-rank3' });
  });

  test('Dropout (identity at inference)', async (t) => {
    const model = chain(
      [6],
      tf.layers.dense({ units: 6, ...kernel(), ...bias }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 3, ...kernel(), ...bias }),
    );
    const [first] = await assertExportParity(t, model, { name: 'dropout' });
    assert.ok(!first!.result.model.graph.nodes.some((n) => n.opType === 'Identity' || n.opType === 'Dropout'));
  });

  test('Dropout directly between input and output keeps the graph valid', async (t) => {
    await assertExportParity(t, chain([4], tf.layers.dropout({ rate: 0.3 })), { name: 'dropout-only' });
  });

  test('Reshape (with and without -1)', async (t) => {
    const model = chain(
      [24],
      tf.layers.reshape({ targetShape: [4, 6] }),
      tf.layers.dense({ units: 3, ...kernel(), ...bias }),
      tf.layers.reshape({ targetShape: [-1] }),
      tf.layers.reshape({ targetShape: [2, 2, 3] }),
    );
    await assertExportParity(t, model, { name: 'reshape' });
  });

  test('Flatten of an NHWC tensor matches tfjs element order', async (t) => {
    const model = chain(
      [3, 4, 2],
      tf.layers.dense({ units: 5, ...kernel(), ...bias }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, ...kernel(), ...bias }),
    );
    await assertExportParity(t, model, { name: 'flatten' });
  });
});
