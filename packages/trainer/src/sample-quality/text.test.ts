import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { BOS_ID, createRng, defaultTextAdversarial, defaultTextConfig, distinctN, type TextTrainConfig } from '@vaekit/core';
import { initBackend } from '../backend.js';
import '../checkpoint.js';
import { buildTextVae } from '../models/text.js';
import { sampleLatents, tfRecurrentStep } from '../text-decode.js';
import { evaluateText } from '../text-vae.js';
import { trainTextVae } from '../train-text.js';
import { evaluateTextSampleQuality, priorDraws } from './text.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'vaekit-text-quality-'));
let corpus: string;

before(async () => {
  await initBackend('wasm');
  const rng = createRng(9);
  const words = 'the cat dog sat ran on a mat hat big small red blue and saw it'.split(' ');
  corpus = path.join(tmp(), 'corpus.txt');
  writeFileSync(corpus, Array.from({ length: 200 }, () => Array.from({ length: 3 + rng.int(6) }, () => words[rng.int(words.length)]).join(' ')).join('\n') + '\n');
});

const small = (overrides: Partial<TextTrainConfig> = {}) =>
  defaultTextConfig({ epochs: 1, latent: 3, embedding: 8, hidden: 8, batchSize: 64, seed: 3, ...overrides, data: { ...defaultTextConfig().data, source: corpus, minCount: 1, maxLength: 8, evalLimit: 30 } });

for (const cell of ['gru', 'lstm'] as const) {
  test(`${cell}: the recurrent step's logits equal the decoder's at every position`, async () => {
    const { encoder, decoder } = buildTextVae(small({ cell }), { vocabSize: 20, seqLength: 6 });
    const tokens = [[BOS_ID, 5, 7, 9, 4, 11], [BOS_ID, 12, 6, 3, 8, 2]];
    const z = [Float32Array.from([0.3, -1, 2]), Float32Array.from([-0.5, 0.1, 0.7])];
    const full = tf.tidy(() => decoder.apply([tf.tensor2d(tokens.flat(), [2, 6], 'int32'), tf.tensor2d([...z[0]!, ...z[1]!], [2, 3])]) as tf.Tensor3D);
    const expected = full.arraySync();
    full.dispose();
    const step = tfRecurrentStep(decoder);
    let states: Array<{ z: Float32Array }> = z.map((zi) => ({ z: zi }));
    for (let t = 0; t < 6; t++) {
      const out = await step(tokens.map((r) => r[t]!), states);
      states = out.states;
      for (let i = 0; i < 2; i++) {
        const diff = Math.max(...Array.from(out.logits[i]!, (v, j) => Math.abs(v - expected[i]![t]![j]!)));
        assert.ok(diff < 1e-4, `row ${i}, position ${t}: max |diff| ${diff}`);
      }
    }
    encoder.dispose();
    decoder.dispose();
  });
}

test('prior samples do not depend on the batch they are drawn in', async () => {
  const { encoder, decoder } = buildTextVae(small(), { vocabSize: 20, seqLength: 9 });
  const z = priorDraws(7, 3, 1);
  const all = await sampleLatents(decoder, z, 7, { seed: 4 });
  assert.deepEqual(await sampleLatents(decoder, z, 7, { seed: 4, batch: 3 }), all);
  assert.ok(all.every((r) => r.length <= 9));
  encoder.dispose();
  decoder.dispose();
});

test('sample quality of a run: forward perplexity under the baseline, reverse perplexity, distinct-n and self-BLEU', async () => {
  const vae = tmp();
  const lm = tmp();
  await trainTextVae(small({ adversarial: defaultTextAdversarial({ criticHidden: 8 }) }), vae);
  await trainTextVae(small({ model: 'lm' }), lm);
  const tensors = tf.memory().numTensors;
  const q = await evaluateTextSampleQuality(vae, { baseline: lm, samples: 40, seed: 2, reverseEpochs: 1, selfBleuSamples: 10 });
  assert.equal(tf.memory().numTensors, tensors, 'no tensors leak');
  assert.equal(q.samples, 40);
  assert.equal(q.selfBleuSamples, 10);
  for (const v of [q.forwardPpl!, q.reversePpl]) assert.ok(v > 1 && v < 100, JSON.stringify(q));
  assert.ok(q.distinct1 > 0 && q.distinct1 <= 1 && q.distinct2 >= q.distinct1 * 0.5, JSON.stringify(q));
  assert.ok(q.selfBleu >= 0 && q.selfBleu <= 100);
  // The same seed gives the same report; the forward perplexity is the baseline's exact perplexity of the samples.
  const again = await evaluateTextSampleQuality(vae, { baseline: lm, samples: 40, seed: 2, reverseEpochs: 1, selfBleuSamples: 10 });
  assert.deepEqual(again, q);
  const { loadTextRun } = await import('../eval-text.js');
  const [v, b] = await Promise.all([loadTextRun(vae), loadTextRun(lm)]);
  try {
    const ids = await sampleLatents(v.models.decoder, priorDraws(40, 3, 2), 40, { seed: 2 });
    const text = ids.map((r) => v.tokenizer.decode(r));
    assert.deepEqual(q.examples, text.slice(0, 5));
    assert.equal(q.distinct2, distinctN(text, 2, { tokenize: 'none' }));
    const m = await evaluateText({ decoder: b.models.decoder }, { ids: ids.map((r) => Int32Array.from(r)), text }, { seqLength: 9, seed: 2 });
    assert.equal(q.forwardPpl, m.ppl);
  } finally {
    v.dispose();
    b.dispose();
  }
  await assert.rejects(evaluateTextSampleQuality(lm), /language-model baseline: sample-quality metrics need a sentence VAE run/);
  await assert.rejects(evaluateTextSampleQuality(vae, { baseline: vae }), /is not a language-model baseline run/);
});
