// The translator's loss on vaekit's native kernels (fused additive attention scores, fused logits +
// cross-entropy over the real target positions, through the decoder's trunk) against the same models on
// tfjs' own ops, loss terms and every gradient; and tfjs decoding's batched beam search against one
// search per source.
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { defaultTranslateConfig } from '@vaekit/core';
import { initBackend } from './backend.js';
import { nativeAttentionCallCount, setNativeAttentionEnabled } from './kernels/attention-scores.js';
import { nativeLogitsXentCallCount, setNativeLogitsXentEnabled } from './kernels/logits-xent.js';
import { buildSeq2Seq } from './models/seq2seq.js';
import { disposeNoise, disposePair, drawNoise, pairTensors, seq2seqLoss, seq2seqTerms, translateIds } from './seq2seq.js';

let native = false;
before(async () => {
  const info = await initBackend('wasm');
  native = info.native !== undefined;
  if (process.env.CI) assert.ok(native, `native kernels expected under CI: ${info.note}`);
});

const T = 7;
const shape = { sourceVocab: 23, targetVocab: 19, seqLength: T };
const source = [Int32Array.of(5, 6, 7), Int32Array.of(8, 9, 10, 11, 12, 13), Int32Array.of(4)];
const target = [Int32Array.of(5, 6), Int32Array.of(7, 8, 9, 10, 11), Int32Array.of(12, 13, 14)];

for (const variant of [{ latent: 0, attention: 'deterministic' }, { latent: 3, attention: 'variational' }] as const) {
  test(`native translator step equals tfjs ops (latent ${variant.latent}, ${variant.attention} attention): loss terms and gradients`, async (t) => {
    if (!native) return t.skip('native kernels not built');
    const models = buildSeq2Seq(defaultTranslateConfig({ embedding: 6, hidden: 5, ...variant }), shape);
    const vars = [...models.encoder.trainableWeights, ...models.decoder.trainableWeights].map((w) => w.read() as tf.Variable);
    const batch = pairTensors(source, target, T);
    const noise = drawNoise(models, source.length, 3);
    const run = () => {
      const { value, grads } = tf.variableGrads(() => {
        const terms = seq2seqTerms(models, batch, noise, true);
        return seq2seqLoss(terms, 1, 0, 1);
      }, vars);
      const recon = tf.tidy(() => seq2seqTerms(models, batch, noise).reconstruction);
      const out = [recon, value, ...vars.map((v) => grads[v.name]!)].map((x) => x.dataSync() as Float32Array);
      tf.dispose([recon, value, ...Object.values(grads)]);
      return out;
    };
    try {
      const [att, xent] = [nativeAttentionCallCount(), nativeLogitsXentCallCount()];
      const fused = run();
      assert.ok(nativeAttentionCallCount() > att && nativeLogitsXentCallCount() > xent, 'the fused ops did not run');
      setNativeAttentionEnabled(false);
      setNativeLogitsXentEnabled(false);
      const plain = run();
      plain.forEach((p, i) => {
        let err = 0;
        let scale = 1;
        p.forEach((x, j) => {
          err = Math.max(err, Math.abs(x - fused[i]![j]!));
          scale = Math.max(scale, Math.abs(x));
        });
        assert.ok(err / scale < 1e-4, `result ${i}: relative error ${err / scale}`);
      });
    } finally {
      setNativeAttentionEnabled(true);
      setNativeLogitsXentEnabled(true);
      disposePair(batch);
      disposeNoise(noise);
      models.encoder.dispose();
      models.decoder.dispose();
    }
  });
}

test('tfjs beam search decodes every source at once as it decodes each alone', async () => {
  const models = buildSeq2Seq(defaultTranslateConfig({ embedding: 6, hidden: 5 }), shape);
  try {
    const together = await translateIds(models, source, { strategy: 'beam', beamWidth: 3 });
    const alone = [];
    for (const s of source) alone.push(...(await translateIds(models, [s], { strategy: 'beam', beamWidth: 3 })));
    assert.deepEqual(together.map((s) => s.tokens), alone.map((s) => s.tokens));
    together.forEach((s, i) => assert.ok(Math.abs(s.logprob - alone[i]!.logprob) < 1e-4));
  } finally {
    models.encoder.dispose();
    models.decoder.dispose();
  }
});
