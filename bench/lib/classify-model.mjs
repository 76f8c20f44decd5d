// The training benchmark's semi-supervised classifier: vaekit's own M2 with the GRU encoder
// (buildClassifier, docs/classifier.md) and the classifier kind's own step loss (m2Batch + m2Loss: the
// unlabelled term sum_y q(y|x) L(x,y) - H(q(y|x)) over every (text, class) pair, the labelled L(x,y) +
// alpha * cross-entropy, L2 on the classifier), one Adam step on a fixed random batch, at the default
// `vaekit train classify --model m2 --encoder gru` sizes on IMDB: vocabulary 10,000, emb 64, GRU 256,
// latent 32, 2 classes, 100 tokens + <eos>, 64 unlabelled + 64 labelled texts (alpha = 0.1 x 100 labels).
import * as tf from '@tensorflow/tfjs';
import { defaultClassifierConfig } from '@vaekit/core';
import { buildClassifier, m2Batch, m2Loss, sentenceGenerative, textBatchTensors } from '@vaekit/trainer/internal';

/** The reference configuration (bench/peers/train_torch.py has the same). */
export const CLASSIFY_CONFIG = { vocab: 10000, emb: 64, hidden: 256, latent: 32, classes: 2, maxLength: 100, batch: 64, labels: 100 };

/**
 * Deterministic texts: min(100, 20 + U[0, 900)) word ids from 4 up, so about 91% are cut at 100 tokens,
 * as IMDB reviews are (90.9% of them reach 100 tokens with vaekit's tokenizer); half unlabelled, half
 * labelled with alternating classes.
 */
export function classifyBatch(c, seed = 1) {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const text = () => Int32Array.from({ length: Math.min(c.maxLength, 20 + Math.floor(rand() * 900)) }, () => 4 + Math.floor(rand() * (c.vocab - 4)));
  const unlabeled = Array.from({ length: c.batch }, text);
  const labeled = Array.from({ length: c.batch }, text);
  return { unlabeled, labeled, labels: labeled.map((_, i) => i % c.classes) };
}

/** Trainable parameters of the network (PyTorch's twin reports its own). */
export function classifyParameters(views) {
  return views.net.trainableWeights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
}

/** Returns an async function running one Adam step (lr 1e-3) and resolving to the loss, and the network. */
export function buildClassifyStep(c) {
  const config = defaultClassifierConfig({ model: 'm2', encoder: 'gru', embedding: c.emb, hidden: c.hidden, latent: c.latent, batchSize: c.batch });
  const T = c.maxLength + 1;
  const views = buildClassifier(config, { vocabSize: c.vocab, classes: c.classes, seqLength: T });
  const optimizer = tf.train.adam(1e-3);
  const { unlabeled, labeled, labels } = classifyBatch(c);
  const u = textBatchTensors(unlabeled, T);
  const l = textBatchTensors(labeled, T);
  const epsU = tf.randomNormal([c.batch, c.latent], 0, 1, 'float32', 2);
  const epsL = tf.randomNormal([c.batch, c.latent], 0, 1, 'float32', 3);
  const batch = m2Batch(sentenceGenerative(u), sentenceGenerative(l), labels, c.classes, epsU, epsL);
  const options = { encoder: 'gru', klWeight: 1, freeBits: 0, alpha: 0.1 * c.labels, l2: config.l2, classWeights: new Array(c.classes).fill(1), focalGamma: 0 };
  const step = async () => {
    const loss = optimizer.minimize(() => m2Loss(views, batch, options).loss, true);
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
  step.parameters = classifyParameters(views);
  return step;
}
