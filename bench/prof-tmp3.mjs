import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@vaekit/trainer';
import { TEXT_CONFIG, buildTextStep } from './lib/text-model.mjs';
await initBackend('wasm', { native: process.env.NAT !== '0' });
let t0 = performance.now();
const step = buildTextStep(TEXT_CONFIG);
console.log('build', performance.now() - t0);
for (let i = 0; i < 3; i++) { t0 = performance.now(); await step(); console.log('step', performance.now() - t0); }
const prof = await tf.profile(step);
const by = new Map();
for (const k of prof.kernels) { const e = by.get(k.name) ?? { n: 0, ms: 0 }; e.n++; e.ms += k.kernelTimeMs; by.set(k.name, e); }
console.log([...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12).map(([k, v]) => `${k.padEnd(24)} ${String(v.n).padStart(5)} ${v.ms.toFixed(1)}`).join('\n'));
