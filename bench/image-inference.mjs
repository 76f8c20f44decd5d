#!/usr/bin/env node
// Inference latency of the default dense image VAE (784-400-20): vaekit's ONNX bundle on
// onnxruntime-node (through @vaekit/runtime) against the same model run by tfjs (the path a user would
// otherwise take: WASM backend), same weights, same inputs, in one process. Prints a table and JSON and
// writes bench/results/image-inference.json. Run after `npm run build`: `npm run bench -- image-inference`.
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportBundle } from '@vaekit/exporter';
import { loadVae } from '@vaekit/runtime';
import { buildImageVae, defaultImageConfig, initBackend } from '@vaekit/trainer';

const here = path.dirname(new URL(import.meta.url).pathname);
const REPEATS = 200;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function time(fn) {
  for (let i = 0; i < 10; i++) await fn();
  const times = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

const backend = await initBackend('auto');
const config = defaultImageConfig({ arch: 'dense' });
const { encoder, decoder } = buildImageVae(config);
const bundleDir = await fs.mkdtemp(path.join(os.tmpdir(), 'vaekit-bench-'));
await exportBundle({ kind: 'image', encoder, decoder, image: config.image, latentSize: config.latent }, path.join(bundleDir, 'b'), {});
const vae = await loadVae(path.join(bundleDir, 'b'));

const rows = [];
for (const batch of [1, 64]) {
  const x = Array.from({ length: batch }, (_, i) => Float32Array.from({ length: 784 }, (_, j) => ((i * 31 + j * 17) % 101) / 100));
  const z = Array.from({ length: batch }, (_, i) => Float32Array.from({ length: config.latent }, (_, j) => Math.sin(i + j)));
  const xt = tf.tensor2d(x.flatMap((r) => Array.from(r)), [batch, 784]);
  const zt = tf.tensor2d(z.flatMap((r) => Array.from(r)), [batch, config.latent]);
  const cases = [
    ['encoder', () => vae.encode(x), async () => tf.dispose(await Promise.all(encoder.predict(xt).map((t) => t.data())))],
    ['decoder', () => vae.decodeLogits(z), async () => { const t = decoder.predict(zt); await t.data(); t.dispose(); }],
  ];
  for (const [graph, ours, peer] of cases) {
    const vaekitMs = await time(ours);
    const tfjsMs = await time(peer);
    rows.push({ graph, batch, vaekit_ort_ms: +vaekitMs.toFixed(4), tfjs_ms: +tfjsMs.toFixed(4), ratio: +(vaekitMs / tfjsMs).toFixed(3) });
  }
  tf.dispose([xt, zt]);
}
await vae.dispose();
await fs.rm(bundleDir, { recursive: true, force: true });

const result = {
  benchmark: 'image-inference',
  command: 'npm run bench -- image-inference',
  model: 'dense VAE 784-400-20 (encoder x->mu,logvar; decoder z->logits)',
  peer: `tfjs ${tf.version.tfjs} predict on backend "${backend.name}"`,
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  repeats: REPEATS,
  statistic: 'median ms per call (includes packing inputs and reading outputs)',
  rows,
};
console.table(rows);
console.log(JSON.stringify(result, null, 2));
await fs.writeFile(path.join(here, 'results', 'image-inference.json'), JSON.stringify(result, null, 2) + '\n');
