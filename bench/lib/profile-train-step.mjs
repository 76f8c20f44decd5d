#!/usr/bin/env node
// Kernel census of one training step (not a benchmark run by `npm run bench`): which tfjs kernels one
// optimizer step runs, how many of each and their time, next to the step's wall time, for the training
// benchmark's configurations. Run after `npm run build`:
//   node bench/lib/profile-train-step.mjs [dense|text|translate|classify] [steps]
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@vaekit/trainer';
import { TEXT_CONFIG, buildTextStep } from './text-model.mjs';
import { TRANSLATE_CONFIG, buildTranslateStep } from './translate-model.mjs';
import { buildDenseStep } from './dense-model.mjs';
import { CLASSIFY_CONFIG, buildClassifyStep } from './classify-model.mjs';

const config = process.argv[2] ?? 'dense';
const n = Number(process.argv[3] ?? 20);
const info = await initBackend('wasm', { native: process.env.VAEKIT_NATIVE !== '0' });
const builders = { dense: () => buildDenseStep(), text: () => buildTextStep(TEXT_CONFIG), translate: () => buildTranslateStep(TRANSLATE_CONFIG), classify: () => buildClassifyStep(CLASSIFY_CONFIG) };
if (!builders[config]) {
  console.error(`Unknown configuration "${config}". Should be one of: ${Object.keys(builders).join(', ')}.`);
  process.exit(2);
}
const step = builders[config]();
for (let i = 0; i < Math.min(3, n); i++) await step();
const times = [];
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  await step();
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const profile = await tf.profile(() => step());
const byName = new Map();
for (const k of profile.kernels) {
  const e = byName.get(k.name) ?? { calls: 0, ms: 0 };
  e.calls++;
  e.ms += Number(k.kernelTimeMs) || 0;
  byName.set(k.name, e);
}
const rows = [...byName].map(([name, e]) => ({ name, calls: e.calls, ms: +e.ms.toFixed(2) })).sort((a, b) => b.ms - a.ms);
console.table(rows);
const kernelMs = rows.reduce((s, r) => s + r.ms, 0);
console.log(JSON.stringify({
  config, native: info.native ?? null, kernels: profile.kernels.length, kernel_ms: +kernelMs.toFixed(2),
  step_ms_median: +times[Math.floor(n / 2)].toFixed(2), step_ms_min: +times[0].toFixed(2), loss: await step(),
}));
