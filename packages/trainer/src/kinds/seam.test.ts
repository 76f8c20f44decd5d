/**
 * The training seam takes a kind defined outside the trainer's sources: a toy kind (a linear
 * autoencoder on seeded random vectors) written here trains through `trainRun`, resumes through the
 * registry by `config.kind`, and a resumed run equals an uninterrupted one.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { createRng, noiseSeed } from '@vaekit/core';
import { initBackend } from '../backend.js';
import { loadCheckpoint } from '../checkpoint.js';
import { resumeRun, trainRun } from '../loop.js';
import { guardedStep, restoreAdam } from '../step.js';
import { registerTrainingKind, trainingKind } from './registry.js';
import type { TrainingKind } from './types.js';

interface ToyConfig {
  kind: 'toy';
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  size: number;
}
interface ToyModels {
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
  optimizer: tf.Optimizer;
}

const DIM = 6;
const rowsOf = (data: Float32Array, rows: number[]) => tf.tensor2d(Float32Array.from(rows.flatMap((r) => Array.from(data.subarray(r * DIM, (r + 1) * DIM)))), [rows.length, DIM]);
const mse = (m: ToyModels, x: tf.Tensor2D, noise: tf.Tensor2D) => tf.losses.meanSquaredError(x, m.decoder.apply(m.encoder.apply(x.add(noise))) as tf.Tensor) as tf.Scalar;

const toyKind: TrainingKind<ToyConfig, Float32Array, ToyModels, { steps: number }, { sum: number; n: number }, number, { epoch: number; loss: number; heldOut: number }> = {
  kind: 'toy',
  advice: 'Lower the learning rate',
  stateKey: 'toy',
  validate: (c) => assert.ok(c.size > 0),
  loadData: async (c) => {
    const rng = createRng(c.seed);
    return Float32Array.from({ length: c.size * DIM }, () => rng.normal());
  },
  build(c) {
    const encoder = tf.sequential({ layers: [tf.layers.dense({ inputShape: [DIM], units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: c.seed }) })] });
    const decoder = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: DIM, kernelInitializer: tf.initializers.glorotUniform({ seed: c.seed + 1 }) })] });
    return { encoder, decoder, optimizer: tf.train.adam(c.learningRate) };
  },
  initialState: () => ({ steps: 0 }),
  async restore(c, _d, checkpoint) {
    return { encoder: checkpoint.encoder!, decoder: checkpoint.decoder, optimizer: await restoreAdam(c.learningRate, checkpoint.optimizerWeights!) };
  },
  trainCount: (d) => d.length / DIM,
  startInfo: () => ({}),
  beginEpoch: () => ({ sum: 0, n: 0 }),
  async step(run, acc, ctx) {
    const x = rowsOf(run.data, ctx.rows);
    const noise = tf.randomNormal([ctx.rows.length, DIM], 0, 0.1, 'float32', noiseSeed(run.config.seed, ctx.step)) as tf.Tensor2D;
    const r = await guardedStep(run.models.optimizer, () => mse(run.models, x, noise));
    tf.dispose([x, noise]);
    if (r.applied) {
      acc.sum += r.loss;
      acc.n++;
      run.state.steps++;
    }
    return r;
  },
  evaluate: async (run) => tf.tidy(() => mse(run.models, rowsOf(run.data, [0, 1, 2, 3]), tf.zeros([4, DIM])).dataSync()[0]!),
  heldOutLoss: (h) => h,
  metricsLine: (_run, acc, heldOut, info) => ({ epoch: info.epoch, loss: acc.sum / acc.n, heldOut }),
  stateMetrics: (h) => ({ heldOut: h }),
  checkpoint: (run) => ({ encoder: run.models.encoder, decoder: run.models.decoder, optimizer: run.models.optimizer }),
  dispose(m) {
    m.optimizer.dispose();
    m.encoder.dispose();
    m.decoder.dispose();
  },
};

const tmp = () => mkdtempSync(path.join(tmpdir(), 'vaekit-toy-'));

before(async () => {
  await initBackend('cpu');
  registerTrainingKind(toyKind);
});

test('a kind defined in a test trains, resumes by config.kind, and equals the uninterrupted run', async () => {
  assert.equal(trainingKind('toy'), toyKind);
  assert.throws(() => registerTrainingKind(toyKind), /already registered/);
  const config: ToyConfig = { kind: 'toy', epochs: 3, batchSize: 8, learningRate: 0.01, seed: 5, size: 40 };
  const start = tf.memory().numTensors;
  const straight = tmp();
  const full = await trainRun(toyKind, config, straight);
  const interrupted = tmp();
  await trainRun(toyKind, { ...config, epochs: 1 }, interrupted);
  const resumed = await resumeRun(interrupted, {}, { epochs: 3 });
  assert.equal(tf.memory().numTensors, start, 'no tensors left behind');
  const strip = (lines: unknown[]) => (lines as Array<{ seconds?: number }>).map(({ seconds: _s, ...rest }) => rest);
  assert.deepEqual(strip(resumed.epochs), strip(full.epochs));
  assert.ok(full.epochs[2]!.loss < full.epochs[0]!.loss, 'the toy model learns');
  const a = await loadCheckpoint(straight);
  const b = await loadCheckpoint(interrupted);
  assert.deepEqual((b.state as { toy?: unknown }).toy, { steps: 15 }, "the kind's state is saved under its stateKey");
  assert.deepEqual(
    b.decoder.getWeights().map((w) => Array.from(w.dataSync())),
    a.decoder.getWeights().map((w) => Array.from(w.dataSync())),
  );
  a.dispose();
  b.dispose();
  assert.equal(readFileSync(path.join(interrupted, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 3);
});
