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

describe('activation handlers', () => {
  for (const id of ACTIVATIONS.keys()) {
    test(`activation "${id}" (Dense activation and Activation layer)`, async (t) => {
      const model = chain(
        [5],
        tf.layers.dense({ units: 6, activation: id as never, ...kernel(), ...bias }),
        tf.layers.activation({ activation: id as never }),
      );
      await assertExportParity(t, model, { name: `act-${id}`, scale: 2 });
    });
  }

  test('LeakyReLU, ELU, ReLU(maxValue), ThresholdedReLU and Softmax layers', async (t) => {
    const x = tf.input({ shape: [7], name: 'x' });
    const d = tf.layers.dense({ units: 8, ...kernel(), ...bias }).apply(x) as tf.SymbolicTensor;
    const outs = [
      tf.layers.leakyReLU({ alpha: 0.17 }),
      tf.layers.elu(), // tfjs supports only alpha = 1
      tf.layers.reLU({ maxValue: 0.8 }),
      tf.layers.thresholdedReLU({ theta: 0.3 }),
      tf.layers.softmax({ axis: -1 }),
    ].map((l) => l.apply(d) as tf.SymbolicTensor);
    const model = tf.model({ inputs: x, outputs: outs });
    await assertExportParity(t, model, { name: 'activation-layers', scale: 2 });
  });

  test('an unknown activation is reported before conversion', () => {
    const model = chain([3], tf.layers.dense({ units: 2 }));
    // A custom activation tfjs knows but the exporter does not.
    (model.layers[1] as unknown as { getConfig: () => object }).getConfig = () => ({ activation: 'bogus' });
    assert.throws(() => convertLayersModel(model), /Dense \(layer "[^"]+": activation "bogus" is not supported/);
  });
});
