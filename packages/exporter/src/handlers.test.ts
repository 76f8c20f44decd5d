import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { ACTIVATIONS } from './handlers/activation.js';
import { convPads, convTransposePads } from './handlers/conv.js';
import { convertLayersModel } from './converter.js';
import { assertExportParity, chain, initTf } from './test-helpers.js';

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
