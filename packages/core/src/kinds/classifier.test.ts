/** The classifier contract: bag-of-words features and the manifest section check. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLASSIFIER_BUNDLE_KIND, CLASSIFIER_MODEL_DEFAULTS, bowFeatures, defaultClassifierConfig } from './classifier.js';

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

test('defaultClassifierConfig: each model gets its own recipe over the shared defaults; given fields win', () => {
  assert.deepEqual(CLASSIFIER_MODEL_DEFAULTS.m1, { epochs: 8, latent: 100 });
  const m1 = defaultClassifierConfig({ model: 'm1' });
  assert.equal(m1.epochs, 8);
  assert.equal(m1.latent, 100);
  assert.deepEqual(defaultClassifierConfig(), m1, 'm1 is the default model');
  for (const model of ['supervised', 'm2'] as const) {
    const c = defaultClassifierConfig({ model });
    assert.equal(c.epochs, 5, model);
    assert.equal(c.latent, 32, model);
  }
  const given = defaultClassifierConfig({ model: 'm1', epochs: 2, latent: 4 });
  assert.equal(given.epochs, 2);
  assert.equal(given.latent, 4);
  const undefinedIsNotGiven = defaultClassifierConfig({ model: 'm1', epochs: undefined, latent: 7 });
  assert.equal(undefinedIsNotGiven.epochs, 8);
  assert.equal(undefinedIsNotGiven.latent, 7);
});
