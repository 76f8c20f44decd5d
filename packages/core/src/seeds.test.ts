import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SUBSTEPS_PER_STEP, evalSeed, noiseSeed, shuffleSeed } from './seeds.js';

test('seeds depend only on (seed, position): the same inputs give the same seed', () => {
  assert.equal(shuffleSeed(7, 3), shuffleSeed(7, 3));
  assert.equal(noiseSeed(7, 100), noiseSeed(7, 100));
  assert.equal(evalSeed(7, 2), evalSeed(7, 2));
});

test('the sub-steps of one step never reach the next step (no seed is shared)', () => {
  const seen = new Set<number>();
  for (let step = 0; step < 50; step++) {
    for (let sub = 0; sub < SUBSTEPS_PER_STEP; sub++) {
      const s = noiseSeed(1, step) + sub;
      assert.ok(!seen.has(s), `seed ${s} reused at step ${step}, sub-step ${sub}`);
      seen.add(s);
    }
  }
});

test('consecutive epochs shuffle with different seeds, as do different run seeds', () => {
  assert.notEqual(shuffleSeed(1, 1), shuffleSeed(1, 2));
  assert.notEqual(shuffleSeed(1, 1), shuffleSeed(2, 1));
});
