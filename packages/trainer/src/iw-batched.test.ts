/**
 * The batched importance-weighted bound (rows of several sentences per pass, each pass cut to its
 * longest sentence) gives the estimate of the plain one (one sentence per pass over the full padded
 * length), whatever the pass size, both with the native output-layer kernel (kernels/logits-nll.ts) and
 * with the tfjs logits; and the decoder's prefix logits equal the full decoder's.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createRng, defaultTextConfig, type TextCell } from '@vaekit/core';
import { initBackend } from './backend.js';
import { nativeLogitsNllAvailable, nativeLogitsNllCallCount, setNativeLogitsNllEnabled } from './kernels/logits-nll.js';
import { nativeGruInferenceCallCount } from './kernels/native-rnn.js';
import { tokenCrossEntropy } from './losses.js';
import { logImportanceWeight, logMeanExp } from './metrics.js';
import { buildTextVae } from './models/text.js';
import { decoderLogitsPrefix, evaluateText, textBatchTensors, type TextModels } from './text-vae.js';

before(async () => {
  await initBackend('wasm');
});

const T = 9;
const V = 30;
function models(cell: TextCell) {
  const config = defaultTextConfig({ cell, embedding: 6, hidden: 8, latent: 3, seed: 5 });
  return buildTextVae(config, { vocabSize: V, seqLength: T });
}
const rng = createRng(3);
const set = {
  ids: Array.from({ length: 11 }, (_, i) => Int32Array.from({ length: 1 + ((i * 5) % (T - 1)) }, () => 4 + rng.int(V - 4))),
  text: Array.from({ length: 11 }, (_, i) => `s${i}`),
};

/** The estimator as it was before batching: per sentence, chunks of its samples over the full length T. */
async function reference(m: Required<TextModels>, k: number, seed: number): Promise<number> {
  const latent = 3;
  const batch = textBatchTensors(set.ids, T);
  const [muT, lvT] = m.encoder.apply(batch.target) as tf.Tensor2D[];
  const mus = (await muT!.data()) as Float32Array;
  const logvars = (await lvT!.data()) as Float32Array;
  tf.dispose([muT!, lvT!, batch.target, batch.decoderInput, batch.mask]);
  const draw = createRng(seed * 104729 + 13);
  let total = 0;
  for (let i = 0; i < set.ids.length; i++) {
    const z = new Float32Array(k * latent);
    for (let s = 0; s < k; s++) for (let d = 0; d < latent; d++) z[s * latent + d] = mus[i * latent + d]! + Math.exp(0.5 * logvars[i * latent + d]!) * draw.normal();
    const b = textBatchTensors(Array.from({ length: k }, () => set.ids[i]!), T);
    const nllT = tf.tidy(() => tokenCrossEntropy(m.decoder.apply([b.decoderInput, tf.tensor2d(z, [k, latent])]) as tf.Tensor3D, b.target, b.mask));
    const nll = await nllT.data();
    tf.dispose([nllT, b.target, b.decoderInput, b.mask]);
    const w = Array.from({ length: k }, (_, s) => logImportanceWeight(-nll[s]!, z, s * latent, mus, logvars, i * latent, latent));
    total -= logMeanExp(w);
  }
  return total / set.ids.length;
}

for (const cell of ['gru', 'lstm'] as const) {
  test(`batched IW-NLL equals the per-sentence estimator (${cell})`, async () => {
    const m = models(cell);
    const expected = await reference(m as Required<TextModels>, 7, 2);
    const native = nativeLogitsNllAvailable();
    for (const fast of native ? [true, false] : [false]) {
      setNativeLogitsNllEnabled(fast);
      try {
        for (const positions of [1, 20, 50, 4096, undefined]) {
          const calls = nativeLogitsNllCallCount();
          const gruCalls = nativeGruInferenceCallCount();
          const got = await evaluateText(m, set, { seqLength: T, k: 7, seed: 2, ...(positions ? { iwPositionsPerPass: positions } : {}) });
          assert.ok(Math.abs(got.iwNll! - expected) < 1e-5 * Math.abs(expected), `native ${fast}, positions ${positions}: ${got.iwNll} vs ${expected}`);
          assert.equal(nativeLogitsNllCallCount() > calls, fast, `native kernel ran: ${nativeLogitsNllCallCount() > calls}`);
          assert.equal(nativeGruInferenceCallCount() > gruCalls, fast && cell === 'gru', 'the forward-only GRU runs with the native output layer, for GRU decoders');
        }
      } finally {
        setNativeLogitsNllEnabled(true);
      }
    }
    m.encoder.dispose();
    m.decoder.dispose();
  });

  test(`decoderLogitsPrefix equals the first positions of the full decoder (${cell})`, () => {
    const m = models(cell);
    const tokens = tf.tensor2d(Int32Array.from({ length: 2 * T }, (_, i) => 1 + (i % (V - 1))), [2, T], 'int32');
    const z = tf.randomNormal([2, 3], 0, 1, 'float32', 1) as tf.Tensor2D;
    const full = m.decoder.apply([tokens, z]) as tf.Tensor3D;
    const prefix = decoderLogitsPrefix(m.decoder, tokens.slice([0, 0], [2, 4]), z);
    const diff = tf.max(tf.abs(tf.sub(full.slice([0, 0, 0], [2, 4, V]), prefix))).dataSync()[0]!;
    assert.ok(diff < 1e-5, `max difference ${diff}`);
    tf.dispose([tokens, z, full, prefix]);
    m.encoder.dispose();
    m.decoder.dispose();
  });
}
