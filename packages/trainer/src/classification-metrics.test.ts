/** Classification metrics against values from scikit-learn's documentation and hand computation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { averagePrecision, bestThreshold, classificationMetrics, confusionMatrix, predictWithThreshold } from './classification-metrics.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);
const oneHot = (pred: number[], classes: number) => pred.flatMap((p) => Array.from({ length: classes }, (_, c) => (c === p ? 1 : 0)));

test('average precision: scikit-learn documentation example (0.8333) and a case with tied scores', () => {
  close(averagePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.8333333333333333);
  // By hand: thresholds 0.9 (R .25, P 1), 0.8 tie (R .5, P 2/3), 0.7 (R .75, P .75), 0.4 (R 1, P .8).
  close(averagePrecision([1, 0, 1, 1, 0, 0, 1], [0.9, 0.8, 0.8, 0.4, 0.35, 0.1, 0.7]), 0.25 + 0.25 * (2 / 3) + 0.25 * 0.75 + 0.25 * 0.8);
  assert.equal(averagePrecision([0, 0], [0.3, 0.2]), 0);
});

test('macro-F1, balanced accuracy, recall and confusion: scikit-learn documentation examples', () => {
  // f1_score([0,1,2,0,1,2], [0,2,1,0,0,1], average='macro') = 0.26666...; per class [0.8, 0, 0].
  const m = classificationMetrics([0, 1, 2, 0, 1, 2], oneHot([0, 2, 1, 0, 0, 1], 3), 3);
  close(m.macroF1, 0.26666666666666666);
  assert.deepEqual(m.f1.map((f) => Math.round(f * 1e9) / 1e9), [0.8, 0, 0]);
  close(m.accuracy, 2 / 6);
  assert.deepEqual(m.confusion, [[2, 0, 0], [1, 0, 1], [0, 2, 0]]);
  // balanced_accuracy_score([0,1,0,0,1,0], [0,1,0,0,0,1]) = 0.625
  const b = classificationMetrics([0, 1, 0, 0, 1, 0], oneHot([0, 1, 0, 0, 0, 1], 2), 2);
  close(b.balancedAccuracy, 0.625);
  assert.deepEqual(b.recall, [0.75, 0.5]);
  assert.deepEqual(confusionMatrix([1, 1, 0], [1, 0, 0], 2), [[1, 0], [1, 1]]);
});

test('threshold moving: predictions and the best threshold on a validation split', () => {
  const probs = [0.9, 0.1, 0.7, 0.3, 0.6, 0.4, 0.55, 0.45];
  assert.deepEqual(predictWithThreshold(probs, 2, 1, 0.42), [0, 0, 0, 1]);
  assert.deepEqual(predictWithThreshold(probs, 2, 1, 0.4), [0, 0, 1, 1]);
  // Class 1 is the two last rows: their p1 are 0.4 and 0.45, above the others' 0.1 and 0.3.
  const t = bestThreshold([0, 0, 1, 1], probs, 2, 1);
  assert.ok(t > 0.3 && t <= 0.4, `threshold ${t}`);
  close(classificationMetrics([0, 0, 1, 1], probs, 2, predictWithThreshold(probs, 2, 1, t)).balancedAccuracy, 1);
});
