/**
 * Exporting text runs in a long-lived process frees everything it loaded: the checkpoint's models and
 * both Adam states (encoder and decoder optimizers), which an earlier exporter leaked. Five exports of
 * GRU and LSTM runs, in one process, leave the tfjs tensor count where it started.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { exportRunBundle } from '../packages/cli/src/shared/run-source.js';
import { tempDir, trainedTextBundle } from './helpers.js';

test('five text-run exports in one process keep the tensor count flat', async () => {
  const runs = [trainedTextBundle('gru').runDir, trainedTextBundle('lstm').runDir];
  const out = tempDir('vaekit-export-memory-');
  // A first export of each run settles the backend and tfjs' own caches; every later one must add nothing.
  for (const [i, run] of runs.entries()) await exportRunBundle(run, path.join(out, `warm-up-${i}`));
  const start = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) {
    const result = await exportRunBundle(runs[i % 2]!, path.join(out, `bundle-${i}`));
    assert.equal(result.manifest.kind, 'text');
    assert.equal(tf.memory().numTensors, start, `tensors after export ${i + 1}`);
  }
});
