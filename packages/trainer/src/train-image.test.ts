import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from './backend.js';
import { defaultImageConfig } from './config.js';
import { TrainerError } from './errors.js';
import { trainImageVae, validateImageConfig, type EpochMetrics } from './train-image.js';

before(async () => {
  await initBackend('wasm');
});

const tmp = () => mkdtempSync(path.join(tmpdir(), 'vaekit-train-'));

test('training leaks no tensors across epochs and a fixed seed repeats the run exactly', async () => {
  const config = defaultImageConfig({ epochs: 3, trainLimit: 256, latent: 4, hidden: [32], batchSize: 64 });
  const counts: number[] = [];
  const first = await trainImageVae(config, tmp(), { onEpoch: () => counts.push(tf.memory().numTensors) });
  assert.equal(counts.length, 3);
  assert.ok(counts[1] === counts[0] && counts[2] === counts[0], `tensor count per epoch: ${counts}`);
  const second = await trainImageVae(config, tmp());
  const strip = (e: EpochMetrics[]) => e.map(({ seconds: _s, ...rest }) => rest);
  assert.deepEqual(strip(second.epochs), strip(first.epochs));
});

test('bad configurations are refused naming the field', () => {
  assert.throws(() => validateImageConfig(defaultImageConfig({ latent: 0 })), (e: Error) => e instanceof TrainerError && /latent must be a positive integer/.test(e.message));
  assert.throws(() => validateImageConfig(defaultImageConfig({ hidden: [400, -1] })), /hidden\[1\]/);
  assert.throws(() => validateImageConfig(defaultImageConfig({ beta: -1 })), /beta must be >= 0/);
  assert.throws(() => validateImageConfig(defaultImageConfig({ learningRate: 0 })), /learningRate/);
  assert.throws(() => validateImageConfig({ ...defaultImageConfig(), arch: 'rnn' as never }), /Should be one of: dense, conv/);
});
