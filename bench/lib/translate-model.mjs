// The training benchmark's translator: vaekit's own attention baseline (buildSeq2Seq, docs/seq2seq-model.md:
// bidirectional GRU encoder, GRU decoder, additive attention, --latent 0) and the translate kind's own loss
// (seq2seqTerms + seq2seqLoss: token cross-entropy summed per sentence, batch mean), one Adam step on a
// fixed random batch, at the default sizes and the Tatoeba 12-token setting's vocabularies:
// source 8,221 and target 5,256 words (the full training split, min count 2), emb 128, GRU 256, length 13, batch 64.
import * as tf from '@tensorflow/tfjs';
import { defaultTranslateConfig } from '@vaekit/core';
import { buildSeq2Seq } from '@vaekit/trainer';
import { drawNoise, pairTensors, seq2seqLoss, seq2seqTerms } from '@vaekit/trainer/internal';

/** The reference configuration (bench/peers/train_torch.py has the same). */
export const TRANSLATE_CONFIG = { srcVocab: 8221, tgtVocab: 5256, emb: 128, hidden: 256, length: 13, batch: 64 };

/** Deterministic batch: 3..11 words a side (the Tatoeba setting's spread), ids from 4 up (0..3 are special). */
export function translateBatch(c, seed = 1) {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const side = (vocab) => Int32Array.from({ length: 3 + Math.floor(rand() * 9) }, () => 4 + Math.floor(rand() * (vocab - 4)));
  const source = [];
  const target = [];
  for (let i = 0; i < c.batch; i++) {
    source.push(side(c.srcVocab));
    target.push(side(c.tgtVocab));
  }
  return { source, target };
}

/** Returns an async function running one Adam step (lr 1e-3) and resolving to the loss. */
export function buildTranslateStep(c) {
  const config = defaultTranslateConfig({ embedding: c.emb, hidden: c.hidden, batchSize: c.batch });
  const models = buildSeq2Seq(config, { sourceVocab: c.srcVocab, targetVocab: c.tgtVocab, seqLength: c.length });
  const optimizer = tf.train.adam(1e-3);
  const { source, target } = translateBatch(c);
  const batch = pairTensors(source, target, c.length);
  const noise = drawNoise(models, c.batch, 2);
  return async () => {
    const loss = optimizer.minimize(() => seq2seqLoss(seq2seqTerms(models, batch, noise, true), 1, 0, 1), true);
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
}

