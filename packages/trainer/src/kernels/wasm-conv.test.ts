import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../backend.js';

before(async () => {
  const info = await initBackend('wasm');
  assert.equal(info.name, 'wasm');
});

function maxAbsDiff(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Runs `f` on the CPU (reference) and WASM backends with the same inputs and returns both results. */
async function onBoth(f: () => tf.Tensor[]): Promise<Array<[Float32Array, Float32Array]>> {
  await tf.setBackend('cpu');
  const ref = tf.tidy(f).map((t) => t.dataSync() as Float32Array);
  await tf.setBackend('wasm');
  const got = tf.tidy(f).map((t) => t.dataSync() as Float32Array);
  return ref.map((r, i) => [r, got[i]!]);
}

const cases = [
  { name: 'same, stride 1, odd size', x: [2, 7, 5, 3], k: [3, 3, 3, 4], strides: 1, pad: 'same' as const },
  { name: 'same, stride 2, odd size', x: [3, 9, 7, 2], k: [3, 3, 2, 5], strides: 2, pad: 'same' as const },
  { name: 'valid, stride 2, 4x4 kernel', x: [2, 10, 11, 3], k: [4, 4, 3, 2], strides: 2, pad: 'valid' as const },
  { name: 'valid, stride 1, 1x2 kernel', x: [1, 5, 6, 1], k: [1, 2, 1, 3], strides: 1, pad: 'valid' as const },
];

for (const c of cases) {
  test(`WASM Conv2DBackpropFilter matches the CPU reference: ${c.name}`, async () => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1).arraySync();
    const w = tf.randomNormal(c.k, 0, 1, 'float32', 2).arraySync();
    const results = await onBoth(() => {
      const xt = tf.tensor(x as number[][][][]);
      const wt = tf.tensor(w as number[][][][]);
      const loss = (xi: tf.Tensor, wi: tf.Tensor) => tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.strides, c.pad).square().sum();
      const [gx, gw] = tf.grads(loss)([xt, wt]);
      return [gx!, gw!];
    });
    for (const [ref, got] of results) assert.ok(maxAbsDiff(ref, got) < 1e-3 * Math.max(1, ...ref.map(Math.abs)), `max abs diff ${maxAbsDiff(ref, got)}`);
  });
}

test('Conv2DTranspose trains on WASM: forward and gradients match the CPU reference', async () => {
  const x = tf.randomNormal([2, 4, 5, 3], 0, 1, 'float32', 3).arraySync();
  const w = tf.randomNormal([3, 3, 2, 3], 0, 1, 'float32', 4).arraySync();
  const results = await onBoth(() => {
    const xt = tf.tensor(x as number[][][][]) as tf.Tensor4D;
    const wt = tf.tensor(w as number[][][][]) as tf.Tensor4D;
    const f = (xi: tf.Tensor, wi: tf.Tensor) => tf.conv2dTranspose(xi as tf.Tensor4D, wi as tf.Tensor4D, [2, 8, 10, 2], 2, 'same');
    const [gx, gw] = tf.grads((xi: tf.Tensor, wi: tf.Tensor) => f(xi, wi).square().sum())([xt, wt]);
    return [f(xt, wt), gx!, gw!];
  });
  for (const [ref, got] of results) assert.ok(maxAbsDiff(ref, got) < 1e-3 * Math.max(1, ...ref.map(Math.abs)));
});

test('kernels WASM lacks run through the CPU implementation (UnsortedSegmentSum for the Embedding gradient)', async () => {
  const results = await onBoth(() => {
    const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const ids = tf.tensor1d([2, 0, 2, 1], 'int32');
    const [g] = tf.grads((t: tf.Tensor) => tf.gather(t, ids).mul(tf.tensor2d([[1, 1], [2, 2], [3, 3], [4, 4]])).sum())([table]);
    return [g!, tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4]), ids, 3)];
  });
  for (const [ref, got] of results) assert.deepEqual(Array.from(got), Array.from(ref));
  assert.deepEqual(Array.from(results[0]![1]), [2, 2, 4, 4, 4, 4]);
});
