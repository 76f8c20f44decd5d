import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@vaekit/trainer';
import { buildTextStep } from './lib/text-model.mjs';
await initBackend('wasm', { native: process.env.NAT !== '0' });
const step = buildTextStep({ vocab: 500, emb: 32, hidden: 64, latent: 8, length: 10, batch: 8 });
await step();
const t0 = performance.now();
const prof = await tf.profile(step);
console.log('step', performance.now() - t0);
const by = new Map();
for (const k of prof.kernels) { const e = by.get(k.name) ?? { n: 0, ms: 0 }; e.n++; e.ms += k.kernelTimeMs; by.set(k.name, e); }
console.log([...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12).map(([k, v]) => `${k.padEnd(24)} ${String(v.n).padStart(5)} ${v.ms.toFixed(1)}`).join('\n'));
