/**
 * Training keeps the tfjs tensor count flat: per epoch in fresh and resumed runs, and back to where it
 * started once a run ends, whether it finishes or stops on a non-finite loss.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from './backend.js';
import { loadCheckpoint } from './checkpoint.js';
import { defaultImageConfig } from '@vaekit/core';
import { NonFiniteLossError } from './errors.js';
import { resumeImageVae, trainImageVae } from './train-image.js';

before(async () => {
  await initBackend('wasm');
});

const tmp = () => mkdtempSync(path.join(tmpdir(), 'vaekit-memory-'));
const config = defaultImageConfig({ epochs: 2, trainLimit: 128, latent: 3, hidden: [16], batchSize: 64 });

test('a finished run, a resumed run and a loaded checkpoint leave no tensors behind', async () => {
  const start = tf.memory().numTensors;
  const run = tmp();
  await trainImageVae(config, run);
  assert.equal(tf.memory().numTensors, start, 'after a fresh run');
  const counts: number[] = [];
  await resumeImageVae(run, { onEpoch: () => counts.push(tf.memory().numTensors) }, { epochs: 5 });
  assert.equal(counts.length, 3);
  assert.ok(counts.every((c) => c === counts[0]), `tensor count per resumed epoch: ${counts}`);
  assert.equal(tf.memory().numTensors, start, 'after a resumed run');
  const ckpt = await loadCheckpoint(run);
  ckpt.encoder.dispose();
  ckpt.decoder.dispose();
  tf.dispose((ckpt.optimizerWeights ?? []).map((w) => w.tensor));
  assert.equal(tf.memory().numTensors, start, 'after loading and disposing a checkpoint');
});

test('a run that stops on a non-finite loss leaves no tensors behind', async () => {
  const run = tmp();
  await trainImageVae({ ...config, epochs: 1 }, run);
  const file = path.join(run, 'config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), learningRate: 10 }));
  const start = tf.memory().numTensors;
  await assert.rejects(resumeImageVae(run, {}, { epochs: 3 }), (e: Error) => e instanceof NonFiniteLossError && e.epoch === 2);
  assert.equal(tf.memory().numTensors, start);
  await assert.rejects(resumeImageVae(run, {}, { epochs: 3, nonFinite: 'skip' }), NonFiniteLossError);
  assert.equal(tf.memory().numTensors, start, 'skip mode too');
});
