/** The translate kind's learning-rate schedule (`--lr-final`) and its validation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultTranslateConfig } from '@vaekit/core';
import { TrainerError } from '../errors.js';
import { translateLearningRate, validateTranslateConfig } from './translate.js';

test('the learning rate falls linearly from --lr at the first step to --lr-final at the last', () => {
  const config = { learningRate: 3e-3, learningRateFinal: 3e-4 };
  assert.equal(translateLearningRate(config, 0, 101), 3e-3);
  assert.ok(Math.abs(translateLearningRate(config, 50, 101) - 1.65e-3) < 1e-12);
  assert.ok(Math.abs(translateLearningRate(config, 100, 101) - 3e-4) < 1e-12);
  // Past the end (a resumed run given more epochs computes its own total): held at the final rate.
  assert.ok(Math.abs(translateLearningRate(config, 500, 101) - 3e-4) < 1e-12);
});

test('without --lr-final the learning rate is constant', () => {
  for (const step of [0, 7, 99]) assert.equal(translateLearningRate({ learningRate: 1e-3 }, step, 100), 1e-3);
  assert.equal(translateLearningRate({ learningRate: 1e-3, learningRateFinal: 1e-4 }, 0, 1), 1e-3);
});

test('a non-positive final learning rate is refused with the field named', () => {
  const config = defaultTranslateConfig({ learningRateFinal: 0, data: { ...defaultTranslateConfig().data, source: 'pairs.tsv' } });
  assert.throws(() => validateTranslateConfig(config), (e: Error) => e instanceof TrainerError && /learningRateFinal must be > 0/.test(e.message));
  validateTranslateConfig({ ...config, learningRateFinal: 1e-4 });
});
