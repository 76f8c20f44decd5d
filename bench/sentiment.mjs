#!/usr/bin/env node
// Sentiment on IMDB (issue 13): test accuracy on the deduplicated Stanford test split of a
// bag-of-words logistic regression, the GRU classifier, M1 (bag-of-words VAE + classifier on its
// posterior means) and M2 (the GRU SSVAE, label fed to the decoder at every step), trained on exactly
// the same N labels, reviews cut to 100 tokens; mean ± sd over seeds. With SENTIMENT_IMBALANCE=1 also the
// imbalance table at R = 100: balanced accuracy, macro-F1 and minority recall per remedy (M1, bag of words).
// Writes bench/results/sentiment.json and prints markdown tables. Run after `npm run build`:
//   npm run bench -- sentiment                                  the default table: N = 100, 1,000 x 4 arms x 3 seeds
//   SENTIMENT_NS=100,1000,2500 npm run bench -- sentiment       the issue's full table (adds N = 2,500)
// Seeds are the outer loop (seed 1 of every arm and N first), and the results file is rewritten after
// every run, so a run stopped early still holds whole seeds. M1's VAE never sees a label, and every N of
// a seed has the same training texts, so it is trained once per seed (at the largest N) and its
// classifier on the posterior means refitted for the other N (trainer's evaluateM1RunWithLabels).
// The sequence arms (gru, m2) use reduced settings to fit the time budget (embedding/hidden 64,
// vocabulary 5,000, M2 reading 2,000 unlabelled reviews for 3 epochs); the JSON's `notes` say so.
// Environment (defaults in brackets):
//   SENTIMENT_NS [100,1000]          label counts (the issue's full table: 100,1000,2500; none: skip the table)
//   SENTIMENT_SEEDS [3]              seeds per cell
//   SENTIMENT_ARMS [lr,gru,m1,m2]    arms to run
//   SENTIMENT_M1_EPOCHS [8]          passes of M1's VAE over the 24,500 training reviews (M1's default, core's CLASSIFIER_MODEL_DEFAULTS)
//   SENTIMENT_IMB_EPOCHS [1]         passes of M1's VAE in the imbalance table (over the 12,372 reviews left at R = 100)
//   SENTIMENT_M1_LATENT [100]        latent size of M1's bag-of-words VAE (M1's default)
//   SENTIMENT_M2_EPOCHS [3]          passes of M2 over its unlabelled reviews (66 steps each at 2,000)
//   SENTIMENT_SEQ_UNLABELED [2000]   unlabelled reviews M2 reads (its GRU decoder is the slow part)
//   SENTIMENT_SEQ_VOCAB [5000]       vocabulary of the two GRU arms (same for both)
//   SENTIMENT_TEST_LIMIT [0]         test reviews evaluated (0 = all 24,877)
//   SENTIMENT_IMBALANCE [0]          1: also the R = 100 imbalance table
//   SENTIMENT_IMB_LABELS [0]         its labelled examples (0 = every label of the training split)
//   SENTIMENT_IMB_UNLABELED [0]      its unlabelled reviews for M1's VAE (0 = all)
//   SENTIMENT_OUT [sentiment]        results file name
import { execSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLASSIFIER_MODEL_DEFAULTS } from '@vaekit/core';
import { defaultClassifierConfig, evaluateClassifierRun, evaluateM1RunWithLabels, initBackend, labeledCorpora, registerLabeledCorpus, trainClassifier } from '@vaekit/trainer';
import { loadImdb } from '../packages/cli/dist/shared/imdb.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const env = (k, d) => process.env[k] ?? d;
const NS = env('SENTIMENT_NS', '100,1000') === 'none' ? [] : env('SENTIMENT_NS', '100,1000').split(',').map(Number);
const SEEDS = Number(env('SENTIMENT_SEEDS', '3'));
const ARMS = env('SENTIMENT_ARMS', 'lr,gru,m1,m2').split(',');
const M1_EPOCHS = Number(env('SENTIMENT_M1_EPOCHS', String(CLASSIFIER_MODEL_DEFAULTS.m1.epochs)));
const M1_LATENT = Number(env('SENTIMENT_M1_LATENT', String(CLASSIFIER_MODEL_DEFAULTS.m1.latent)));
const M2_EPOCHS = Number(env('SENTIMENT_M2_EPOCHS', '3'));
const IMB_EPOCHS = Number(env('SENTIMENT_IMB_EPOCHS', '1'));
const IMB_LABELS = Number(env('SENTIMENT_IMB_LABELS', '0'));
const IMB_UNLABELED = Number(env('SENTIMENT_IMB_UNLABELED', '0'));
const SEQ_UNLABELED = Number(env('SENTIMENT_SEQ_UNLABELED', '2000'));
const SEQ_VOCAB = Number(env('SENTIMENT_SEQ_VOCAB', '5000'));
const TEST_LIMIT = Number(env('SENTIMENT_TEST_LIMIT', '0'));
const IMBALANCE = env('SENTIMENT_IMBALANCE', '0') === '1';
const OUT = env('SENTIMENT_OUT', 'sentiment');

// Steps of the supervised arms: about 300 updates whatever N (batches of 32 labelled reviews).
const supervisedEpochs = (n, batch) => Math.max(5, Math.ceil(300 / Math.ceil(n / batch)));

/** The configuration of one arm at N labels and a seed. */
function armConfig(arm, n, seed) {
  const data = { source: 'imdb', labels: n, maxLength: 100, testLimit: TEST_LIMIT };
  switch (arm) {
    case 'lr':
      return defaultClassifierConfig({ model: 'supervised', encoder: 'bow', epochs: supervisedEpochs(n, 32), batchSize: 32, learningRate: 5e-3, seed, data });
    case 'gru':
      // M2's twin: the same encoder, vocabulary and data (the unlabelled texts only shape the vocabulary).
      return defaultClassifierConfig({ model: 'supervised', encoder: 'gru', embedding: 64, hidden: 64, epochs: supervisedEpochs(n, 32), batchSize: 32, learningRate: 1e-3, seed, data: { ...data, maxVocab: SEQ_VOCAB, unlabeledLimit: SEQ_UNLABELED } });
    case 'm1':
      return defaultClassifierConfig({ model: 'm1', encoder: 'bow', latent: M1_LATENT, epochs: M1_EPOCHS, batchSize: 64, seed, data });
    case 'm2':
      return defaultClassifierConfig({
        model: 'm2',
        encoder: 'gru',
        embedding: 64,
        hidden: 64,
        latent: 32,
        epochs: M2_EPOCHS,
        batchSize: 32,
        learningRate: 1e-3,
        anneal: { ...defaultClassifierConfig().anneal, steps: 100 * M2_EPOCHS },
        seed,
        data: { ...data, maxVocab: SEQ_VOCAB, unlabeledLimit: SEQ_UNLABELED },
      });
    default:
      throw new Error(`Unknown arm ${arm}. Should be one of: lr, gru, m1, m2.`);
  }
}

const ARM_NAMES = { lr: 'bag-of-words logistic regression', gru: 'GRU supervised', m1: 'M1 (bag-of-words VAE + classifier on means)', m2: 'M2 (GRU SSVAE)' };
const REFERENCE = { 100: { lr: 59.9, gru: 53.5, m1: 71.5, m2: 50.1 }, 1000: { lr: 71.6, gru: 59.2, m1: 77.6, m2: 55.6 }, 2500: { lr: 74.8, gru: 69.8, m1: 77.8, m2: 69.6 } };

const summaryOf = (r, seconds) => ({ seconds, labels: r.labels, test: r.test, valid: { accuracy: r.valid.accuracy, balancedAccuracy: r.valid.balancedAccuracy }, stats: r.stats, minority: r.minority, threshold: r.threshold });

/**
 * Trains one run and evaluates it; `alsoLabels` (M1 only): the same VAE evaluated with its classifier
 * refitted at each of these label counts. Returns the run's summary first, then one per `alsoLabels`
 * (seconds: training + evaluation for the first, refit + evaluation for the others).
 */
async function runOne(config, tag, alsoLabels = []) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `vaekit-sentiment-${tag}-`));
  let t0 = Date.now();
  try {
    await trainClassifier(config, dir);
    const out = [summaryOf(await evaluateClassifierRun(dir), (Date.now() - t0) / 1000)];
    for (const n of alsoLabels) {
      t0 = Date.now();
      out.push(summaryOf(await evaluateM1RunWithLabels(dir, n), (Date.now() - t0) / 1000));
    }
    loadSamples.push(os.loadavg()[0]);
    return out;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const meanSd = (xs) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean: +m.toFixed(4), sd: +sd.toFixed(4), n: xs.length };
};
const fmt = (s) => `${(s.mean * 100).toFixed(1)} ± ${(s.sd * 100).toFixed(1)}`;

await initBackend('wasm');
// One read of the 50,000 reviews for every run.
let cached;
if (!labeledCorpora().includes('imdb')) registerLabeledCorpus('imdb', async () => (cached ??= await loadImdb()));
const commit = execSync('git rev-parse --short HEAD', { cwd: here }).toString().trim();
const dirty = execSync('git status --porcelain --untracked-files=no', { cwd: here }).toString().trim() !== '';
const loadBefore = os.loadavg();
const loadSamples = [loadBefore[0]];
const started = Date.now();
const results = { table: {}, imbalance: null };
function summarize(done) {
  return {
    benchmark: 'sentiment',
    complete: done,
    command: 'npm run bench -- sentiment',
    commit: `${commit}${dirty ? '+uncommitted' : ''}`,
    settings: { NS, SEEDS, ARMS, M1_EPOCHS, M1_LATENT, M2_EPOCHS, IMB_EPOCHS, IMB_LABELS, IMB_UNLABELED, SEQ_UNLABELED, SEQ_VOCAB, TEST_LIMIT, IMBALANCE },
    arms: Object.fromEntries(ARMS.map((a) => [a, { name: ARM_NAMES[a], config: armConfig(a, NS[0] ?? 100, 1) }])),
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    load: { before: loadBefore.map((x) => +x.toFixed(2)), after: os.loadavg().map((x) => +x.toFixed(2)), oneMinuteAfterEachRun: { min: +Math.min(...loadSamples).toFixed(2), max: +Math.max(...loadSamples).toFixed(2) }, note: 'shared machine: other jobs may be running' },
    minutes: +((Date.now() - started) / 60000).toFixed(1),
    notes: [
      `M1's VAE is trained once per seed, at N = ${Math.max(...NS, 0)}, and its classifier on the posterior means refitted for the other N (the VAE sees no labels; every N of a seed has the same training texts). Its seconds: training + evaluation at N = ${Math.max(...NS, 0)}, refit + evaluation at the others.`,
      `Reduced sequence-model settings to fit the time budget: gru and m2 use embedding 64, hidden 64, vocabulary ${SEQ_VOCAB}; m2 reads ${SEQ_UNLABELED} unlabelled reviews for ${M2_EPOCHS} epochs (gru gets the same vocabulary; about 300 updates on the labels).`,
      'Seeds are the outer loop: a run stopped early (complete: false) holds whole seeds first.',
    ],
    projectedMinutes: projectedMinutes(),
    reference: { what: 'PyTorch reference of the same design, one seed (issue 13), test accuracy %', ...REFERENCE },
    targets: {
      'best semi-supervised arm at N = 100 (target >= 72%)': NS.includes(100) ? Math.max(...['m1', 'm2'].filter((a) => results.table[100]?.[a]).map((a) => results.table[100][a].accuracy.mean)) : null,
      'best semi-supervised arm at N = 1000 (target >= 78%)': NS.includes(1000) ? Math.max(...['m1', 'm2'].filter((a) => results.table[1000]?.[a]).map((a) => results.table[1000][a].accuracy.mean)) : null,
      'm2 beats GRU supervised at every N': ARMS.includes('m2') && ARMS.includes('gru') && NS.length > 0 ? NS.every((n) => results.table[n]?.m2 && results.table[n]?.gru && results.table[n].m2.accuracy.mean > results.table[n].gru.accuracy.mean) : null,
      ...(results.imbalance?.augment && results.imbalance?.oversample
        ? {
            'every remedy beats none on balanced accuracy at R = 100': Object.entries(results.imbalance).every(([k, v]) => k === 'none' || v.balancedAccuracy.mean > results.imbalance.none.balancedAccuracy.mean),
            'VAE augmentation beats random oversampling (balanced accuracy)': results.imbalance.augment.balancedAccuracy.mean > results.imbalance.oversample.balancedAccuracy.mean,
          }
        : {}),
    },
    results,
  };
}

async function save(done) {
  await fs.mkdir(path.join(here, 'results'), { recursive: true });
  await fs.writeFile(path.join(here, 'results', `${OUT}.json`), JSON.stringify(summarize(done), null, 2) + '\n');
}

const runs = {}; // runs[n][arm] = summaries, one per finished seed
function record(n, arm, seed, r) {
  ((runs[n] ??= {})[arm] ??= []).push(r);
  const rs = runs[n][arm];
  (results.table[n] ??= {})[arm] = { accuracy: meanSd(rs.map((x) => x.test.accuracy)), seconds: meanSd(rs.map((x) => x.seconds)), perSeed: rs.map((x) => +x.test.accuracy.toFixed(4)), testExamples: rs[0].test.examples };
  process.stderr.write(`N=${n} ${arm} seed ${seed}: test accuracy ${(r.test.accuracy * 100).toFixed(1)}% (${r.seconds.toFixed(0)}s, load ${os.loadavg()[0].toFixed(1)})\n`);
}
/** Minutes the whole table would take at the seconds measured so far (null until every cell has a run). */
function projectedMinutes() {
  let s = 0;
  for (const n of NS) for (const arm of ARMS) {
    const c = results.table[n]?.[arm];
    if (!c) return null;
    s += c.seconds.mean * SEEDS;
  }
  return +(s / 60).toFixed(1);
}
const nMax = Math.max(...NS);
// Run order: the fast and the target-bearing arms first (columns keep the order of ARMS).
const RUN_ORDER = ['lr', 'm1', 'gru', 'm2'].filter((a) => ARMS.includes(a));
for (let seed = 1; seed <= SEEDS && NS.length > 0; seed++) {
  for (const arm of RUN_ORDER) {
    if (arm === 'm1') {
      const others = NS.filter((n) => n !== nMax);
      const [own, ...refits] = await runOne(armConfig('m1', nMax, seed), `m1-${nMax}-${seed}`, others);
      record(nMax, arm, seed, own);
      others.forEach((n, k) => record(n, arm, seed, refits[k]));
      await save(false);
      continue;
    }
    for (const n of NS) {
      record(n, arm, seed, (await runOne(armConfig(arm, n, seed), `${arm}-${n}-${seed}`))[0]);
      await save(false);
    }
  }
}
if (IMBALANCE) {
  results.imbalance = {};
  for (const remedy of ['none', 'inverse', 'effective', 'oversample', 'undersample', 'focal', 'augment', 'threshold']) {
    const runs = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      // By default every label of the training split (12,250 negative, 122 positive at R = 100).
      const base = armConfig('m1', 1000, seed);
      const config = defaultClassifierConfig({ ...base, epochs: IMB_EPOCHS, remedy, data: { ...base.data, imbalance: 100, labels: IMB_LABELS, unlabeledLimit: IMB_UNLABELED } });
      const [r] = await runOne(config, `imb-${remedy}-${seed}`);
      const minority = r.labels.indexOf(r.minority);
      runs.push({ balanced: r.test.balancedAccuracy, macroF1: r.test.macroF1, minorityRecall: r.test.recall[minority] });
      process.stderr.write(`R=100 ${remedy} seed ${seed}: balanced accuracy ${(r.test.balancedAccuracy * 100).toFixed(1)}%\n`);
    }
    results.imbalance[remedy] = { balancedAccuracy: meanSd(runs.map((r) => r.balanced)), macroF1: meanSd(runs.map((r) => r.macroF1)), minorityRecall: meanSd(runs.map((r) => r.minorityRecall)) };
    await save(false);
  }
}
await save(true);
const out = summarize(true);
const lines = [`| N | ${ARMS.map((a) => ARM_NAMES[a]).join(' | ')} |`, `|---|${ARMS.map(() => '---').join('|')}|`];
for (const n of NS) lines.push(`| ${n} | ${ARMS.map((a) => `${fmt(results.table[n][a].accuracy)}${REFERENCE[n] ? ` (ref ${REFERENCE[n][a]})` : ''}`).join(' | ')} |`);
if (results.imbalance) {
  lines.push('', '| remedy (R = 100, M1 bow) | balanced accuracy | macro-F1 | minority recall |', '|---|---|---|---|');
  for (const [k, v] of Object.entries(results.imbalance)) lines.push(`| ${k} | ${fmt(v.balancedAccuracy)} | ${fmt(v.macroF1)} | ${fmt(v.minorityRecall)} |`);
}
lines.push('', `Test accuracy %, mean ± sd over ${SEEDS} seed(s); commit ${out.commit}; load ${out.load.before.join(' ')} -> ${out.load.after.join(' ')}; ${out.minutes} min. Written to bench/results/${OUT}.json`);
await fs.writeFile(path.join(here, 'results', `${OUT}.md`), lines.join('\n') + '\n');
console.log(lines.join('\n'));
