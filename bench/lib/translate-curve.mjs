#!/usr/bin/env node
// BLEU-vs-steps points of a translation run (not a benchmark run by `npm run bench`): scores every epoch
// checkpoint still in the run folder, or copies of them, on the validation split (greedy BLEU, chrF), with
// the run's own data split. Run after `npm run build`:
//   node bench/lib/translate-curve.mjs RUN_DIR [CHECKPOINTS_DIR] [pairs]
// CHECKPOINTS_DIR holds epoch-NNNN folders (default RUN_DIR/checkpoints; the loop keeps only the newest
// two, so copy them aside while a long run trains to keep every epoch). Prints one JSON line per epoch.
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { evaluateTranslateRun, initBackend } from '@vaekit/trainer';

const [runDir, ckptDir = path.join(process.argv[2] ?? '', 'checkpoints'), pairs = '500'] = process.argv.slice(2);
if (!runDir) {
  console.error('usage: node bench/lib/translate-curve.mjs RUN_DIR [CHECKPOINTS_DIR] [pairs]');
  process.exit(2);
}
await initBackend('auto');
for (const name of (await readdir(ckptDir)).filter((n) => /^epoch-\d+$/.test(n)).sort()) {
  const epoch = Number(name.slice(6));
  // A run folder of its own whose newest checkpoint is this epoch's.
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'vaekit-curve-'));
  for (const f of ['config.json', 'source-tokenizer.json', 'target-tokenizer.json']) await cp(path.join(runDir, f), path.join(tmp, f));
  await cp(path.join(ckptDir, name), path.join(tmp, 'checkpoints', name), { recursive: true });
  await writeFile(path.join(tmp, 'latest.json'), JSON.stringify({ checkpoint: `checkpoints/${name}`, epoch }) + '\n');
  const state = JSON.parse(readFileSync(path.join(ckptDir, name, 'state.json'), 'utf8'));
  const started = performance.now();
  const r = await evaluateTranslateRun(tmp, { split: 'valid', limit: Number(pairs), beamWidth: 0, diversityPairs: 0, samples: 1 });
  console.log(JSON.stringify({ epoch, step: state.step, train_seconds: state.seconds, split: 'valid', pairs: r.scores.pairs, bleu_greedy: r.scores.bleuGreedy, chrf: r.scores.chrf, nll: r.heldOut.loss, seconds: (performance.now() - started) / 1000 }));
  await rm(tmp, { recursive: true, force: true });
}
