#!/usr/bin/env node
// The sentence VAE on the State of the Union sentences, with its language-model baseline trained on the
// same data for the same number of epochs, then `vaekit eval` on the test split. Runs the CLI exactly as a
// user would, prints a table and JSON, and writes bench/results/sotu.json.
//
//   npm run build && npm run bench -- sotu            (the budget below; about an hour on 2 cores)
//   SOTU_EPOCHS=5 SOTU_K=500 npm run bench -- sotu    (a longer run)
//
// Targets (issue 3): KL >= 3 nats per sentence, >= 5 active units, IW-NLL within 1 nat of the baseline.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const cli = path.join(root, 'packages/cli/dist/main.js');
const out = path.join(root, 'bench/out');
const epochs = process.env.SOTU_EPOCHS ?? '2';
const k = process.env.SOTU_K ?? '50';
const evalLimit = process.env.SOTU_EVAL_LIMIT ?? '500';
const annealSteps = process.env.SOTU_ANNEAL_STEPS ?? '1500';
// Everything else is the trainer's default configuration (vocabulary 10,000, embedding 128, GRU 256,
// latent 32, batch 32, Adam 1e-3, word dropout 0.25, free bits 0.125, sentences of at most 30 words).
const limit = process.env.SOTU_LIMIT ? ['--limit', process.env.SOTU_LIMIT] : [];
// Extra `vaekit train text` options of the VAE only, e.g. SOTU_VAE_ARGS="--free-bits 0.125".
const vaeArgs = (process.env.SOTU_VAE_ARGS ?? '').split(' ').filter(Boolean);
// SOTU_REUSE_LM=1 keeps an existing baseline run in bench/out/sotu-lm (its options do not depend on the VAE's).
const reuseLm = process.env.SOTU_REUSE_LM === '1';
const common = ['train', 'text', '--data', 'sotu', '--epochs', epochs, '--anneal', 'linear', '--anneal-steps', annealSteps, '--eval-limit', evalLimit, '--k', '0', ...limit, '--force', '--json'];

function vaekit(args) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  if (r.status !== 0) {
    console.error(`vaekit ${args.join(' ')} failed with exit code ${r.status}`);
    process.exit(1);
  }
  return { json: JSON.parse(r.stdout.toString()), seconds: (performance.now() - started) / 1000 };
}

await fs.mkdir(out, { recursive: true });
const vaeDir = path.join(out, 'sotu-vae');
const lmDir = path.join(out, 'sotu-lm');
const started = performance.now();
const vaeTrain = vaekit([...common, ...vaeArgs, '--out', vaeDir]);
const lmTrain = reuseLm ? await previousLmRun() : vaekit([...common, '--model', 'lm', '--out', lmDir]);

/** The baseline run already in `lmDir`, in the shape `vaekit train text --json` prints. */
async function previousLmRun() {
  const lines = (await fs.readFile(path.join(lmDir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  if (lines.length !== Number(epochs)) {
    console.error(`SOTU_REUSE_LM=1: ${lmDir} has ${lines.length} epochs, not ${epochs}; train it again without SOTU_REUSE_LM.`);
    process.exit(2);
  }
  return { json: { epochs: lines }, seconds: lines.reduce((s, e) => s + e.seconds, 0), reused: true };
}
const evalArgs = ['eval', vaeDir, '--baseline', lmDir, '--k', k, '--limit', evalLimit, '--json'];
const evaluation = vaekit(evalArgs);
const seconds = (performance.now() - started) / 1000;

const v = evaluation.json.vae.metrics;
const l = evaluation.json.baseline.metrics;
const result = {
  vae: { kl: v.kl, mi: v.mi, au: v.au, iw_nll: v.iwNll, elbo_nll: v.elbo, reconstruction: v.reconstruction, ppl: v.ppl, ppl_bound: `IW bound, K=${v.k}` },
  lm: { nll: l.elbo, ppl: l.ppl },
  targets: {
    kl_at_least_3: v.kl >= 3,
    active_units_at_least_5: v.au >= 5,
    iw_nll_within_1_nat_of_lm: v.iwNll <= l.elbo + 1,
  },
  seconds,
  train_seconds: { vae: vaeTrain.seconds, lm: lmTrain.seconds, ...(lmTrain.reused ? { lm_reused_from_previous_run: true } : {}) },
  eval_seconds: evaluation.seconds,
  sentences_evaluated: v.sentences,
  epochs: Number(epochs),
  config: vaeTrain.json.epochs.length ? JSON.parse(await fs.readFile(path.join(vaeDir, 'config.json'), 'utf8')) : null,
  per_epoch: vaeTrain.json.epochs.map((e) => ({ epoch: e.epoch, valid_elbo: e.valid.elbo, valid_kl: e.valid.kl, valid_mi: e.valid.mi, valid_au: e.valid.au, seconds: e.seconds })),
  lm_per_epoch: lmTrain.json.epochs.map((e) => ({ epoch: e.epoch, valid_nll: e.valid.elbo, seconds: e.seconds })),
  qualitative: evaluation.json.vae.qualitative,
  backend: vaeTrain.json.backend,
  command: `SOTU_EPOCHS=${epochs} SOTU_K=${k} SOTU_EVAL_LIMIT=${evalLimit} SOTU_ANNEAL_STEPS=${annealSteps}${limit.length ? ` SOTU_LIMIT=${limit[1]}` : ''}${vaeArgs.length ? ` SOTU_VAE_ARGS="${vaeArgs.join(' ')}"` : ''}${reuseLm ? ' SOTU_REUSE_LM=1' : ''} npm run bench -- sotu`,
  cli: { vae: `vaekit ${[...common, ...vaeArgs, '--out', vaeDir].join(' ')}`, lm: `vaekit ${[...common, '--model', 'lm', '--out', lmDir].join(' ')}`, eval: `vaekit ${evalArgs.join(' ')}` },
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg_at_end: os.loadavg() },
  note: process.env.SOTU_NOTE ?? 'Budget-limited run (fits an hour on 2 cores); the issue\'s PyTorch reference trains 5 epochs.',
};

const rows = [
  ['KL (nats/sentence)', v.kl, '>= 3'],
  ['active units', v.au, '>= 5'],
  ['mutual information', v.mi, ''],
  ['-ELBO (nats/sentence)', v.elbo, ''],
  [`IW-NLL (K=${v.k})`, v.iwNll, `<= LM + 1 = ${(l.elbo + 1).toFixed(2)}`],
  ['LM baseline NLL', l.elbo, ''],
  ['perplexity VAE (IW bound)', v.ppl, ''],
  ['perplexity LM', l.ppl, ''],
];
console.log('\nSentence VAE on SOTU (test split)');
for (const [name, value, target] of rows) console.log(`${name.padEnd(28)} ${Number(value).toFixed(2).padStart(9)}  ${target}`);
console.log(`total ${seconds.toFixed(0)} s\n`);
console.log(JSON.stringify(result, null, 2));
await fs.writeFile(path.join(root, 'bench/results/sotu.json'), JSON.stringify(result, null, 2) + '\n');
