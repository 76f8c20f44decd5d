import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from './errors.js';
import { interpolateLatent, samplePrior } from './latent.js';
import { createRng, permutation } from '@vaekit/core';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) =>
  Array.from(a).every((v, i) => Math.abs(v - b[i]!) <= tol);

test('linear interpolation hits both ends and the midpoint', () => {
  const a = Float32Array.from([0, 2, -4]);
  const b = Float32Array.from([2, 2, 4]);
  const pts = interpolateLatent(a, b, 3, 'linear');
  assert.equal(pts.length, 3);
  assert.ok(close(pts[0]!, a) && close(pts[2]!, b));
  assert.ok(close(pts[1]!, [1, 2, 0]));
});

test('slerp keeps the norm on a great circle between equal-norm vectors', () => {
  const a = Float32Array.from([1, 0]);
  const b = Float32Array.from([0, 1]);
  const pts = interpolateLatent(a, b, 5, 'slerp');
  assert.ok(close(pts[0]!, a) && close(pts[4]!, b));
  for (const p of pts) assert.ok(Math.abs(Math.hypot(p[0]!, p[1]!) - 1) < 1e-6);
  assert.ok(close(pts[2]!, [Math.SQRT1_2, Math.SQRT1_2]));
});

test('interpolation rejects bad steps, methods and lengths', () => {
  const a = new Float32Array(2);
  assert.throws(() => interpolateLatent(a, a, 1), InputError);
  assert.throws(() => interpolateLatent(a, a, 3, 'cubic' as never), /Should be one of: linear, slerp/);
  assert.throws(() => interpolateLatent(a, new Float32Array(3), 3), InputError);
});

test('the seeded RNG is reproducible and roughly standard normal', () => {
  const a = samplePrior(4, 8, 123);
  const b = samplePrior(4, 8, 123);
  assert.deepEqual(a, b);
  assert.notDeepEqual(samplePrior(4, 8, 124), a);
  const rng = createRng(1);
  let s = 0;
  let s2 = 0;
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    const v = rng.normal();
    s += v;
    s2 += v * v;
  }
  assert.ok(Math.abs(s / n) < 0.02 && Math.abs(s2 / n - 1) < 0.03);
  assert.deepEqual(permutation(10, createRng(3)).sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});
