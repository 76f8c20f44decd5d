// The training benchmark's sentence VAE: vaekit's own text model (buildTextVae, docs/text-model.md, GRU)
// and the text kind's own loss (textTerms + textLoss: token cross-entropy + closed-form KL), one Adam step
// on a fixed random batch, at the reference size: vocab 5000, emb 128, GRU 256, latent 32, length 25, batch 32.
import * as tf from '@tensorflow/tfjs';
import { buildTextVae, defaultTextConfig } from '@vaekit/trainer';
import { textLoss as trainerTextLoss, textTerms } from '@vaekit/trainer/internal';

/** The reference configuration. */
export const TEXT_CONFIG = { vocab: 5000, emb: 128, hidden: 256, latent: 32, length: 25, batch: 32 };

/** Deterministic batch: lengths 5..T (the last real token is <eos>=3), right-padded with 0; decoder input starts with <bos>=2. */
export function textBatch(c, seed = 1) {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const tokens = new Int32Array(c.batch * c.length);
  const tokensIn = new Int32Array(c.batch * c.length);
  for (let i = 0; i < c.batch; i++) {
    const n = 5 + Math.floor(rand() * (c.length - 4));
    for (let t = 0; t < n; t++) tokens[i * c.length + t] = t === n - 1 ? 3 : 4 + Math.floor(rand() * (c.vocab - 4));
    tokensIn[i * c.length] = 2;
    for (let t = 1; t < n; t++) tokensIn[i * c.length + t] = tokens[i * c.length + t - 1];
  }
  return { tokens, tokensIn };
}

/** Mean over sentences of (token cross-entropy summed over real positions + KL), the text kind's loss (KL weight 1, no free bits). */
export function textLoss(encoder, decoder, tokens, tokensIn, mask, eps) {
  const terms = textTerms({ encoder, decoder }, { target: tokens, decoderInput: tokensIn, mask }, eps, true);
  return trainerTextLoss(terms, 1, 0);
}

/** Returns an async function running one Adam step (lr 1e-3) and resolving to the loss. */
export function buildTextStep(c) {
  const config = defaultTextConfig({ cell: 'gru', embedding: c.emb, hidden: c.hidden, latent: c.latent, batchSize: c.batch });
  const { encoder, decoder } = buildTextVae(config, { vocabSize: c.vocab, seqLength: c.length });
  const optimizer = tf.train.adam(1e-3);
  const { tokens, tokensIn } = textBatch(c);
  const tok = tf.tensor2d(tokens, [c.batch, c.length], 'int32');
  const tokIn = tf.tensor2d(tokensIn, [c.batch, c.length], 'int32');
  const mask = tf.notEqual(tok, 0).toFloat();
  const eps = tf.randomNormal([c.batch, c.latent], 0, 1, 'float32', 2);
  return async () => {
    const loss = optimizer.minimize(() => textLoss(encoder, decoder, tok, tokIn, mask, eps), true);
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
}
