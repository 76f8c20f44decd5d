import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { defaultRegistry } from './index.js';
import { assertExportParity, chain, initTf, seededInits } from '../test-helpers.js';

before(initTf);

const { dense: k, rnd } = seededInits(500);

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
