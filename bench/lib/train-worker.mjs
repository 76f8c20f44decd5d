#!/usr/bin/env node
// One vaekit training backend for `npm run bench -- train`, driven by bench/train.mjs over stdin/stdout
// (one JSON object per line) so that its steps interleave with the other backends and the PyTorch peer.
// Usage: node bench/lib/train-worker.mjs <backend> where backend is wasm (default path, native kernels
// when built), wasm-plain (tfjs' own WASM kernels only) or cpu (pure-JS).
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { initBackend } from '@vaekit/trainer';
import { setNativeThreads } from '@vaekit/trainer/internal';
import { CLASSIFY_CONFIG, buildClassifyStep, classifyBatch } from './classify-model.mjs';
import { buildDenseStep } from './dense-model.mjs';
import { TEXT_CONFIG, buildTextStep, textBatch } from './text-model.mjs';
import { TRANSLATE_CONFIG, buildTranslateStep, translateBatch } from './translate-model.mjs';

const which = process.argv[2] ?? 'wasm';
const info = await initBackend(which === 'cpu' ? 'cpu' : 'wasm', { native: which !== 'wasm-plain' });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function timed(step, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  return times;
}

/** Decoder positions of the classify step that are real tokens: each unlabelled text once per class, each labelled text once. */
function classifyPositions() {
  const { unlabeled, labeled } = classifyBatch(CLASSIFY_CONFIG);
  const tokens = (texts) => texts.reduce((n, t) => n + t.length + 1, 0);
  return CLASSIFY_CONFIG.classes * tokens(unlabeled) + tokens(labeled);
}

const steps = {};
const threads = {};
async function handle(msg) {
  if (msg.cmd === 'info') return { backend: info.name, note: info.note, native: info.native ?? null, tfjs: tf.version.tfjs };
  if (msg.cmd === 'setup') {
    const build = {
      dense: () => buildDenseStep(),
      text: () => buildTextStep(TEXT_CONFIG),
      translate: () => buildTranslateStep(TRANSLATE_CONFIG),
      classify: () => buildClassifyStep(CLASSIFY_CONFIG),
    }[msg.config];
    if (!build) throw new Error(`unknown configuration ${msg.config}`);
    const step = (steps[msg.config] = build());
    const t0 = performance.now();
    const loss = await step();
    const first = performance.now() - t0;
    // Like the PyTorch peer: the fastest thread setting of the native kernels for this model.
    const trial = {};
    if (info.native) {
      const [warmup, n] = msg.trial ?? [1, msg.config === 'dense' ? 5 : 2];
      for (const t of [...new Set([1, os.cpus().length])]) {
        setNativeThreads(t);
        await timed(step, warmup);
        trial[t] = median(await timed(step, n));
      }
      threads[msg.config] = Number(Object.entries(trial).sort((a, b) => a[1] - b[1])[0][0]);
    }
    // Positions that are real tokens (the rest is padding after <eos>): vaekit forms logits only there.
    const positions = msg.config === 'text' ? textBatch(TEXT_CONFIG).tokens.filter((t) => t !== 0).length
      : msg.config === 'translate' ? translateBatch(TRANSLATE_CONFIG).target.reduce((n, t) => n + t.length + 1, 0)
      : msg.config === 'classify' ? classifyPositions() : undefined;
    return { first_step_ms: first, loss, threads: threads[msg.config] ?? null, trial_ms: trial, parameters: step.parameters ?? null, ...(positions ? { real_positions: positions } : {}) };
  }
  if (msg.cmd === 'peak') {
    if (!info.native) return {};
    // The native sgemm's rate on a square 1024 product (best thread setting), next to torch's.
    const a = tf.randomNormal([1024, 1024]);
    const b = tf.randomNormal([1024, 1024]);
    let best = 0;
    for (const t of [...new Set([1, os.cpus().length])]) {
      setNativeThreads(t);
      const ms = median(await timed(async () => { const c = tf.matMul(a, b); await c.data(); c.dispose(); }, 7));
      best = Math.max(best, (2 * 1024 ** 3) / ms / 1e6);
    }
    tf.dispose([a, b]);
    return { vaekit_native_mm_1024_gflops: +best.toFixed(1) };
  }
  if (msg.cmd === 'steps') {
    if (threads[msg.config]) setNativeThreads(threads[msg.config]);
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
