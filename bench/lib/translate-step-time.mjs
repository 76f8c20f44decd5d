#!/usr/bin/env node
// Wall and CPU time of the translate kind's own training step (the kind's step(), as `vaekit train
// translate` runs it) on the real Tatoeba split and vocabularies, for one batch size (not a benchmark run
// by `npm run bench`; `npm run bench -- train` compares a fixed batch with PyTorch). CPU time (user +
// system, both threads) is less sensitive to other jobs than wall time on a shared machine.
//   BS=64 STEPS=15 node bench/lib/translate-step-time.mjs      (Z=32 for a VNMT step)
import { initBackend, translateKind, loadTranslateCorpus } from '@vaekit/trainer';
import { defaultTranslateConfig } from '@vaekit/core';
await initBackend('auto');
const bs = Number(process.env.BS ?? 64), steps = Number(process.env.STEPS ?? 15);
const config = defaultTranslateConfig({ batchSize: bs, latent: Number(process.env.Z ?? 0), data: { source: new URL('../../../shared/data/tatoeba-fra-eng/fra-eng.tsv', import.meta.url).pathname, evalLimit: 64 } });
const corpus = await loadTranslateCorpus(config);
const lens = corpus.train.target.map((t) => t.length), slens = corpus.train.source.map((t) => t.length);
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
console.log('mean tgt len', mean(lens).toFixed(2), 'mean src len', mean(slens).toFixed(2), 'T', corpus.seqLength);
const models = translateKind.build(config, corpus);
const run = { config, data: corpus, models, state: {} };
const acc = translateKind.beginEpoch(run, 1);
let cpu0, t0;
for (let s = 0; s < steps + 3; s++) {
  if (s === 3) { cpu0 = process.cpuUsage(); t0 = performance.now(); }
  const rows = Array.from({ length: bs }, (_, i) => (s * bs + i * 997) % corpus.train.source.length);
  await translateKind.step(run, acc, { rows, epoch: 1, batch: s + 1, batches: 100, step: s, totalSteps: 1000, accept: () => true });
}
const c = process.cpuUsage(cpu0);
console.log(`bs ${bs}: wall ${((performance.now() - t0) / steps / 1000).toFixed(3)} s/step, cpu ${((c.user + c.system) / 1e6 / steps).toFixed(3)} s/step`);
