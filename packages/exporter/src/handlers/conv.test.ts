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

describe('convolution handlers', () => {
  test('TF same padding puts the extra pad at the end', () => {
    assert.deepEqual(convPads(7, 3, 2, 1, 'same'), [1, 1]);
    assert.deepEqual(convPads(8, 3, 2, 1, 'same'), [0, 1]);
    assert.deepEqual(convPads(8, 4, 1, 1, 'same'), [1, 2]);
    assert.deepEqual(convPads(9, 3, 1, 2, 'same'), [2, 2]);
    assert.deepEqual(convPads(9, 3, 2, 1, 'valid'), [0, 0]);
    assert.deepEqual(convTransposePads(7, 3, 2, 'same'), { begin: 0, end: 1, outputPadding: 0, outSize: 14 });
    assert.deepEqual(convTransposePads(7, 4, 2, 'same'), { begin: 1, end: 1, outputPadding: 0, outSize: 14 });
    assert.deepEqual(convTransposePads(5, 1, 2, 'valid'), { begin: 0, end: 0, outputPadding: 1, outSize: 10 });
  });

  for (const padding of ['same', 'valid'] as const) {
    for (const strides of [1, 2]) {
      for (const kernelSize of [3, 4, [2, 3]] as Array<number | [number, number]>) {
        const label = `Conv2D ${padding} stride ${strides} kernel ${JSON.stringify(kernelSize)} on 7x9`;
        test(label, async (t) => {
          const model = chain(
            [7, 9, 2],
            tf.layers.conv2d({ filters: 3, kernelSize, strides, padding, activation: 'relu', ...kernel(), ...bias }),
          );
          const [first] = await assertExportParity(t, model, { name: label });
          const conv = first!.result.model.graph.nodes.find((n) => n.opType === 'Conv');
          assert.equal(conv?.attributes.pads?.kind, 'ints', 'explicit pads');
        });
      }
    }
  }

  test('Conv2D with dilation 2 and without bias', async (t) => {
    const model = chain(
      [9, 8, 1],
      tf.layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same', useBias: false, ...kernel() }),
    );
    await assertExportParity(t, model, { name: 'conv-dilated' });
  });

  test('Conv2D with softmax activation (applied over channels after the NHWC transpose)', async (t) => {
    const model = chain([5, 5, 2], tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'softmax', ...kernel(), ...bias }));
    await assertExportParity(t, model, { name: 'conv-softmax' });
  });

  for (const padding of ['same', 'valid'] as const) {
    for (const kernelSize of [3, 4, 1]) {
      const label = `Conv2DTranspose ${padding} stride 2 kernel ${kernelSize} on 5x6`;
      test(label, async (t) => {
        const model = chain(
          [5, 6, 3],
          tf.layers.conv2dTranspose({ filters: 2, kernelSize, strides: 2, padding, activation: 'tanh', ...kernel(), ...bias }),
        );
        const [first] = await assertExportParity(t, model, { name: label });
        const out = first!.result.outputs[0]!;
        assert.deepEqual(out.shape, ['batch', ...(model.outputs[0]!.shape.slice(1) as number[])]);
      });
    }
  }

  test('Conv2DTranspose stride 1 same', async (t) => {
    const model = chain([4, 4, 2], tf.layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 1, padding: 'same', ...kernel(), ...bias }));
    await assertExportParity(t, model, { name: 'convT-s1' });
  });

  test('stacked convolutions transpose once at each end', async (t) => {
    const model = chain(
      [64],
      tf.layers.reshape({ targetShape: [8, 8, 1] }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', ...kernel(), ...bias }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'elu', ...kernel(), ...bias }),
      tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid', ...kernel(), ...bias }),
      tf.layers.flatten(),
    );
    const [first] = await assertExportParity(t, model, { name: 'conv-stack' });
    const ops = first!.result.model.graph.nodes.map((n) => n.opType);
    assert.equal(ops.filter((o) => o === 'Transpose').length, 2, ops.join(' '));
  });
});
