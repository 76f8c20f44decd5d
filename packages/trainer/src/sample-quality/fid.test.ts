import assert from 'node:assert/strict';
import { test } from 'node:test';
import { confidentShare, featureStats, fid, frechetDistance, precisionRecall, type GaussianStats } from './fid.js';

const stats = (mean: number[], cov: number[][]): GaussianStats => ({ mean: Float64Array.from(mean), cov: Float64Array.from(cov.flat()), dim: mean.length });
const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('featureStats: mean and unbiased covariance computed by hand', () => {
  // Rows (1,2), (3,6), (5,4): mean (3,4); deviations (-2,-2), (0,2), (2,0); sums xx 8, xy 4, yy 8; / (n-1) = 2.
  const s = featureStats({ values: Float64Array.from([1, 2, 3, 6, 5, 4]), count: 3, dim: 2 });
  assert.deepEqual(Array.from(s.mean), [3, 4]);
  assert.deepEqual(Array.from(s.cov), [4, 2, 2, 4]);
});

test('Fréchet distance: 1-D and diagonal Gaussians have the closed form |m1-m2|^2 + sum (s1 - s2)^2', () => {
  close(frechetDistance(stats([1], [[4]]), stats([-2], [[9]])), 9 + 1);
  close(frechetDistance(stats([0, 1, 2], [[1, 0, 0], [0, 4, 0], [0, 0, 0.25]]), stats([1, 1, 0], [[9, 0, 0], [0, 1, 0], [0, 0, 0.25]])), 1 + 4 + (1 - 3) ** 2 + (2 - 1) ** 2);
  close(frechetDistance(stats([0.3, -1], [[2, 0.5], [0.5, 1]]), stats([0.3, -1], [[2, 0.5], [0.5, 1]])), 0, 1e-9);
});

test('Fréchet distance: non-commuting 2x2 covariances match tr sqrt(M) = sqrt(tr M + 2 sqrt(det M))', () => {
  // For a 2x2 matrix with non-negative eigenvalues l1, l2: (sqrt l1 + sqrt l2)^2 = tr M + 2 sqrt(det M).
  const c1 = [[2, 1], [1, 3]];
  const c2 = [[1, -0.4], [-0.4, 0.5]];
  const m = [
    [c1[0]![0]! * c2[0]![0]! + c1[0]![1]! * c2[1]![0]!, c1[0]![0]! * c2[0]![1]! + c1[0]![1]! * c2[1]![1]!],
    [c1[1]![0]! * c2[0]![0]! + c1[1]![1]! * c2[1]![0]!, c1[1]![0]! * c2[0]![1]! + c1[1]![1]! * c2[1]![1]!],
  ];
  const trM = m[0]![0]! + m[1]![1]!;
  const det = (x: number[][]) => x[0]![0]! * x[1]![1]! - x[0]![1]! * x[1]![0]!;
  const trSqrt = Math.sqrt(trM + 2 * Math.sqrt(det(c1) * det(c2)));
  const expected = (1 - 0) ** 2 + (2 - 0.5) ** 2 + (2 + 3) + (1 + 0.5) - 2 * trSqrt;
  close(frechetDistance(stats([1, 2], c1), stats([0, 0.5], c2)), expected);
  // Symmetric in its arguments.
  close(frechetDistance(stats([0, 0.5], c2), stats([1, 2], c1)), expected);
});

test('FID of a set against itself is 0 and grows with a shift of the mean by exactly |shift|^2', () => {
  const values = Float64Array.from({ length: 200 * 3 }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
  const a = { values, count: 200, dim: 3 };
  close(fid(a, a), 0, 1e-9);
  const shifted = { values: values.map((v, i) => v + (i % 3 === 1 ? 2 : 0)), count: 200, dim: 3 };
  close(fid(a, shifted), 4, 1e-9);
});

test('precision and recall of k-NN manifolds on point sets with answers worked out by hand', () => {
  const line = (xs: number[]) => ({ values: Float64Array.from(xs), count: xs.length, dim: 1 });
  // Real 0..4 with k = 1: every ball has radius 1. Fake 0.5 and 2.2 lie inside, 100 and 101 outside: precision 1/2.
  // Fake balls (k = 1): 0.5 and 2.2 reach 1.7, 100 and 101 reach 1. Real 0..3 are within 1.7 of 0.5 or 2.2; 4 is 1.8 away: recall 4/5.
  assert.deepEqual(precisionRecall(line([0, 1, 2, 3, 4]), line([0.5, 2.2, 100, 101]), 1), { precision: 0.5, recall: 0.8 });
  const same = line([0, 1, 2, 5, 9]);
  assert.deepEqual(precisionRecall(same, same, 2), { precision: 1, recall: 1 });
  assert.throws(() => precisionRecall(same, same, 5), /k must be an integer in \[1, 4\]/);
});

test('confident share counts rows whose top probability reaches the threshold', () => {
  assert.equal(confidentShare(Float32Array.from([0.95, 0.05, 0.5, 0.5, 0.9, 0.1, 0.2, 0.8]), 2, 0.9), 0.5);
});
