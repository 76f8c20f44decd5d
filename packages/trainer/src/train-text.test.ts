/** The sentence VAE end to end on a tiny corpus: training, exact resume, reload, IW-NLL vs ELBO, baseline. */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { initBackend } from './backend.js';
import { loadCheckpoint } from './checkpoint.js';
import { defaultTextConfig, type TextTrainConfig } from '@vaekit/core';
import { evaluateTextRun } from './eval-text.js';
import { TrainerError } from './errors.js';
import { loadTextCorpus, resumeTextVae, trainTextVae, validateTextConfig, type TextEpochMetrics } from './train-text.js';
import { evaluateText } from './text-vae.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'vaekit-text-'));
let corpusFile = '';

before(async () => {
  await initBackend('wasm');
  const subjects = ['the cat', 'a dog', 'my friend', 'the teacher', 'our team', 'the bird'];
  const verbs = ['sat on', 'ran to', 'looked at', 'walked past', 'found'];
  const objects = ['the mat', 'a park', 'the house', 'the old tree', 'a river', 'the market'];
  const lines: string[] = [];
  for (let i = 0; i < 240; i++) lines.push(`${subjects[i % 6]} ${verbs[(i * 7) % 5]} ${objects[(i * 5) % 6]}${i % 4 === 0 ? ' today' : ''} .`);
  corpusFile = path.join(tmp(), 'corpus.txt');
  writeFileSync(corpusFile, lines.join('\n') + '\n');
});

const tiny = (over: Partial<TextTrainConfig> = {}): TextTrainConfig =>
  defaultTextConfig({
    embedding: 12,
    hidden: 16,
    latent: 4,
    epochs: 2,
    batchSize: 24,
    learningRate: 5e-3,
    anneal: { ...defaultTextConfig().anneal, schedule: 'linear', steps: 10 },
    ...over,
    data: { ...defaultTextConfig().data, source: corpusFile, maxLength: 10, minCount: 1, validFraction: 0.1, testFraction: 0.1, evalLimit: 24 },
  });

const strip = (e: TextEpochMetrics[]) => e.map(({ seconds: _s, ...rest }) => rest);

async function weightsOf(runDir: string): Promise<number[][]> {
  const c = await loadCheckpoint(runDir);
  const models = [c.encoder, c.decoder].filter((m): m is tf.LayersModel => m !== undefined);
  const values = models.flatMap((m) => m.getWeights().map((w) => Array.from(w.dataSync())));
  models.forEach((m) => m.dispose());
  return values;
}

describe('sentence VAE training', () => {
  test('a fixed seed repeats the run; tensors stay flat; resume equals the uninterrupted run', async () => {
    const config = tiny({ epochs: 3 });
    const counts: number[] = [];
    const full = tmp();
    const first = await trainTextVae(config, full, { onEpoch: () => counts.push(tf.memory().numTensors) });
    assert.ok(counts.every((c) => c === counts[0]), `tensor count per epoch: ${counts}`);
    const again = await trainTextVae(config, tmp());
    assert.deepEqual(strip(again.epochs), strip(first.epochs));

    const interrupted = tmp();
    await trainTextVae({ ...config, epochs: 1 }, interrupted);
    const resumed = await resumeTextVae(interrupted, {}, { epochs: 3 });
    assert.deepEqual(strip(resumed.epochs), strip(first.epochs));
    assert.deepEqual(await weightsOf(interrupted), await weightsOf(full));
  });

  test('checkpoints reload to the same function (the decoder initial state survives serialization)', async () => {
    const runDir = tmp();
    const config = tiny({ epochs: 1 });
    await trainTextVae(config, runDir);
    const corpus = await loadTextCorpus(config);
    const c1 = await loadCheckpoint(runDir);
    const c2 = await loadCheckpoint(runDir);
    const a = await evaluateText({ encoder: c1.encoder!, decoder: c1.decoder }, corpus.valid, { seqLength: corpus.seqLength, seed: 3 });
    const b = await evaluateText({ encoder: c2.encoder!, decoder: c2.decoder }, corpus.valid, { seqLength: corpus.seqLength, seed: 3 });
    assert.deepEqual(a, b);
    // The decoder really depends on z through its initial state and inputs.
    const z0 = tf.zeros([1, 4]);
    const z1 = tf.ones([1, 4]);
    const tokens = tf.tensor2d([[2, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0]], [1, 11], 'int32');
    const d = tf.sub(c1.decoder.predict([tokens, z0]) as tf.Tensor, c1.decoder.predict([tokens, z1]) as tf.Tensor).abs().max().dataSync()[0]!;
    assert.ok(d > 1e-4, `decoder output does not depend on z (${d})`);
    [c1, c2].forEach((c) => {
      c.encoder?.dispose();
      c.decoder.dispose();
    });
  });

  test('the IW-NLL of a trained model is at most its negative ELBO; the report has samples', async () => {
    const runDir = tmp();
    await trainTextVae(tiny({ epochs: 3 }), runDir);
    const report = await evaluateTextRun(runDir, { k: 50, examples: 3 });
    const m = report.metrics;
    assert.ok(m.iwNll !== undefined && m.iwNll <= m.elbo, `IW-NLL ${m.iwNll} vs -ELBO ${m.elbo}`);
    assert.ok(m.iwNll > 0 && m.kl >= 0 && m.mi !== undefined && m.au !== undefined);
    assert.equal(m.pplBound, 'iw');
    assert.ok(Math.abs(m.ppl - Math.exp((m.iwNll * m.sentences) / m.tokens)) < 1e-6 * m.ppl);
    assert.equal(report.qualitative!.priorGreedy.length, 3);
    assert.equal(report.qualitative!.reconstructions.length, 3);
    assert.equal(report.qualitative!.interpolation.steps.length, 5);
  });

  test('the language-model baseline trains the decoder alone and reports the exact NLL', async () => {
    const runDir = tmp();
    const result = await trainTextVae(tiny({ model: 'lm' }), runDir);
    assert.equal(result.epochs.length, 2);
    assert.equal(result.epochs[1]!.train.kl, 0);
    const c = await loadCheckpoint(runDir);
    assert.equal(c.encoder, undefined);
    c.decoder.dispose();
    const report = await evaluateTextRun(runDir, { k: 10 });
    assert.equal(report.metrics.pplBound, 'exact');
    assert.equal(report.metrics.kl, 0);
    assert.equal(report.qualitative, undefined);
  });

  test('aggressive auto updates the encoder alone first and switches off when held-out MI stops rising', async () => {
    const notices: string[] = [];
    const result = await trainTextVae(tiny({ epochs: 4, aggressive: 'auto', aggressiveMaxSteps: 4 }), tmp(), { onNotice: (m) => notices.push(m) });
    assert.equal(result.epochs[0]!.aggressive, true);
    assert.ok(result.epochs[0]!.encoderSteps >= 8, `encoder-only steps ${result.epochs[0]!.encoderSteps}`);
    const off = result.epochs.findIndex((e) => !e.aggressive);
    if (off >= 0) {
      assert.ok(notices.some((n) => n.includes('mutual information stopped rising')));
      assert.ok(result.epochs.slice(off).every((e) => !e.aggressive && e.encoderSteps === 0));
    }
    const fixed = await trainTextVae(tiny({ epochs: 2, aggressive: 1, aggressiveMaxSteps: 2 }), tmp());
    assert.deepEqual(fixed.epochs.map((e) => e.aggressive), [true, false]);
  });

  test('bad configurations are refused naming the field and the accepted values', () => {
    assert.throws(() => validateTextConfig(tiny({ cell: 'rnn' as 'gru' })), (e: unknown) => e instanceof TrainerError && /Should be one of: gru, lstm/.test((e as Error).message));
    assert.throws(() => validateTextConfig(tiny({ wordDropout: 1 })), /wordDropout must be in \[0, 1\)/);
    assert.throws(() => validateTextConfig(tiny({ aggressive: 'sometimes' as 'auto' })), /aggressive must be auto, off or a number/);
    assert.throws(() => validateTextConfig(tiny({ latent: 0 })), /latent must be a positive integer/);
  });
});
