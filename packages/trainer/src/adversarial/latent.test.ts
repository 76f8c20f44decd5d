import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { createRng, defaultTextAdversarial, defaultTextConfig, type TextTrainConfig } from '@vaekit/core';
import { initBackend } from '../backend.js';
import { loadCheckpoint } from '../checkpoint.js';
import { NonFiniteLossError, TrainerError } from '../errors.js';
import { resumeTextVae, trainTextVae, validateTextConfig, type TextEpochMetrics } from '../train-text.js';
import { CRITIC, buildCritic, foolCritic } from './latent.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'vaekit-latent-adv-'));
let corpus: string;

before(async () => {
  await initBackend('wasm');
  const rng = createRng(4);
  const words = 'the cat dog sat ran on a mat hat big small red blue and saw it'.split(' ');
  corpus = path.join(tmp(), 'corpus.txt');
  writeFileSync(corpus, Array.from({ length: 200 }, () => Array.from({ length: 3 + rng.int(6) }, () => words[rng.int(words.length)]).join(' ')).join('\n') + '\n');
});

const small = (epochs: number, adversarial: TextTrainConfig['adversarial'] | null = defaultTextAdversarial({ criticHidden: 8 }), overrides: Partial<TextTrainConfig> = {}) =>
  defaultTextConfig({ epochs, latent: 3, embedding: 8, hidden: 8, batchSize: 64, seed: 3, ...(adversarial ? { adversarial } : {}), ...overrides, data: { ...defaultTextConfig().data, source: corpus, minCount: 1, evalLimit: 20 } });
const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

test('adversarial latent: the critic trains beside the VAE, lives in checkpoints only, and resumes to identical weights', async () => {
  const straight = tmp();
  const tensors = tf.memory().numTensors;
  const full = await trainTextVae(small(3), straight);
  assert.equal(tf.memory().numTensors, tensors, 'no tensors leak');
  const adv = full.epochs[2]!.train.adversarial!;
  assert.ok(adv.critic > 0 && adv.critic < 2 && adv.fool > 0, JSON.stringify(adv));
  assert.equal(adv.criticUpdates, 1, 'the critic is updated every step');

  const interrupted = tmp();
  await trainTextVae(small(2), interrupted);
  await resumeTextVae(interrupted, {}, { epochs: 3 });
  const a = await loadCheckpoint(straight);
  const b = await loadCheckpoint(interrupted);
  try {
    assert.ok(a.trainingModels?.[CRITIC] && a.optimizerStates?.[CRITIC], 'the critic and its optimizer are in the checkpoint');
    for (const [ma, mb] of [[a.encoder!, b.encoder!], [a.decoder, b.decoder], [a.trainingModels![CRITIC]!, b.trainingModels![CRITIC]!]] as const) {
      assert.deepEqual(weightsOf(mb), weightsOf(ma));
    }
    const strip = (e: unknown[]) => (e as TextEpochMetrics[]).map(({ seconds: _s, ...rest }) => rest);
    assert.deepEqual(strip(b.state.history ?? []), strip(a.state.history ?? []));
  } finally {
    a.dispose();
    b.dispose();
  }
  const forExport = await loadCheckpoint(straight, { optimizer: false });
  assert.equal(forExport.trainingModels, undefined, 'export and evaluation never load the critic');
  forExport.dispose();
});

test('the adversarial term changes the encoder only: with weight 0 the VAE trains exactly as without a critic', async () => {
  const plain = await trainTextVae(small(1, null), tmp());
  const zero = await trainTextVae(small(1, defaultTextAdversarial({ weight: 0, criticHidden: 8 })), tmp());
  const strip = (m: TextEpochMetrics) => ({ valid: m.valid, loss: m.train.loss, kl: m.train.kl });
  assert.deepEqual(strip(zero.epochs[0]!), strip(plain.epochs[0]!));
  const pushed = await trainTextVae(small(1, defaultTextAdversarial({ weight: 5, criticHidden: 8 })), tmp());
  assert.notDeepEqual(strip(pushed.epochs[0]!), strip(plain.epochs[0]!));
});

test('the fool term is -log sigmoid(C(z)), and --beta 0 (adversarial autoencoder proper) trains', async () => {
  const config = small(1) as TextTrainConfig & { adversarial: NonNullable<TextTrainConfig['adversarial']> };
  const critic = buildCritic(config);
  const z = tf.tensor2d([[0.1, -2, 3], [1, 1, 1]]);
  const logits = (critic.apply(z) as tf.Tensor).dataSync();
  const fool = foolCritic(critic, z).dataSync();
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(fool[i]! - Math.log1p(Math.exp(-logits[i]!))) < 1e-6);
  tf.dispose([z, critic]);
  const run = await trainTextVae(small(1, defaultTextAdversarial({ criticHidden: 8 }), { beta: 0 }), tmp());
  assert.ok(Number.isFinite(run.epochs[0]!.valid.elbo));
  assert.equal(run.epochs[0]!.train.klWeight, 0);
});

test('a diverging critic is caught by the non-finite guard before a checkpoint is written', async () => {
  const dir = tmp();
  await assert.rejects(
    trainTextVae(small(2, defaultTextAdversarial({ criticLearningRate: 1e30, criticHidden: 8 })), dir),
    (e: Error) => e instanceof NonFiniteLossError && /Training stopped: .*epoch 1, batch 2/.test(e.message),
  );
  assert.equal(existsSync(path.join(dir, 'latest.json')), false);
});

test('bad adversarial settings of a text run are refused naming the field', () => {
  const with_ = (o: object, model: 'vae' | 'lm' = 'vae') => ({ ...defaultTextConfig({ model }), adversarial: { ...defaultTextAdversarial(), ...o } });
  assert.throws(() => validateTextConfig(with_({ weight: -1 })), (e: Error) => e instanceof TrainerError && /adversarial weight must be a number >= 0, got -1/.test(e.message));
  assert.throws(() => validateTextConfig(with_({ mode: 'vaegan' })), /Unsupported adversarial mode "vaegan" for text runs. Should be one of: latent/);
  assert.throws(() => validateTextConfig(with_({ criticLearningRate: 0 })), /criticLearningRate must be > 0/);
  assert.throws(() => validateTextConfig(with_({}, 'lm')), /model must be vae/);
});
