import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from './backend.js';
import { defaultImageConfig } from '@vaekit/core';
import { TrainerError } from './errors.js';
import { loadCheckpoint } from './checkpoint.js';
import { resumeImageVae, trainImageVae, validateImageConfig, type EpochMetrics } from './train-image.js';

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

test('a resumed run ends with the same weights and metrics as an uninterrupted one', async () => {
  const config = defaultImageConfig({ epochs: 3, trainLimit: 192, latent: 3, hidden: [16], batchSize: 64 });
  const straight = tmp();
  await trainImageVae(config, straight);
  const interrupted = tmp();
  await trainImageVae({ ...config, epochs: 2 }, interrupted);
  const resumed = await resumeImageVae(interrupted, {}, { epochs: 3 });
  assert.deepEqual(resumed.epochs.map((e) => e.epoch), [1, 2, 3]);
  const a = await loadCheckpoint(straight);
  const b = await loadCheckpoint(interrupted);
  assert.equal(b.state.epoch, 3);
  assert.equal(b.state.step, a.state.step);
  for (const [ma, mb] of [[a.encoder, b.encoder], [a.decoder, b.decoder]] as const) {
    const wa = ma.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = mb.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(wb, wa);
  }
  const strip = (e: unknown[]) => (e as EpochMetrics[]).map(({ seconds: _s, ...rest }) => rest);
  assert.deepEqual(strip(b.state.history ?? []), strip(a.state.history ?? []));
});
