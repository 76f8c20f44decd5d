#!/usr/bin/env node
// Inference latency of the sentence VAE's text bundle graphs, vaekit's exporter against PyTorch's:
// the same architecture (LSTM cell with sigmoid gates, so torch's nn.LSTM is an exact peer) is exported
// by vaekit (tfjs -> ONNX) and by torch.onnx.export (bench/peers/torch_text_vae.py, Debian python3-torch)
// with the weights copied, outputs checked equal, then both files run by the same onnxruntime-node in
// this process, interleaved, at batch 1 and 64. Prints a table and JSON and writes
// bench/results/inference.json. Run after `npm run build`: `npm run bench -- text-inference`.
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportBundle } from '@vaekit/exporter';
import { WordTokenizer } from '@vaekit/core';
import { initBackend } from '@vaekit/trainer';

const here = path.dirname(new URL(import.meta.url).pathname);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 200);
const S = { vocab: 2000, embedding: 64, hidden: 256, latent: 32, steps: 21, opset: 17 };

await initBackend('auto');
const loadBefore = os.loadavg()[0];

// The training graphs of docs/text-model.md (LSTM, sigmoid recurrent activation).
let seed = 1;
const init = () => ({ kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed++ }) });
const rnn = (name, returnSequences) =>
  tf.layers.lstm({ units: S.hidden, returnSequences, name, recurrentActivation: 'sigmoid', ...init(), recurrentInitializer: tf.initializers.orthogonal({ seed: seed++ }) });
const emb = (name, maskZero) => tf.layers.embedding({ inputDim: S.vocab, outputDim: S.embedding, maskZero, name, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed++ }) });
const tokens = tf.input({ shape: [S.steps], dtype: 'int32', name: 'tokens' });
const summary = rnn('enc_rnn', false).apply(emb('enc_embedding', true).apply(tokens));
const encoder = tf.model({
  inputs: tokens,
  outputs: [tf.layers.dense({ units: S.latent, name: 'mu', ...init() }).apply(summary), tf.layers.dense({ units: S.latent, name: 'logvar', ...init() }).apply(summary)],
});
const tokensIn = tf.input({ shape: [S.steps], dtype: 'int32', name: 'tokens_in' });
const z = tf.input({ shape: [S.latent], name: 'z' });
const state = (name) => tf.layers.dense({ units: S.hidden, activation: 'tanh', name, ...init() }).apply(z);
const xz = tf.layers.concatenate({ axis: -1, name: 'dec_concat' }).apply([emb('dec_embedding', false).apply(tokensIn), tf.layers.repeatVector({ n: S.steps, name: 'dec_repeat_z' }).apply(z)]);
const warn = console.warn;
console.warn = () => {};
const y = rnn('dec_rnn', true).apply(xz, { initialState: [state('dec_init_h'), state('dec_init_c')] });
console.warn = warn;
const decoder = tf.model({ inputs: [tokensIn, z], outputs: tf.layers.dense({ units: S.vocab, name: 'logits', ...init() }).apply(y) });

const work = await fs.mkdtemp(path.join(os.tmpdir(), 'vaekit-bench-text-'));
const tokenizer = WordTokenizer.fromTokens(['<pad>', '<unk>', '<bos>', '<eos>', ...Array.from({ length: S.vocab - 4 }, (_, i) => `w${i}`)]);
await exportBundle({ kind: 'text', encoder, decoder, tokenizer }, path.join(work, 'bundle'), { opset: S.opset });

// Weights for the PyTorch peer, by layer and position (kernel, recurrent_kernel, bias / embeddings).
const names = { enc_embedding: ['embeddings'], dec_embedding: ['embeddings'], enc_rnn: ['kernel', 'recurrent_kernel', 'bias'], dec_rnn: ['kernel', 'recurrent_kernel', 'bias'], mu: ['kernel', 'bias'], logvar: ['kernel', 'bias'], logits: ['kernel', 'bias'] };
const specs = {};
const chunks = [];
let offset = 0;
for (const [layer, ws] of Object.entries(names)) {
  const model = layer.startsWith('enc') || layer === 'mu' || layer === 'logvar' ? encoder : decoder;
  model.getLayer(layer).getWeights().forEach((w, i) => {
    const data = w.dataSync();
    specs[`${layer}/${ws[i]}`] = { shape: w.shape, offset };
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    offset += data.byteLength;
  });
}
await fs.writeFile(path.join(work, 'weights.bin'), Buffer.concat(chunks));
await fs.writeFile(path.join(work, 'weights.json'), JSON.stringify({ ...S, weights: specs }));
const py = spawnSync('/usr/bin/python3', [path.join(here, 'peers', 'torch_text_vae.py'), work], { encoding: 'utf8' });
if (py.status !== 0) {
  console.error(`The PyTorch peer failed (needs Debian python3-torch):\n${py.stderr}`);
  process.exit(1);
}
const torchInfo = JSON.parse(py.stdout.trim().split('\n').pop());

const open = (f) => ort.InferenceSession.create(f);
const graphs = {
  encoder: { vaekit: await open(path.join(work, 'bundle', 'encoder.onnx')), torch: await open(path.join(work, 'torch_encoder.onnx')) },
  decoder_step: { vaekit: await open(path.join(work, 'bundle', 'decoder_step.onnx')), torch: await open(path.join(work, 'torch_decoder_step.onnx')) },
};

function feedsFor(graph, batch) {
  let s = 7;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  if (graph === 'encoder') {
    const ids = new Int32Array(batch * S.steps);
    const lengths = new Int32Array(batch);
    for (let b = 0; b < batch; b++) {
      lengths[b] = 1 + Math.floor(rnd() * S.steps);
      for (let t = 0; t < lengths[b]; t++) ids[b * S.steps + t] = 4 + Math.floor(rnd() * (S.vocab - 4));
    }
    return { tokens: new ort.Tensor('int32', ids, [batch, S.steps]), lengths: new ort.Tensor('int32', lengths, [batch]) };
  }
  const f = (n) => Float32Array.from({ length: n }, () => rnd() * 2 - 1);
  return {
    token: new ort.Tensor('int32', Int32Array.from({ length: batch }, () => 4 + Math.floor(rnd() * (S.vocab - 4))), [batch]),
    h: new ort.Tensor('float32', f(batch * S.hidden), [batch, S.hidden]),
    c: new ort.Tensor('float32', f(batch * S.hidden), [batch, S.hidden]),
    z: new ort.Tensor('float32', f(batch * S.latent), [batch, S.latent]),
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const rows = [];
for (const batch of [1, 64]) {
  for (const [graph, { vaekit, torch }] of Object.entries(graphs)) {
    const feeds = feedsFor(graph, batch);
    const a = await vaekit.run(feeds);
    const b = await torch.run(feeds);
    let maxDiff = 0;
    for (const name of vaekit.outputNames) {
      const x = a[name].data;
      const yv = b[name].data;
      for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i] - yv[i]));
    }
    if (!(maxDiff <= 1e-4)) throw new Error(`${graph} batch ${batch}: vaekit and torch outputs differ by ${maxDiff}; the weights were not copied faithfully`);
    for (let i = 0; i < 20; i++) { await vaekit.run(feeds); await torch.run(feeds); }
    const tv = [];
    const tt = [];
    // Interleaved so that load from other processes hits both sides alike.
    for (let i = 0; i < REPEATS; i++) {
      let t0 = performance.now();
      await vaekit.run(feeds);
      tv.push(performance.now() - t0);
      t0 = performance.now();
      await torch.run(feeds);
      tt.push(performance.now() - t0);
    }
    const v = median(tv);
    const t = median(tt);
    rows.push({ graph, batch, vaekit_ms: +v.toFixed(4), torch_onnx_ms: +t.toFixed(4), ratio: +(v / t).toFixed(3), max_abs_diff: +maxDiff.toExponential(2) });
  }
}
const opsOf = async (f) => {
  const { decodeModel } = await import('@vaekit/exporter');
  return decodeModel(new Uint8Array(await fs.readFile(f))).opHistogram;
};
const ops = {
  vaekit_encoder: await opsOf(path.join(work, 'bundle', 'encoder.onnx')),
  torch_encoder: await opsOf(path.join(work, 'torch_encoder.onnx')),
  vaekit_decoder_step: await opsOf(path.join(work, 'bundle', 'decoder_step.onnx')),
  torch_decoder_step: await opsOf(path.join(work, 'torch_decoder_step.onnx')),
};
for (const g of Object.values(graphs)) { await g.vaekit.release(); await g.torch.release(); }
await fs.rm(work, { recursive: true, force: true });

const result = {
  benchmark: 'text-inference',
  command: 'npm run bench -- text-inference',
  model: `sentence VAE, LSTM (sigmoid gates), V=${S.vocab} E=${S.embedding} H=${S.hidden} Z=${S.latent} T=${S.steps}, opset ${S.opset}`,
  peer: `the same architecture in PyTorch ${torchInfo.torch} (nn.LSTM), exported with torch.onnx.export, weights copied (outputs equal within max_abs_diff)`,
  runtime: `onnxruntime-node ${ort.env.versions?.common ?? ''} default session options, both files in this process, runs interleaved`,
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  load: `1-minute load average ${loadBefore.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end (shared machine)`,
  repeats: REPEATS,
  statistic: 'median ms per session.run (feeds prepared once)',
  ops,
  rows,
};
console.table(rows);
console.log(JSON.stringify(result, null, 2));
await fs.writeFile(path.join(here, 'results', 'inference.json'), JSON.stringify(result, null, 2) + '\n');
