import { initBackend, defaultTextConfig, trainTextVae, resumeTextVae } from '@vaekit/trainer';
await initBackend('auto');
const cfg = defaultTextConfig({ embedding: 16, hidden: 32, latent: 4, epochs: 2, batchSize: 16, aggressive: process.argv[2] ?? 'off', data: { source: '/tmp/tiny.txt', maxLength: 8, minCount: 1, validFraction: 0.1, testFraction: 0.1, evalLimit: 40 } });
const t0 = performance.now();
const r = await trainTextVae(cfg, '/tmp/tt-run', { onStart: (i) => console.log(JSON.stringify(i)), onEpoch: (m) => console.log(JSON.stringify(m)), onNotice: console.log });
console.log('s', (performance.now()-t0)/1000);
