/** The classifier contract: bag-of-words features and the manifest section check. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLASSIFIER_BUNDLE_KIND, bowFeatures } from './classifier.js';

test('bowFeatures: log(1 + count) per word id, special tokens and the skipped most frequent words at 0', () => {
  const f = bowFeatures([0, 1, 2, 3, 4, 5, 5, 7, 7, 7, 99], 8);
  assert.deepEqual(Array.from(f), [0, 0, 0, 0, Math.fround(Math.log(2)), Math.fround(Math.log(3)), 0, Math.fround(Math.log(4))]);
  const skipped = bowFeatures([4, 5, 5, 7], 8, new Float32Array(8), 0, 2);
  assert.deepEqual(Array.from(skipped), [0, 0, 0, 0, 0, 0, 0, Math.fround(Math.log(2))]);
  const batch = new Float32Array(16);
  bowFeatures([6], 8, batch, 8);
  assert.equal(batch[14], Math.fround(Math.log(2)));
});

test('the classifier manifest section: labels, model, sizes, threshold and tokenizer are checked', () => {
  const ok = { classifier: { model: 'm1', encoder: 'bow', labels: ['neg', 'pos'], vocabSize: 10, maxLength: 5, latentSize: 3, bowSkip: 0, threshold: { label: 'pos', value: 0.3 }, tokenizer: 'tokenizer.json' } };
  assert.deepEqual(CLASSIFIER_BUNDLE_KIND.checkSection(ok), [{ field: 'classifier.tokenizer', file: 'tokenizer.json' }]);
  const bad = (patch: Record<string, unknown>, message: RegExp) =>
    assert.throws(() => CLASSIFIER_BUNDLE_KIND.checkSection({ classifier: { ...ok.classifier, ...patch } }), message);
  bad({ model: 'm3' }, /classifier.model is "m3". Should be one of: supervised, m1, m2/);
  bad({ labels: ['pos'] }, /at least two distinct/);
  bad({ labels: ['pos', 'pos'] }, /at least two distinct/);
  bad({ vocabSize: 0 }, /classifier.vocabSize must be a positive integer/);
  bad({ threshold: { label: 'other', value: 0.5 } }, /classifier.threshold/);
  bad({ threshold: { label: 'pos', value: 2 } }, /classifier.threshold/);
  bad({ bowSkip: -1 }, /bowSkip/);
  bad({ tokenizer: 3 }, /tokenizer/);
  assert.throws(() => CLASSIFIER_BUNDLE_KIND.checkSection({}), /classifier is missing/);
});
