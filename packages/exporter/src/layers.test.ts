import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { defaultRegistry } from './handlers/index.js';
import { assertExportParity, chain, initTf } from './test-helpers.js';

before(initTf);

let seed = 500;
const k = () => ({ kernelInitializer: tf.initializers.glorotNormal({ seed: seed++ }), biasInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: seed++ }) });
const rnd = () => tf.initializers.randomNormal({ mean: 0.5, stddev: 0.3, seed: seed++ });

describe('pooling, resampling, padding', () => {
  for (const padding of ['same', 'valid'] as const) {
    test(`Max/AveragePooling2D (${padding}, pool 3 stride 2) and 1D`, async (t) => {
      const x = tf.input({ shape: [7, 6, 2], name: 'x' });
      const a = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding }).apply(x) as tf.SymbolicTensor;
      const b = tf.layers.averagePooling2d({ poolSize: [2, 3], padding }).apply(x) as tf.SymbolicTensor;
      const s = tf.input({ shape: [9, 3], name: 's' });
      const c = tf.layers.maxPooling1d({ poolSize: 3, strides: 2, padding }).apply(s) as tf.SymbolicTensor;
      const d = tf.layers.averagePooling1d({ poolSize: 2, padding }).apply(s) as tf.SymbolicTensor;
      await assertExportParity(t, tf.model({ inputs: [x, s], outputs: [a, b, c, d] }), { name: `pool-${padding}` });
    });
  }

  test('global pooling 1D/2D (average, max)', async (t) => {
    const x = tf.input({ shape: [5, 4, 3], name: 'x' });
    const s = tf.input({ shape: [6, 2], name: 's' });
    const outs = [
      tf.layers.globalAveragePooling2d({}).apply(x),
      tf.layers.globalMaxPooling2d({}).apply(x),
      tf.layers.globalAveragePooling1d().apply(s),
      tf.layers.globalMaxPooling1d().apply(s),
    ] as tf.SymbolicTensor[];
    await assertExportParity(t, tf.model({ inputs: [x, s], outputs: outs }), { name: 'global-pool' });
  });

  test('UpSampling2D (nearest, bilinear), ZeroPadding2D, Cropping2D', async (t) => {
    const x = tf.input({ shape: [4, 5, 2], name: 'x' });
    const outs = [
      tf.layers.upSampling2d({ size: [2, 3] }).apply(x),
      tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(x),
      tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]] }).apply(x),
      tf.layers.cropping2D({ cropping: [[1, 0], [2, 1]] }).apply(x),
    ] as tf.SymbolicTensor[];
    await assertExportParity(t, tf.model({ inputs: x, outputs: outs }), { name: 'resample-pad-crop' });
  });

  for (const padding of ['same', 'valid'] as const) {
    test(`Conv1D (${padding}, dilation 2 / stride 2)`, async (t) => {
      const model = chain(
        [9, 3],
        tf.layers.conv1d({ filters: 4, kernelSize: 3, dilationRate: 2, padding, activation: 'relu', ...k() }),
        tf.layers.conv1d({ filters: 2, kernelSize: 2, strides: 2, padding, ...k() }),
      );
      await assertExportParity(t, model, { name: `conv1d-${padding}` });
    });
  }
});

describe('normalization', () => {
  test('BatchNormalization (inference form) on rank 2 and 4, with and without scale/center', async (t) => {
    const x = tf.input({ shape: [3, 3, 4], name: 'x' });
    const bn = (args: object) =>
      tf.layers.batchNormalization({ gammaInitializer: rnd(), betaInitializer: rnd(), movingMeanInitializer: rnd(), movingVarianceInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed++ }), ...args });
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
    const l = tf.layers.lstm({ units: 3, ...k(), recurrentInitializer: tf.initializers.glorotNormal({ seed: seed++ }) }).apply(m) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [x, s], outputs: [p, td, l] });
    // Random normal input has no all-zero step, so this checks Masking's unmasked path only.
    await assertExportParity(t, model, { name: 'shape-layers', params: model.countParams() + 4 * 3 });
  });
});

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
    const missing = layers.filter((c) => !defaultRegistry.has(c));
    assert.deepEqual(missing, [], `trainer layers without an exporter handler: ${missing.join(', ')}`);
  });

  test('the handler set covers the layers the issue lists', () => {
    for (const c of [
      'Embedding', 'GRU', 'LSTM', 'SimpleRNN', 'Bidirectional', 'Conv1D', 'Conv2D', 'Conv2DTranspose', 'MaxPooling1D', 'MaxPooling2D',
      'AveragePooling1D', 'AveragePooling2D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D',
      'UpSampling2D', 'BatchNormalization', 'LayerNormalization', 'Reshape', 'Flatten', 'Permute', 'RepeatVector', 'Concatenate', 'Add',
      'Multiply', 'TimeDistributed', 'ZeroPadding2D', 'Cropping2D', 'Activation', 'LeakyReLU', 'ELU', 'ReLU', 'Softmax', 'ThresholdedReLU',
    ]) {
      assert.ok(defaultRegistry.has(c), c);
    }
  });
});
