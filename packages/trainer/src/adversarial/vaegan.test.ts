import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { defaultImageAdversarial, defaultImageConfig } from '@vaekit/core';
import { initBackend } from '../backend.js';
import { loadCheckpoint } from '../checkpoint.js';
import { NonFiniteLossError, TrainerError } from '../errors.js';
import { resumeImageVae, trainImageVae, validateImageConfig, type EpochMetrics } from '../train-image.js';
import { DISCRIMINATOR, buildDiscriminator, r1Penalty } from './vaegan.js';

before(async () => {
  await initBackend('wasm');
});

const tmp = () => mkdtempSync(path.join(tmpdir(), 'vaekit-vaegan-'));
const small = (epochs: number, arch: 'dense' | 'conv' = 'dense') =>
  defaultImageConfig({ arch, epochs, trainLimit: 128, latent: 3, hidden: [16], batchSize: 64, adversarial: defaultImageAdversarial({ weight: 0.5, balance: 0 }) });
const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

test('VAE-GAN trains both players, keeps the discriminator in checkpoints only, and resumes to identical weights', async () => {
  const straight = tmp();
  const tensors = tf.memory().numTensors;
  const full = await trainImageVae(small(3), straight);
  assert.equal(tf.memory().numTensors, tensors, 'no tensors leak');
  const adv = full.epochs[2]!.train.adversarial!;
  assert.ok(adv.disc > 0 && adv.fool > 0 && adv.feature > 0, JSON.stringify(adv));
  assert.equal(adv.discUpdates, 1, 'balance 0: D updated every step');

  const interrupted = tmp();
  await trainImageVae(small(2), interrupted);
  await resumeImageVae(interrupted, {}, { epochs: 3 });
  const a = await loadCheckpoint(straight);
  const b = await loadCheckpoint(interrupted);
  try {
    assert.ok(a.trainingModels?.[DISCRIMINATOR] && a.optimizerStates?.[DISCRIMINATOR], 'the discriminator and its optimizer are in the checkpoint');
    for (const [ma, mb] of [[a.encoder!, b.encoder!], [a.decoder, b.decoder], [a.trainingModels![DISCRIMINATOR]!, b.trainingModels![DISCRIMINATOR]!]] as const) {
      assert.deepEqual(weightsOf(mb), weightsOf(ma));
    }
    assert.deepEqual(b.optimizerStates![DISCRIMINATOR]!.map((w) => Array.from(w.tensor.dataSync())), a.optimizerStates![DISCRIMINATOR]!.map((w) => Array.from(w.tensor.dataSync())));
    const strip = (e: unknown[]) => (e as EpochMetrics[]).map(({ seconds: _s, ...rest }) => rest);
    assert.deepEqual(strip(b.state.history ?? []), strip(a.state.history ?? []));
  } finally {
    a.dispose();
    b.dispose();
  }
  // Export and evaluation load without the optimizer state: no discriminator either.
  const forExport = await loadCheckpoint(straight, { optimizer: false });
  assert.equal(forExport.trainingModels, undefined);
  forExport.dispose();
});

test('VAE-GAN with the conv architecture takes a step; balance control holds D back', async () => {
  const config = { ...small(1, 'conv'), adversarial: defaultImageAdversarial({ balance: 100 }) };
  const run = await trainImageVae(config, tmp());
  assert.equal(run.epochs[0]!.train.adversarial!.discUpdates, 0, 'D loss is always below 100: never updated');
});

test('a diverging discriminator is caught by the non-finite guard before a checkpoint is written', async () => {
  const dir = tmp();
  const config = { ...small(2), adversarial: defaultImageAdversarial({ discLearningRate: 1e30, balance: 0 }) };
  await assert.rejects(trainImageVae(config, dir), (e: Error) => e instanceof NonFiniteLossError && /Training stopped: .*epoch 1, batch 2/.test(e.message));
  assert.equal(existsSync(path.join(dir, 'latest.json')), false);
});

test('the R1 penalty equals gamma/2 * |grad_x logit|^2 by central differences, and has a gradient for D', () => {
  const d = buildDiscriminator(defaultImageConfig({ arch: 'conv' }));
  const pixels = 28 * 28;
  const x = tf.randomUniform([2, pixels], 0, 1, 'float32', 7) as tf.Tensor2D;
  const gamma = 10;
  const penalty = r1Penalty(d, x, gamma);
  // Central differences of the logit along every pixel of each image (D is piecewise linear in x).
  const h = 1e-3;
  const rows = x.arraySync();
  let squared = 0;
  for (const row of rows) {
    const batch = tf.tidy(() => {
      const base = tf.tensor2d([row]).tile([2 * pixels, 1]);
      const eye = tf.eye(pixels).mul(h);
      return base.add(tf.concat([eye, eye.neg()])) as tf.Tensor2D;
    });
    const logits = (d.apply(batch) as tf.Tensor[])[1]!.dataSync();
    for (let i = 0; i < pixels; i++) squared += ((logits[i]! - logits[pixels + i]!) / (2 * h)) ** 2;
    batch.dispose();
  }
  const expected = (gamma / 2) * (squared / rows.length);
  assert.ok(Math.abs(penalty.dataSync()[0]! - expected) <= 1e-2 * expected, `${penalty.dataSync()[0]} vs ${expected}`);
  penalty.dispose();
  // A gradient of the gradient: the penalty moves D's weights.
  const weights = d.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => r1Penalty(d, x, gamma), weights);
  const norms = Object.values(grads).map((g) => g.square().sum().dataSync()[0]!);
  assert.ok(norms.every(Number.isFinite) && norms.some((n) => n > 0), JSON.stringify(norms));
  tf.dispose([value, x, ...Object.values(grads)]);
  d.dispose();
});

test('the prior-sample fool weight and the encoder split change the updates they should, and only those', async () => {
  const run = async (extra: { priorWeight?: number; encoderFool?: boolean }) => {
    const dir = tmp();
    await trainImageVae({ ...small(1), adversarial: defaultImageAdversarial({ weight: 0.5, balance: 0, ...extra }) }, dir);
    const c = await loadCheckpoint(dir, { optimizer: false });
    try {
      return { encoder: weightsOf(c.encoder!), decoder: weightsOf(c.decoder) };
    } finally {
      c.dispose();
    }
  };
  const absent = await run({});
  assert.deepEqual(await run({ priorWeight: 0.5, encoderFool: true }), absent, 'priorWeight equal to weight, encoderFool true: the defaults');
  assert.notDeepEqual((await run({ priorWeight: 3 })).decoder, absent.decoder, 'a larger prior weight moves the decoder differently');
  const split = await run({ encoderFool: false });
  assert.notDeepEqual(split.encoder, absent.encoder, 'without the fool gradient the encoder takes another step');
});

test('VAE-GAN with the R1 penalty takes conv steps with finite losses', async () => {
  const config = { ...small(1, 'conv'), adversarial: defaultImageAdversarial({ balance: 0, gradientPenalty: 10 }) };
  const run = await trainImageVae(config, tmp());
  const adv = run.epochs[0]!.train.adversarial!;
  assert.ok(Number.isFinite(adv.disc) && adv.disc > 0 && adv.discUpdates === 1, JSON.stringify(adv));
});

test('bad adversarial settings are refused naming the field', () => {
  const with_ = (o: object) => ({ ...defaultImageConfig(), adversarial: { ...defaultImageAdversarial(), ...o } });
  assert.throws(() => validateImageConfig(with_({ weight: -1 })), (e: Error) => e instanceof TrainerError && /adversarial weight must be a number >= 0, got -1/.test(e.message));
  assert.throws(() => validateImageConfig(with_({ mode: 'latent' })), /Unsupported adversarial mode "latent" for image runs. Should be one of: vaegan/);
  assert.throws(() => validateImageConfig(with_({ featureWeight: 0, pixelWeight: 0 })), /cannot both be 0/);
  assert.throws(() => validateImageConfig(with_({ labelSmoothing: 0.7 })), /labelSmoothing must be in \[0, 0.5\)/);
  assert.throws(() => validateImageConfig(with_({ gradientPenalty: -1 })), /adversarial gradientPenalty must be a number >= 0, got -1/);
  assert.throws(() => validateImageConfig(with_({ priorWeight: -2 })), /adversarial priorWeight must be a number >= 0, got -2/);
});
