/**
 * Loading and evaluating text runs frees everything it loaded: five runs evaluated (and loaded) in one
 * process leave the tfjs tensor count where it started, and `Checkpoint.dispose()` frees the models and
 * both optimizer fields.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { defaultTextConfig, defaultImageConfig, type TextTrainConfig } from '@vaekit/core';
import { initBackend } from './backend.js';
import { loadCheckpoint } from './checkpoint.js';
import { evaluateTextRun, loadTextRun } from './eval-text.js';
import { trainTextVae } from './train-text.js';
import { trainImageVae } from './train-image.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'vaekit-eval-'));
const runs: string[] = [];

before(async () => {
  await initBackend('wasm');
  const words = 'the a cat dog sat on mat ran fast slow big small red blue house tree'.split(' ');
  const lines = Array.from({ length: 120 }, (_, i) => Array.from({ length: 3 + (i % 5) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' '));
  const corpus = path.join(tmp(), 'corpus.txt');
  writeFileSync(corpus, lines.join('\n') + '\n');
  const tiny = (over: Partial<TextTrainConfig>): TextTrainConfig =>
    defaultTextConfig({
      embedding: 6,
      hidden: 8,
      latent: 2,
      epochs: 1,
      batchSize: 32,
      ...over,
      data: { ...defaultTextConfig().data, source: corpus, maxLength: 8, minCount: 1, validFraction: 0.1, testFraction: 0.1, evalLimit: 8 },
    });
  const configs = [tiny({}), tiny({ cell: 'lstm' }), tiny({ model: 'lm' }), tiny({ seed: 2 }), tiny({ cell: 'lstm', seed: 3 })];
  for (const config of configs) {
    const run = tmp();
    await trainTextVae(config, run);
    runs.push(run);
  }
});

test('evaluating and loading five text runs leaves the tensor count flat', async () => {
  const start = tf.memory().numTensors;
  const counts: number[] = [];
  for (const run of runs) {
    const report = await evaluateTextRun(run, { k: 3, limit: 4, examples: 2 });
    assert.ok(Number.isFinite(report.metrics.elbo) && report.metrics.sentences === 4);
    const loaded = await loadTextRun(run);
    assert.ok(loaded.models.decoder.countParams() > 0);
    loaded.dispose();
    loaded.dispose(); // twice is harmless
    counts.push(tf.memory().numTensors);
  }
  assert.deepEqual(counts, counts.map(() => start), `tensor count after each run (start ${start}): ${counts}`);
});

test('Checkpoint.dispose frees the models and both optimizer fields', async () => {
  const image = tmp();
  await trainImageVae(defaultImageConfig({ epochs: 1, trainLimit: 64, hidden: [8], latent: 2, batchSize: 32 }), image);
  const start = tf.memory().numTensors;
  for (const run of [...runs, image]) {
    const checkpoint = await loadCheckpoint(run);
    const optimizerTensors =
      (checkpoint.optimizerWeights?.length ?? 0) + Object.values(checkpoint.optimizerStates ?? {}).reduce((n, ws) => n + ws.length, 0);
    assert.ok(optimizerTensors > 0, `${run} has optimizer state`);
    assert.ok(tf.memory().numTensors > start + optimizerTensors);
    checkpoint.dispose();
    assert.equal(tf.memory().numTensors, start, `after disposing the checkpoint of ${run}`);
  }
  const light = await loadCheckpoint(runs[0]!, { optimizer: false });
  assert.equal(light.optimizerWeights, undefined);
  assert.equal(light.optimizerStates, undefined);
  light.dispose();
  assert.equal(tf.memory().numTensors, start);
});
