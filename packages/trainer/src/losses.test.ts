import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createRng } from '@vaekit/core';
import { bernoulliNll, gaussianKl, reparameterize, vaeLoss } from './losses.js';

before(async () => {
  await tf.setBackend('cpu');
});

test('closed-form KL(q||p) matches a Monte Carlo estimate', () => {
  const mu = [
    [0.5, -1.2, 0.0, 2.0],
    [0.0, 0.0, 0.0, 0.0],
  ];
  const logvar = [
    [-0.7, 0.3, -2.0, 0.1],
    [0.0, 0.0, 0.0, 0.0],
  ];
  const closed = gaussianKl(tf.tensor2d(mu), tf.tensor2d(logvar)).arraySync();
  const rng = createRng(7);
  const samples = 200_000;
  mu.forEach((m, row) => {
    // KL = E_q[log q(z) - log p(z)], estimated with samples from q.
    let sum = 0;
    for (let s = 0; s < samples; s++) {
      let logq = 0;
      let logp = 0;
      m.forEach((mean, d) => {
        const sd = Math.exp(logvar[row]![d]! / 2);
        const eps = rng.normal();
        const z = mean + sd * eps;
        logq += -0.5 * eps * eps - Math.log(sd);
        logp += -0.5 * z * z;
      });
      sum += logq - logp;
    }
    const mc = sum / samples;
    const expected = closed[row]!;
    assert.ok(Math.abs(mc - expected) < 0.02 + 0.01 * expected, `row ${row}: MC ${mc} vs closed form ${expected}`);
  });
  assert.ok(Math.abs(closed[1]!) < 1e-7, 'KL of the prior with itself is 0');
});

test('bernoulliNll equals the naive binary cross-entropy and stays finite for large logits', () => {
  const logits = tf.tensor2d([[-3, 0, 2.5, 0.7]]);
  const x = tf.tensor2d([[0, 0.3, 1, 0.9]]);
  const got = bernoulliNll(logits, x).arraySync()[0]!;
  const l = [-3, 0, 2.5, 0.7];
  const t = [0, 0.3, 1, 0.9];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const naive = l.reduce((s, v, i) => s - (t[i]! * Math.log(sig(v)) + (1 - t[i]!) * Math.log(1 - sig(v))), 0);
  assert.ok(Math.abs(got - naive) < 1e-5, `${got} vs ${naive}`);
  const extreme = bernoulliNll(tf.tensor2d([[500, -500]]), tf.tensor2d([[0, 1]])).arraySync()[0]!;
  assert.ok(Math.abs(extreme - 1000) < 1e-3, `large logits give ${extreme}`);
});

test('reparameterize is mu + exp(logvar/2) * eps and the loss weights KL by beta', () => {
  const z = reparameterize(tf.tensor2d([[1, -1]]), tf.tensor2d([[Math.log(4), 0]]), tf.tensor2d([[0.5, 2]])).arraySync()[0]!;
  assert.deepEqual(
    z.map((v) => Math.round(v * 1e5) / 1e5),
    [2, 1],
  );
  const terms = { reconstruction: tf.tensor1d([10, 20]), kl: tf.tensor1d([1, 3]) };
  assert.equal(vaeLoss(terms, 1).arraySync(), 17);
  assert.equal(vaeLoss(terms, 0.5).arraySync(), 16);
});

test('gaussianKlBetween: closed form equals a Monte Carlo estimate, and gaussianKlPerDim for N(0, I)', async () => {
  const { gaussianKlBetween, gaussianKlPerDim } = await import('./losses.js');
  const [muQ, lvQ, muP, lvP] = [0.7, -0.4, -0.3, 0.5];
  const kl = gaussianKlBetween(tf.scalar(muQ), tf.scalar(lvQ), tf.scalar(muP), tf.scalar(lvP)).dataSync()[0]!;
  // E_q[log q(z) - log p(z)] with 200,000 draws from q (seeded).
  const n = 200_000;
  const z = tf.randomNormal([n], muQ, Math.exp(lvQ / 2), 'float32', 11);
  const logN = (x: tf.Tensor, mu: number, lv: number) => tf.mul(-0.5, tf.add(lv + Math.log(2 * Math.PI), tf.div(tf.square(tf.sub(x, mu)), Math.exp(lv))));
  const mc = tf.mean(tf.sub(logN(z, muQ, lvQ), logN(z, muP, lvP))).dataSync()[0]!;
  assert.ok(Math.abs(kl - mc) < 0.01, `closed form ${kl} vs Monte Carlo ${mc}`);
  const mu = tf.tensor2d([[0.3, -1.2]]);
  const lv = tf.tensor2d([[0.1, -0.7]]);
  const a = gaussianKlBetween(mu, lv, tf.zerosLike(mu), tf.zerosLike(lv)).dataSync();
  const b = gaussianKlPerDim(mu, lv).dataSync();
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) < 1e-6));
});
