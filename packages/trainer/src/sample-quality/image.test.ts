import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../backend.js';
import { loadMnist } from '../data/mnist.js';
import { loadMnistClassifier } from './classifier.js';
import { imageSampleQuality, priorSamples } from './image.js';
import { buildImageVae } from '../models/image.js';
import { defaultImageConfig } from '@vaekit/core';

before(async () => {
  await initBackend('wasm');
});

// One small classifier for the file: trained by the first test, read from this cache by the second.
const options = { cacheDir: mkdtempSync(path.join(tmpdir(), 'vaekit-clf-')), epochs: 3, trainLimit: 3000, seed: 3 };

test('the MNIST classifier is seeded, cached, and separates held-out digits from noise', async () => {
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

test('real digits against other real digits score near the ceiling; a collapsed model (every sample the mean digit) scores precision 1, recall 0', async () => {
  const model = await loadMnistClassifier(options);
  const { fid, precisionRecall, confidentShare } = await import('./fid.js');
  const { train, test: held } = await loadMnist({ seed: 42, testFraction: 0.1 });
  const n = 300;
  const real = model.run(held.images.subarray(0, n * 784), n);
  // Disjoint digits (training digits the classifier never saw: it trained on the first 3,000).
  const other = model.run(train.images.subarray(8000 * 784, (8000 + n) * 784), n);
  const mean = new Float32Array(784);
  for (let i = 0; i < train.count; i++) for (let p = 0; p < 784; p++) mean[p]! += train.images[i * 784 + p]! / train.count;

  // The decoder path of the metrics: a decoder that ignores z and outputs logit(mean digit) must give
  // exactly the mean digit's pixels (Bernoulli means in [0, 1], not logits, not 0-255).
  const z = tf.input({ shape: [4] });
  const layer = tf.layers.dense({ units: 784, kernelInitializer: 'zeros' });
  const decoder = tf.model({ inputs: z, outputs: layer.apply(z) as tf.SymbolicTensor });
  const eps = 1e-4;
  layer.setWeights([tf.zeros([4, 784]), tf.tensor1d(Array.from(mean, (m) => Math.log((m + eps) / (1 - m + eps))))]);
  const blobs = priorSamples(decoder, n, 0);
  for (let p = 0; p < 784; p++) assert.ok(Math.abs(blobs[p]! - mean[p]!) < 1e-3 && Math.abs(blobs[(n - 1) * 784 + p]! - mean[p]!) < 1e-3);
  const collapsed = model.run(blobs, n);

  const realReal = { fid: fid(real.features, other.features), ...precisionRecall(real.features, other.features, 3) };
  const realBlob = { fid: fid(real.features, collapsed.features), ...precisionRecall(real.features, collapsed.features, 3) };
  assert.ok(realReal.fid < 0.1 * realBlob.fid, `real vs real FID ${realReal.fid}, vs the mean digit ${realBlob.fid}`);
  assert.ok(realReal.precision > 0.8 && realReal.recall > 0.8, `real vs real precision ${realReal.precision}, recall ${realReal.recall}`);
  assert.ok(confidentShare(other.probs, 10) > 0.7, `confident share of real digits ${confidentShare(other.probs, 10)}`);
  // Collapse: every sample is one point, inside the real manifold, but covering none of it.
  assert.equal(realBlob.recall, 0);
  assert.ok(realBlob.precision > 0.9, `precision of the collapsed set ${realBlob.precision}`);
  assert.equal(confidentShare(collapsed.probs, 10), 0);
  model.dispose();
  decoder.dispose();
});
