// The reference sentence VAE of the training benchmark (docs/text-model.md, GRU cell) and one Adam step
// of it on a fixed random batch: vocab 5000, emb 128, GRU 256, latent 32, length 25, batch 32.
import * as tf from '@tensorflow/tfjs';
import { sparseSoftmaxCrossEntropy } from '@vaekit/trainer';

/** The reference configuration. */
export const TEXT_CONFIG = { vocab: 5000, emb: 128, hidden: 256, latent: 32, length: 25, batch: 32 };

/** Deterministic batch: lengths 5..T (the last real token is <eos>=3), right-padded with 0; decoder input starts with <bos>=2. */
export function textBatch(c, seed = 1) {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
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

/** Encoder and decoder as in docs/text-model.md (GRU). */
export function buildReferenceTextVae(c) {
  const tokens = tf.input({ shape: [c.length], dtype: 'int32', name: 'tokens' });
  let h = tf.layers.embedding({ inputDim: c.vocab, outputDim: c.emb, maskZero: true, name: 'enc_embedding' }).apply(tokens);
  h = tf.layers.gru({ units: c.hidden, name: 'enc_rnn' }).apply(h);
  const mu = tf.layers.dense({ units: c.latent, name: 'mu' }).apply(h);
  const logvar = tf.layers.dense({ units: c.latent, name: 'logvar' }).apply(h);
  const encoder = tf.model({ inputs: tokens, outputs: [mu, logvar], name: 'encoder' });

  const tokensIn = tf.input({ shape: [c.length], dtype: 'int32', name: 'tokens_in' });
  const z = tf.input({ shape: [c.latent], name: 'z' });
  const h0 = tf.layers.dense({ units: c.hidden, activation: 'tanh', name: 'dec_init_h' }).apply(z);
  const x = tf.layers.embedding({ inputDim: c.vocab, outputDim: c.emb, name: 'dec_embedding' }).apply(tokensIn);
  const zs = tf.layers.repeatVector({ n: c.length, name: 'dec_repeat_z' }).apply(z);
  const xz = tf.layers.concatenate({ axis: -1, name: 'dec_concat' }).apply([x, zs]);
  const y = tf.layers.gru({ units: c.hidden, returnSequences: true, name: 'dec_rnn' }).apply(xz, { initialState: [h0] });
  const logits = tf.layers.dense({ units: c.vocab, name: 'logits' }).apply(y);
  const decoder = tf.model({ inputs: [tokensIn, z], outputs: logits, name: 'decoder' });
  return { encoder, decoder };
}

/** Mean over sentences of (masked token cross-entropy summed over positions + KL). */
export function textLoss(encoder, decoder, tokens, tokensIn, eps) {
  const [mu, logvar] = encoder.apply(tokens, { training: true });
  const z = mu.add(tf.exp(logvar.mul(0.5)).mul(eps));
  const logits = decoder.apply([tokensIn, z], { training: true });
  const [b, t, v] = logits.shape;
  const flat = logits.reshape([b * t, v]);
  const targets = tokens.reshape([b * t]);
  const nll = sparseSoftmaxCrossEntropy(flat, targets);
  const mask = tf.notEqual(targets, 0).toFloat();
  const recon = nll.mul(mask).reshape([b, t]).sum(1);
  const kl = tf.mul(-0.5, tf.sum(tf.add(1, logvar).sub(tf.square(mu)).sub(tf.exp(logvar)), 1));
  return tf.mean(recon.add(kl));
}

/** Returns an async function running one Adam step (lr 1e-3) and resolving to the loss. */
export function buildTextStep(c, build = buildReferenceTextVae) {
  const { encoder, decoder } = build(c);
  const optimizer = tf.train.adam(1e-3);
  const { tokens, tokensIn } = textBatch(c);
  const tok = tf.tensor2d(tokens, [c.batch, c.length], 'int32');
  const tokIn = tf.tensor2d(tokensIn, [c.batch, c.length], 'int32');
  const eps = tf.randomNormal([c.batch, c.latent], 0, 1, 'float32', 2);
  return async () => {
    const loss = optimizer.minimize(() => textLoss(encoder, decoder, tok, tokIn, eps), true);
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
}
