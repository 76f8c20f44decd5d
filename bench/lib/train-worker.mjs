#!/usr/bin/env node
// One vaekit training backend for `npm run bench -- train`, driven by bench/train.mjs over stdin/stdout
// (one JSON object per line) so that its steps interleave with the other backends and the PyTorch peer.
// Usage: node bench/lib/train-worker.mjs <backend> where backend is wasm (default path, native kernels
// when built), wasm-plain (tfjs' own WASM kernels only) or cpu (pure-JS).
import * as tf from '@tensorflow/tfjs';
import { createInterface } from 'node:readline';
import { buildImageVae, defaultImageConfig, elboTerms, initBackend, vaeLoss } from '@vaekit/trainer';
import { TEXT_CONFIG, buildTextStep } from './text-model.mjs';

const which = process.argv[2] ?? 'wasm';
const info = await initBackend(which === 'cpu' ? 'cpu' : 'wasm', { native: which !== 'wasm-plain' });

function denseStep() {
  const config = defaultImageConfig({ arch: 'dense' });
  const { encoder, decoder } = buildImageVae(config);
  const optimizer = tf.train.adam(config.learningRate);
  const b = config.batchSize;
  const x = tf.tensor2d(Float32Array.from({ length: b * 784 }, (_, i) => ((i * 7919) % 1000) / 1000), [b, 784]);
  const eps = tf.randomNormal([b, config.latent], 0, 1, 'float32', 1);
  return async () => {
    const loss = optimizer.minimize(() => vaeLoss(elboTerms(encoder, decoder, x, eps, true), config.beta), true);
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
}

const steps = {};
async function handle(msg) {
  if (msg.cmd === 'info') return { backend: info.name, note: info.note, native: info.native ?? null, tfjs: tf.version.tfjs };
  if (msg.cmd === 'setup') {
    steps[msg.config] = msg.config === 'dense' ? denseStep() : buildTextStep(TEXT_CONFIG);
    const t0 = performance.now();
    const loss = await steps[msg.config]();
    return { first_step_ms: performance.now() - t0, loss };
  }
  if (msg.cmd === 'steps') {
    const times = [];
    let loss;
    for (let i = 0; i < msg.n; i++) {
      const t0 = performance.now();
      loss = await steps[msg.config]();
      times.push(performance.now() - t0);
    }
    return { times, loss, tensors: tf.memory().numTensors };
  }
  throw new Error(`unknown command ${msg.cmd}`);
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  let reply;
  try {
    reply = await handle(JSON.parse(line));
  } catch (err) {
    reply = { error: String(err?.stack ?? err) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
}
