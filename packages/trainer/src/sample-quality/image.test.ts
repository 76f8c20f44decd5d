import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../backend.js';
import { loadMnist } from '../data/mnist.js';
import { loadMnistClassifier } from './classifier.js';
import { imageSampleQuality } from './image.js';
import { buildImageVae } from '../models/image.js';
import { defaultImageConfig } from '@vaekit/core';

before(async () => {
  await initBackend('wasm');
});

test('the MNIST classifier is seeded, cached, and separates held-out digits from noise', async () => {
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'vaekit-clf-'));
  const options = { cacheDir, epochs: 3, trainLimit: 3000, seed: 3 };
  const first = await loadMnistClassifier(options);
  assert.equal(first.trained, true);
  assert.ok(first.accuracy > 0.8, `held-out accuracy ${first.accuracy}`);
  const again = await loadMnistClassifier(options);
  assert.equal(again.trained, false);
  assert.equal(again.accuracy, first.accuracy);
  const wa = first.model.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(again.model.getWeights().map((w) => Array.from(w.dataSync())), wa);
  again.dispose();

  // Real digits against themselves: FID 0, precision and recall 1. Against an untrained decoder: far worse.
  const { test: held } = await loadMnist({ seed: 42, testFraction: 0.1 });
  const vae = buildImageVae(defaultImageConfig({ latent: 4, hidden: [16] }));
  const before = tf.memory().numTensors;
  const q = await imageSampleQuality(vae.encoder, vae.decoder, held, { samples: 200, model: first });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(q.fid > 10, `FID of an untrained decoder: ${q.fid}`);
  assert.ok(q.precision < 0.2, `precision of an untrained decoder: ${q.precision}`);
  assert.ok(q.confidentReal > 0.6 && q.confidentReal > q.confident, `confident share real ${q.confidentReal}, samples ${q.confident}`);
  const real = first.run(held.images.subarray(0, 200 * 784), 200);
  const { fid, precisionRecall } = await import('./fid.js');
  assert.ok(fid(real.features, real.features) < 1e-6);
  assert.deepEqual(precisionRecall(real.features, real.features), { precision: 1, recall: 1 });
  first.dispose();
  vae.encoder.dispose();
  vae.decoder.dispose();
});
