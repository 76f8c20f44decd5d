#!/usr/bin/env node
// French -> English on Tatoeba (../shared/data/tatoeba-fra-eng/fra-eng.tsv, the 12-token group split):
// three arms trained and evaluated with the CLI exactly as a user would run them, then a table and
// bench/results/translate.json.
//
//   1. attention baseline            vaekit train translate --latent 0
//   2. VNMT (warm-started)           vaekit train translate --latent Z --init <baseline run>
//   3. VNMT + variational attention  ... --attention variational --init <baseline run>
//
// Each arm: vaekit eval (sacreBLEU-exact BLEU greedy and beam 4, chrF, KL(z), distinct-2 and self-BLEU of
// 10 translations per source from different latents).
//
//   npm run build && npm run bench -- translate
//   TRANSLATE_LIMIT=25600 TRANSLATE_EPOCHS=4 npm run bench -- translate   (the scaled run of a shared machine)
//
// Writes bench/results/translate.json and the markdown table bench/results/translate.md
// (TRANSLATE_TABLE_ONLY=1 rewrites the table from the JSON). The bench runs vaekit under nice -n 10 itself:
// do not nice the bench too (nested nice gives 19, which starves on a shared machine).
//
// The default is the issue's budget, 90 minutes on 2 cores, spent on the baseline: all ~67,500 training
// pairs (1,055 steps of 64 a epoch), 8 baseline epochs (8,440 steps), then 1 epoch for each warm-started
// arm (VNMT's recipe: they start from the baseline, so their steps add to its). Recipe (docs/seq2seq-model.md,
// "Benchmark"): Adam 1e-3, constant, for every arm (measured: 2e-3 and 3e-3 trained worse, and so did
// a linear fall to 1e-4 within 1,600 steps). The step time this plan assumes (<= 0.45 s on 2 cores of their own) is an estimate from the
// CPU time per step measured on a shared machine; the shared machine itself runs it several times slower.
//
// Scale (environment): TRANSLATE_LIMIT training pairs (0 = all ~67,500, the default), TRANSLATE_EPOCHS
// baseline epochs (default 8), TRANSLATE_VNMT_EPOCHS epochs of each warm-started arm (default 1),
// TRANSLATE_EVAL_LIMIT test (and validation) pairs scored (0 = all ~3,700; default 500), TRANSLATE_EMBEDDING /
// TRANSLATE_HIDDEN (default 128 / 256, the issue's), TRANSLATE_LATENT (32), TRANSLATE_FREE_BITS (0.1 per
// dimension), TRANSLATE_ANNEAL_STEPS (500), TRANSLATE_DIVERSITY_PAIRS (100), TRANSLATE_BATCH (64),
// TRANSLATE_LR / TRANSLATE_LR_FINAL (baseline, 0.001 / unset: constant; set, the rate falls linearly to it,
// --lr-final), TRANSLATE_VNMT_LR / TRANSLATE_VNMT_LR_FINAL (warm-started arms, the same).
//
// Targets (issue 14): baseline >= 42 BLEU (beam 4); VNMT >= baseline with KL(z) >= 1 nat; variational
// attention within 4 BLEU of the baseline with distinct-2 >= 2.5 x VNMT's. The issue also asks for all
// of it within 90 minutes on 2 cores.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const cli = path.join(root, 'packages/cli/dist/main.js');
const out = path.join(root, 'bench/out');
const data = path.resolve(root, '../shared/data/tatoeba-fra-eng/fra-eng.tsv');
if (!existsSync(data)) {
  console.error(`${data} is missing: the benchmark reads the Tatoeba pairs from ../shared/data beside the checkout.`);
  process.exit(2);
}
const env = (name, fallback) => process.env[name] ?? fallback;

/** The markdown table of a results object (bench/results/translate.md). */
function renderTable(r) {
  const f = (x, d = 2) => (x === null || x === undefined ? '-' : Number(x).toFixed(d));
  const { scale, arms } = r;
  const load = (l) => l.map((x) => x.toFixed(1)).join(' ');
  return [
    `Translation fr->en (Tatoeba, test split: ${scale.evalLimit || 'all'} pairs; training pairs: ${scale.limit || 'all'}; emb ${scale.embedding} / hidden ${scale.hidden}; baseline ${scale.epochs} epochs${scale.lr ? ` at lr ${scale.lr}${scale.lrFinal ? ` -> ${scale.lrFinal}` : ''}` : ''}, warm-started arms ${scale.vnmtEpochs}${scale.vnmtLr ? ` at ${scale.vnmtLr}${scale.vnmtLrFinal ? ` -> ${scale.vnmtLrFinal}` : ''}` : ''}; batch ${scale.batchSize ?? 64})`,
    '',
    '| arm | BLEU beam 4 | BLEU greedy | chrF | KL(z) | distinct-2 (10 samples) | self-BLEU | train s | eval s |',
    '|---|---|---|---|---|---|---|---|---|',
    ...[['attention baseline', arms.baseline], ['VNMT (warm-started)', arms.vnmt], ['VNMT + variational attention', arms.variational_attention]].map(
      ([name, a]) => `| ${name} | ${f(a.bleu_beam4)} | ${f(a.bleu_greedy)} | ${f(a.chrf)} | ${f(a.kl_z, 3)} | ${f(a.distinct2, 3)} | ${f(a.self_bleu)} | ${f(a.train_seconds, 0)} | ${f(a.eval_seconds, 0)} |`,
    ),
    '',
    `total ${r.seconds.toFixed(0)} s, commit ${r.commit}, load ${load(r.machine.loadavg_at_start)} -> ${load(r.machine.loadavg_at_end)}`,
    '',
    `Targets: ${Object.entries(r.targets).map(([k, ok]) => `${k} ${ok === null ? 'n/a' : ok ? 'met' : 'not met'}`).join('; ')}.`,
  ].join('\n');
}
// TRANSLATE_TABLE_ONLY=1 rewrites bench/results/translate.md from translate.json without running anything.
if (env('TRANSLATE_TABLE_ONLY', '0') === '1') {
  const saved = JSON.parse(await fs.readFile(path.join(root, 'bench/results/translate.json'), 'utf8'));
  await fs.writeFile(path.join(root, 'bench/results/translate.md'), renderTable(saved) + '\n');
  process.exit(0);
}
const scale = {
  limit: Number(env('TRANSLATE_LIMIT', '0')),
  epochs: Number(env('TRANSLATE_EPOCHS', '8')),
  vnmtEpochs: Number(env('TRANSLATE_VNMT_EPOCHS', '1')),
  evalLimit: Number(env('TRANSLATE_EVAL_LIMIT', '500')),
  embedding: Number(env('TRANSLATE_EMBEDDING', '128')),
  hidden: Number(env('TRANSLATE_HIDDEN', '256')),
  latent: Number(env('TRANSLATE_LATENT', '32')),
  freeBits: Number(env('TRANSLATE_FREE_BITS', '0.1')),
  annealSteps: Number(env('TRANSLATE_ANNEAL_STEPS', '500')),
  batchSize: Number(env('TRANSLATE_BATCH', '64')),
  lr: Number(env('TRANSLATE_LR', '0.001')),
  lrFinal: env('TRANSLATE_LR_FINAL', '') === '' ? null : Number(env('TRANSLATE_LR_FINAL')),
  vnmtLr: Number(env('TRANSLATE_VNMT_LR', '0.001')),
  vnmtLrFinal: env('TRANSLATE_VNMT_LR_FINAL', '') === '' ? null : Number(env('TRANSLATE_VNMT_LR_FINAL')),
  diversityPairs: Number(env('TRANSLATE_DIVERSITY_PAIRS', '100')),
};
const common = [
  'train', 'translate', '--data', data, '--embedding', String(scale.embedding), '--hidden', String(scale.hidden), '--batch-size', String(scale.batchSize),
  ...(scale.limit > 0 ? ['--limit', String(scale.limit)] : []), '--eval-limit', String(scale.evalLimit), '--force', '--json',
];

function vaekit(args) {
  const started = performance.now();
  const r = spawnSync('nice', ['-n', '10', process.execPath, cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  if (r.status !== 0) {
    console.error(`vaekit ${args.join(' ')} failed with exit code ${r.status}`);
    process.exit(1);
  }
  return { json: JSON.parse(r.stdout.toString()), seconds: (performance.now() - started) / 1000 };
}

const commit = process.env.TRANSLATE_COMMIT ?? (() => {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim() + (execSync('git status --porcelain --untracked-files=no', { cwd: root }).toString().trim() ? ' (uncommitted changes)' : '');
  } catch {
    return 'unknown';
  }
})();
await fs.mkdir(out, { recursive: true });
const loadStart = os.loadavg();
const started = performance.now();
const dirs = { baseline: path.join(out, 'translate-baseline'), vnmt: path.join(out, 'translate-vnmt'), variational: path.join(out, 'translate-varatt') };
const lrArgs = (lr, final) => ['--lr', String(lr), ...(final === null ? [] : ['--lr-final', String(final)])];
const latentArgs = [...lrArgs(scale.vnmtLr, scale.vnmtLrFinal), '--latent', String(scale.latent), '--free-bits', String(scale.freeBits), '--anneal-steps', String(scale.annealSteps), '--epochs', String(scale.vnmtEpochs), '--init', dirs.baseline];
const cliArgs = {
  baseline: [...common, ...lrArgs(scale.lr, scale.lrFinal), '--epochs', String(scale.epochs), '--out', dirs.baseline],
  vnmt: [...common, ...latentArgs, '--out', dirs.vnmt],
  variational: [...common, ...latentArgs, '--attention', 'variational', '--out', dirs.variational],
};
const evalArgs = (dir) => ['eval', dir, '--limit', String(scale.evalLimit), '--beam', '4', '--samples', '10', '--diversity-pairs', String(scale.diversityPairs), '--json'];
const arms = {};
for (const arm of ['baseline', 'vnmt', 'variational']) {
  console.error(`\n== ${arm}: vaekit ${cliArgs[arm].join(' ')}`);
  const train = vaekit(cliArgs[arm]);
  const evaluation = vaekit(evalArgs(dirs[arm]));
  const e = evaluation.json;
  arms[arm] = {
    bleu_beam4: e.scores.bleuBeam,
    bleu_greedy: e.scores.bleuGreedy,
    chrf: e.scores.chrf,
    kl_z: e.heldOut.kl,
    kl_attention: e.heldOut.klAttention,
    active_units: e.heldOut.au ?? null,
    distinct1: e.scores.diversity?.distinct1 ?? null,
    distinct2: e.scores.diversity?.distinct2 ?? null,
    self_bleu: e.scores.diversity?.selfBleu ?? null,
    nll_bound: e.heldOut.loss,
    train_seconds: train.seconds,
    eval_seconds: evaluation.seconds,
    epochs: train.json.epochs.map((m) => ({ epoch: m.epoch, valid_loss: m.valid.loss, valid_kl: m.valid.kl, valid_kl_attention: m.valid.klAttention, seconds: m.seconds })),
    examples: e.scores.examples,
    cli: `vaekit ${cliArgs[arm].join(' ')}`,
  };
  if (arm === 'baseline') arms.bleu_signature = e.scores.bleuSignature;
}
const seconds = (performance.now() - started) / 1000;
const { baseline: b, vnmt: v, variational: a } = arms;
const result = {
  task: 'Tatoeba fra-eng, French -> English, pairs of at most 12 tokens a side, 90/5/5 group split by unique English sentence (seed 1)',
  commit,
  scale,
  full_scale: scale.limit === 0 && scale.evalLimit === 0,
  bleu_signature: arms.bleu_signature,
  arms: { baseline: b, vnmt: v, variational_attention: a },
  targets: {
    baseline_bleu_beam4_at_least_42: b.bleu_beam4 >= 42,
    vnmt_bleu_at_least_baseline: v.bleu_beam4 >= b.bleu_beam4,
    vnmt_kl_at_least_1_nat: v.kl_z >= 1,
    variational_within_4_bleu_of_baseline: a.bleu_beam4 >= b.bleu_beam4 - 4,
    variational_distinct2_at_least_2_5x_vnmt: v.distinct2 > 0 ? a.distinct2 >= 2.5 * v.distinct2 : null,
    within_90_minutes: seconds <= 90 * 60,
  },
  reference: 'PyTorch, same design and split, full data, a few GPU minutes: beam 4 / greedy BLEU attention 42.9 / 41.7; VNMT 45.4 / 44.0 (KL 0.006); variational attention 32.2 / 29.8, distinct-2 0.43 vs VNMT 0.12',
  seconds,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg_at_start: loadStart, loadavg_at_end: os.loadavg() },
  note: env('TRANSLATE_NOTE', 'Scaled-down run on a shared 2-core machine (other jobs running, see loadavg); the issue targets assume the full ~54,000 training pairs.'),
};
delete arms.bleu_signature;

const table = renderTable(result);
console.log('\n' + table + '\n');
await fs.writeFile(path.join(root, 'bench/results/translate.md'), table + '\n');
console.log(JSON.stringify(result.targets, null, 2));
await fs.writeFile(path.join(root, 'bench/results/translate.json'), JSON.stringify(result, null, 2) + '\n');
