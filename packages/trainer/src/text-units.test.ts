/** Unit tests of the sentence VAE's pieces: annealing, word dropout, the loss terms, MI and AU, corpora. */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { createRng } from '@vaekit/core';
import { BOS_ID, EOS_ID, PAD_ID, UNK_ID } from '@vaekit/core';
import { defaultTextConfig, type AnnealConfig } from '@vaekit/core';
import { makeBatch, prepareCorpus, readSentenceFile, splitSentences } from './data/text.js';
import { DataError } from './errors.js';
import { freeBitsKl, gaussianKlPerDim, tokenCrossEntropy } from './losses.js';
import { activeUnits, logMeanExp, mutualInformation } from './metrics.js';
import { klWeight } from './schedules.js';

before(async () => {
  await tf.setBackend('cpu');
});

const anneal = (over: Partial<AnnealConfig>): AnnealConfig => ({ ...defaultTextConfig().anneal, ...over });

describe('KL annealing schedules', () => {
  test('none is always 1; linear rises to 1 over `steps` then stays', () => {
    assert.equal(klWeight(anneal({ schedule: 'none' }), 0, 100), 1);
    const lin = anneal({ schedule: 'linear', steps: 100 });
    assert.deepEqual([0, 25, 50, 100, 1000].map((s) => klWeight(lin, s, 2000)), [0, 0.25, 0.5, 1, 1]);
    assert.equal(klWeight(anneal({ schedule: 'linear', steps: 0 }), 0, 10), 1);
  });
  test('logistic is 0.5 at x0 and symmetric around it', () => {
    const log = anneal({ schedule: 'logistic', k: 0.01, x0: 500 });
    assert.equal(klWeight(log, 500, 0), 0.5);
    assert.ok(Math.abs(klWeight(log, 400, 0) + klWeight(log, 600, 0) - 1) < 1e-12);
    assert.ok(Math.abs(klWeight(log, 400, 0) - 1 / (1 + Math.exp(1))) < 1e-12);
    assert.ok(klWeight(log, 0, 0) < 0.01 && klWeight(log, 2000, 0) > 0.99);
  });
  test('cyclical restarts each cycle and rises over the first `ratio` of it', () => {
    const cyc = anneal({ schedule: 'cyclical', cycles: 4, ratio: 0.5 });
    // 400 steps, 4 cycles of 100: 0 at the start of each, 0.5 a quarter in, 1 from halfway.
    assert.deepEqual([0, 25, 50, 99, 100, 125, 150, 300, 399].map((s) => klWeight(cyc, s, 400)), [0, 0.5, 1, 1, 0, 0.5, 1, 0, 1]);
  });
});

describe('batches and word dropout', () => {
  const rows = [Int32Array.from([10, 11, 12]), Int32Array.from([20])];
  test('targets end in <eos>, decoder inputs start with <bos>, the rest is <pad>', () => {
    const b = makeBatch(rows, 5);
    assert.deepEqual([...b.target], [10, 11, 12, EOS_ID, PAD_ID, 20, EOS_ID, PAD_ID, PAD_ID, PAD_ID]);
    assert.deepEqual([...b.decoderInput], [BOS_ID, 10, 11, 12, PAD_ID, BOS_ID, 20, PAD_ID, PAD_ID, PAD_ID]);
    assert.deepEqual([...b.lengths], [4, 2]);
  });
  test('replaces words (never <bos> or padding) by <unk> at the requested rate', () => {
    const long = Array.from({ length: 200 }, (_, i) => Int32Array.from({ length: 50 }, (_, t) => 4 + ((i + t) % 90)));
    const rng = createRng(3);
    const b = makeBatch(long, 52, 0.3, rng.uniform);
    let words = 0;
    let dropped = 0;
    for (let i = 0; i < 200; i++) {
      assert.equal(b.decoderInput[i * 52], BOS_ID);
      assert.equal(b.decoderInput[i * 52 + 51], PAD_ID);
      for (let t = 1; t <= 50; t++) {
        words++;
        if (b.decoderInput[i * 52 + t] === UNK_ID) dropped++;
      }
    }
    const rate = dropped / words;
    // 10,000 Bernoulli(0.3) draws: standard deviation 0.0046; 4 sigma.
    assert.ok(Math.abs(rate - 0.3) < 0.02, `dropout rate ${rate}`);
    // The targets are never dropped.
    assert.ok(![...b.target].includes(UNK_ID));
    assert.ok(![...makeBatch(long, 52, 0).decoderInput].includes(UNK_ID));
  });
});

describe('loss terms', () => {
  test('token cross-entropy equals the naive -log softmax over real positions only', () => {
    const rng = createRng(1);
    const [B, T, V] = [2, 3, 5];
    const logits = Array.from({ length: B * T * V }, () => rng.normal() * 2);
    const target = [1, 2, 3, 4, 0, 0];
    const mask = [1, 1, 1, 1, 0, 0];
    const got = tokenCrossEntropy(tf.tensor3d(logits, [B, T, V]), tf.tensor2d(target, [B, T], 'int32'), tf.tensor2d(mask, [B, T])).arraySync();
    const expected = [0, 0];
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        if (!mask[b * T + t]) continue;
        const row = logits.slice((b * T + t) * V, (b * T + t + 1) * V);
        const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
        expected[b]! += lse - row[target[b * T + t]!]!;
      }
    }
    got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-4, `${v} vs ${expected[i]}`));
  });

  test('free bits: dimensions under the floor get no gradient, the others the plain KL gradient', () => {
    // Dimension 0 has a large KL (mu 2), dimension 1 a tiny one (mu 0.1); floor 0.5 nats.
    const mu = tf.variable(tf.tensor2d([[2, 0.1], [2, 0.1]]));
    const logvar = tf.variable(tf.zeros([2, 2]));
    const grads = (lambda: number) =>
      tf.variableGrads(() => freeBitsKl(gaussianKlPerDim(mu as unknown as tf.Tensor2D, logvar as unknown as tf.Tensor2D), lambda), [mu, logvar]).grads;
    const floored = grads(0.5);
    const plain = grads(0);
    const gMu = floored[mu.name]!.arraySync() as number[][];
    assert.equal(gMu[0]![1], 0);
    assert.equal(gMu[1]![1], 0);
    // d/dmu of mean_b 0.5 mu^2 = mu / B.
    assert.ok(Math.abs(gMu[0]![0]! - 1) < 1e-6);
    assert.deepEqual(gMu.map((r) => r[0]), (plain[mu.name]!.arraySync() as number[][]).map((r) => r[0]));
    assert.ok(Math.abs((plain[mu.name]!.arraySync() as number[][])[0]![1]! - 0.05) < 1e-6);
    // The value counts the floor for the small dimension: 2 + 0.5.
    assert.ok(Math.abs(freeBitsKl(gaussianKlPerDim(mu as unknown as tf.Tensor2D, logvar as unknown as tf.Tensor2D), 0.5).arraySync() - 2.5) < 1e-6);
  });
});

describe('latent metrics', () => {
  test('active units count dimensions whose posterior mean varies by >= 0.01', () => {
    const rng = createRng(5);
    const n = 400;
    const mu = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) {
      mu[i * 3] = rng.normal(); // variance ~1: active
      mu[i * 3 + 1] = 0.5; // constant: inactive
      mu[i * 3 + 2] = rng.normal() * 0.03; // variance ~0.0009: inactive
    }
    const { active, variances } = activeUnits(mu, n, 3);
    assert.equal(active, 1);
    assert.ok(Math.abs(variances[0]! - 1) < 0.2 && variances[1]! < 1e-20 && variances[2]! < 0.002, `variances ${variances}`);
  });

  test('mutual information is ~0 when every posterior is the same, ~log N for distinct point masses', () => {
    const n = 200;
    const Z = 2;
    const rng = createRng(9);
    const same = { mu: new Float64Array(n * Z).fill(0.3), logvar: new Float64Array(n * Z).fill(-1) };
    const sample = (mu: ArrayLike<number>, logvar: ArrayLike<number>) =>
      Float64Array.from({ length: n * Z }, (_, i) => mu[i]! + Math.exp(0.5 * logvar[i]!) * rng.normal());
    // The first term is exact, the second a Monte Carlo mean over n samples (sd ~ sqrt(Z/2)/sqrt(n) = 0.07).
    const miSame = mutualInformation(same.mu, same.logvar, sample(same.mu, same.logvar), n, Z);
    assert.ok(Math.abs(miSame) < 0.25, `MI of identical posteriors ${miSame}`);
    const distinct = { mu: Float64Array.from({ length: n * Z }, (_, i) => (i % Z === 0 ? Math.floor(i / Z) * 10 : 0)), logvar: new Float64Array(n * Z).fill(-8) };
    const miDistinct = mutualInformation(distinct.mu, distinct.logvar, sample(distinct.mu, distinct.logvar), n, Z);
    assert.ok(Math.abs(miDistinct - Math.log(n)) < 0.25, `MI ${miDistinct} vs log N ${Math.log(n)}`);
  });

  test('logMeanExp is stable for large magnitudes', () => {
    assert.ok(Math.abs(logMeanExp([-1000, -1000]) + 1000) < 1e-12);
    assert.ok(Math.abs(logMeanExp([0, Math.log(3)]) - Math.log(2)) < 1e-12);
  });
});

describe('corpora', () => {
  test('sentence splitting keeps abbreviations-free sentences apart', () => {
    assert.deepEqual(splitSentences('We met.  Then we   left!\nWhy? Because.'), ['We met.', 'Then we left!', 'Why?', 'Because.']);
  });

  test('the split is seeded, the vocabulary comes from training sentences, long ones are dropped or cut', () => {
    const raw = [...Array.from({ length: 90 }, (_, i) => `sentence number ${i} is short`), 'this one is far too long to keep here', '   ', '!!!'];
    const data = { ...defaultTextConfig().data, maxLength: 5, minCount: 1, validFraction: 0.1, testFraction: 0.1 };
    const a = prepareCorpus(raw, data, 1);
    assert.equal(a.stats.overLength, 1);
    assert.equal(a.stats.empty, 1); // '   ' has no word; '!!!' is one punctuation piece
    assert.equal(a.stats.train + a.stats.valid + a.stats.test, 91);
    assert.deepEqual(prepareCorpus(raw, data, 1).train.text, a.train.text);
    assert.notDeepEqual(prepareCorpus(raw, data, 2).train.text, a.train.text);
    const cut = prepareCorpus(raw, { ...data, overLength: 'cut' }, 1);
    assert.equal(cut.stats.train + cut.stats.valid + cut.stats.test, 92);
    assert.ok(cut.train.ids.every((r) => r.length <= 5));
    // A word seen only in held-out sentences is <unk>.
    const heldOutOnly = a.test.text.map((t) => t.split(' ')[2]!).filter((w) => !a.train.text.some((t) => t.split(' ').includes(w)));
    for (const w of heldOutOnly) assert.equal(a.tokenizer.tokenToId(w), UNK_ID);
    assert.throws(() => prepareCorpus(['one line'], data, 1), DataError);
  });

  test('sentence files: missing, folders, binary and blank files are refused naming the problem', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vaekit-text-'));
    const write = (name: string, data: string | Uint8Array) => {
      writeFileSync(path.join(dir, name), data);
      return path.join(dir, name);
    };
    mkdirSync(path.join(dir, 'folder'));
    await assert.rejects(readSentenceFile(path.join(dir, 'nope.txt')), /not found/);
    await assert.rejects(readSentenceFile(path.join(dir, 'folder')), /is a folder/);
    await assert.rejects(readSentenceFile(write('bin.txt', Uint8Array.from([0xff, 0xfe, 0x00, 0x81]))), /not UTF-8/);
    await assert.rejects(readSentenceFile(write('nul.txt', 'a\u0000b\n')), /NUL/);
    await assert.rejects(readSentenceFile(write('blank.txt', '\n  \n')), /no sentences/);
    assert.deepEqual(await readSentenceFile(write('ok.txt', 'one\r\n\r\ntwo words\n')), ['one', 'two words']);
  });
});
