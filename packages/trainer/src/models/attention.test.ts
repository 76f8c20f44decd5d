import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Attention, GaussianSample, MaskedMean, SequenceMask } from './attention.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** The attention of one query over keys, written out with plain loops (float64). */
function reference(score: 'additive' | 'multiplicative', w: number[][][], q: number[], keys: number[][], mask: number[]): { weights: number[]; context: number[] } {
  const scores = keys.map((k, s) => {
    let e = 0;
    if (score === 'additive') {
      const [wq, wk, v] = w as [number[][], number[][], number[][]];
      for (let a = 0; a < v.length; a++) {
        let x = 0;
        q.forEach((qi, i) => (x += qi * wq[i]![a]!));
        k.forEach((ki, i) => (x += ki * wk[i]![a]!));
        e += Math.tanh(x) * v[a]![0]!;
      }
    } else {
      const [W] = w as [number[][]];
      q.forEach((qi, i) => k.forEach((kj, j) => (e += qi * W[i]![j]! * kj)));
    }
    return e + (1 - mask[s]!) * -1e9;
  });
  const max = Math.max(...scores);
  const exp = scores.map((x) => Math.exp(x - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  const weights = exp.map((x) => x / sum);
  const context = keys[0]!.map((_, d) => keys.reduce((acc, k, s) => acc + weights[s]! * k[d]!, 0));
  return { weights, context };
}

for (const score of ['additive', 'multiplicative'] as const) {
  test(`VaekitAttention (${score}) matches the formula, masks padded keys, and keeps rank-2 queries`, () => {
    const [B, T, S, H, D] = [2, 3, 4, 5, 6];
    const layer = new Attention({ score, units: 7, seed: 3 });
    const q = tf.randomNormal([B, T, H], 0, 1, 'float32', 1);
    const k = tf.randomNormal([B, S, D], 0, 1, 'float32', 2);
    const mask = tf.tensor2d([[1, 1, 1, 0], [1, 1, 0, 0]]);
    const [context, weights] = layer.apply([q, k, mask]) as tf.Tensor[];
    const w = layer.getWeights().map((x) => x.arraySync() as number[][]);
    const qa = q.arraySync() as number[][][];
    const ka = k.arraySync() as number[][][];
    const ma = mask.arraySync() as number[][];
    const ca = context!.arraySync() as number[][][];
    const wa = weights!.arraySync() as number[][][];
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const ref = reference(score, [w[0]!, ...(score === 'additive' ? [w[1]!, w[2]!] : [])] as number[][][], qa[b]![t]!, ka[b]!, ma[b]!);
        ref.weights.forEach((x, s) => assert.ok(Math.abs(x - wa[b]![t]![s]!) < 1e-5, `weight ${b},${t},${s}`));
        ref.context.forEach((x, d) => assert.ok(Math.abs(x - ca[b]![t]![d]!) < 1e-5, `context ${b},${t},${d}`));
        assert.equal(wa[b]![t]![3], 0, 'a padded key gets exactly zero weight');
      }
    }
    // One decoder step: a [B, H] query gives [B, D] and [B, S], equal to the first step of the sequence.
    const [c1, w1] = layer.apply([q.slice([0, 0, 0], [B, 1, H]).reshape([B, H]), k, mask]) as tf.Tensor[];
    assert.deepEqual(c1!.shape, [B, D]);
    assert.deepEqual(w1!.shape, [B, S]);
    assert.ok(tf.max(tf.abs(tf.sub(c1!, context!.slice([0, 0, 0], [B, 1, D]).reshape([B, D])))).dataSync()[0]! < 1e-6);
    // The configuration round-trips (checkpoints are model.json files).
    const copy = Attention.fromConfig(Attention, layer.getConfig()) as Attention;
    assert.equal(copy.score, score);
  });
}

test('SequenceMask, MaskedMean and GaussianSample', () => {
  const tokens = tf.tensor2d([[5, 7, 0], [3, 0, 0]], undefined, 'int32');
  const mask = new SequenceMask({}).apply(tokens) as tf.Tensor;
  assert.deepEqual(mask.arraySync(), [[1, 1, 0], [1, 0, 0]]);
  const x = tf.tensor3d([[[1, 2], [3, 4], [100, 100]], [[5, 6], [100, 100], [100, 100]]]);
  assert.deepEqual((new MaskedMean().apply([x, mask]) as tf.Tensor).arraySync(), [[2, 3], [5, 6]]);
  const mu = tf.tensor2d([[1, 2]]);
  const lv = tf.tensor2d([[0, Math.log(4)]]);
  const eps = tf.tensor2d([[0.5, -1]]);
  const z = (new GaussianSample({}).apply([mu, lv, eps]) as tf.Tensor).arraySync() as number[][];
  assert.ok(Math.abs(z[0]![0]! - 1.5) < 1e-6 && Math.abs(z[0]![1]! - 0) < 1e-6);
});
