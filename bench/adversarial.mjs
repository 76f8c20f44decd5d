#!/usr/bin/env node
// Adversarial training (issue 18), both halves; writes bench/results/adversarial.json and adversarial.md.
//
// Images: VAE against VAE-GAN on MNIST (same architecture, epochs and data), measured with the
// sample-quality metrics of `vaekit eval` (FID / precision / recall / confident share on vaekit's own
// MNIST classifier, held-out -ELBO) and training time; also a PNG of both models' prior samples side by
// side (bench/results/adversarial-samples.png).
// Text: the sentence VAE against the same VAE with the adversarial latent critic (`--adversarial
// latent`) on SOTU (same epochs and data), measured with `vaekit eval --samples`: forward perplexity
// (prior samples under a language-model baseline trained on the same data), reverse perplexity (a
// language model trained on the prior samples, scored on the real test split), distinct-2, and the
// test split's KL and mutual information; training time.
//
//   npm run build && npm run bench -- adversarial                    (both halves at the default scale)
//   ADV_PARTS=text npm run bench -- adversarial                      (one half; the other half's section
//                                                                     of adversarial.json is kept as it is)
// Default scale (the issue's budget is 60 minutes on 2 cores; one run of both halves took 24.5 minutes on a
// quiet machine at 3bbe291): images 5 epochs of
// all 9,000 digits at batch 64; text 3 epochs of 10,000 SOTU sentences (--anneal-steps 500).
// Image scale: ADV_EPOCHS (5), ADV_LIMIT (0 = all 9,000 digits), ADV_ARCH (conv), ADV_SAMPLES (1000),
//   ADV_GAN_ARGS (options of the VAE-GAN run only; "--feature-weight 10 --beta 8 --prior-weight 3
//   --no-encoder-fool", the closest to both targets in
//   bench/results/adversarial-sweep.md), ADV_IMAGE_ARGS (options of both image runs; "--batch-size 64").
// Text scale: ADV_TEXT_EPOCHS (3), ADV_TEXT_LIMIT (10000 training sentences; 0 = all), ADV_TEXT_SAMPLES
//   (10000 prior samples), ADV_TEXT_REVERSE_EPOCHS (2), ADV_TEXT_EVAL_LIMIT (500 validation sentences per
//   epoch), ADV_TEXT_ARGS (options for all three text runs; "--anneal-steps 500"), ADV_LATENT_ARGS
//   (options of the adversarial run; "--adversarial-weight 5", the critic beside the KL term).
//
// Targets (issue 18): VAE-GAN FID <= 0.6 x the VAE's, with higher precision; text: reverse perplexity of
// the adversarial model below the VAE's, with forward perplexity no more than 10% worse.
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const cli = path.join(root, 'packages/cli/dist/main.js');
const out = path.join(root, 'bench/out');
const results = path.join(root, 'bench/results');
const parts = (process.env.ADV_PARTS ?? 'image,text').split(',').map((s) => s.trim());
const args = (v) => (v ?? '').split(' ').filter(Boolean);

function vaekit(argv) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [cli, ...argv], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  if (r.status !== 0) {
    console.error(`vaekit ${argv.join(' ')} failed with exit code ${r.status}`);
    process.exit(1);
  }
  return { json: JSON.parse(r.stdout.toString()), seconds: (performance.now() - started) / 1000 };
}

const git = (a) => spawnSync('git', a, { cwd: root, encoding: 'utf8' }).stdout.trim();
/** The code a section is measured with, taken when it starts (later commits do not change it). */
const codeState = () => ({
  commit: git(['rev-parse', 'HEAD']),
  // The files this run writes into bench/results do not count as uncommitted changes.
  dirty: git(['status', '--porcelain', '--', '.', ':!bench/results']).length > 0,
});
/** What a section records as it starts: the code it is measured with (later commits do not change it), the load, the clock. */
const sectionStart = () => ({ code: codeState(), loadStart: os.loadavg(), started: performance.now() });
/** Where and when a section was measured, and its wall time (training and evaluation of every model). */
const provenance = ({ code, loadStart, started }) => ({
  ...code,
  date: new Date().toISOString(),
  wallSeconds: (performance.now() - started) / 1000,
  machine: { cpus: os.cpus().length, loadAverageStart: loadStart, loadAverageEnd: os.loadavg() },
});
const f = (v, d = 2) => (typeof v === 'number' ? v.toFixed(d) : String(v));
const took = (s) => (typeof s.wallSeconds === 'number' ? `; the section took ${f(s.wallSeconds / 60, 1)} min` : '');
const load = (m) => `load average ${m.loadAverageStart.map((l) => l.toFixed(1)).join('/')} at start, ${m.loadAverageEnd.map((l) => l.toFixed(1)).join('/')} at end (${m.cpus} CPUs, shared)`;

async function imagePart() {
  const start = sectionStart();
  const epochs = process.env.ADV_EPOCHS ?? '5';
  const limit = process.env.ADV_LIMIT ?? '0';
  const arch = process.env.ADV_ARCH ?? 'conv';
  const samples = process.env.ADV_SAMPLES ?? '1000';
  const ganArgs = args(process.env.ADV_GAN_ARGS ?? '--feature-weight 10 --beta 8 --prior-weight 3 --no-encoder-fool');
  const imageArgs = args(process.env.ADV_IMAGE_ARGS ?? '--batch-size 64');
  const common = ['train', 'image', '--arch', arch, '--epochs', epochs, ...(limit !== '0' ? ['--limit', limit] : []), ...imageArgs, '--force', '--json'];
  const models = [
    { name: 'VAE', dir: path.join(out, 'adv-vae'), args: [] },
    { name: 'VAE-GAN', dir: path.join(out, 'adv-vaegan'), args: ['--adversarial', 'vaegan', ...ganArgs] },
  ];
  const rows = [];
  for (const m of models) {
    const train = vaekit([...common, ...m.args, '--out', m.dir]);
    const grid = path.join(out, `${path.basename(m.dir)}.png`);
    const evaluation = vaekit(['eval', m.dir, '--samples', samples, '--grid', grid, '--json']);
    const config = JSON.parse(await fs.readFile(path.join(m.dir, 'config.json'), 'utf8'));
    rows.push({ model: m.name, trainSeconds: train.seconds, evalSeconds: evaluation.seconds, ...evaluation.json, adversarial: config.adversarial ?? null, grid });
  }
  // Both sample grids side by side, VAE left.
  const grids = await Promise.all(rows.map(async (r) => PNG.sync.read(await fs.readFile(r.grid))));
  const gap = 16;
  const joined = new PNG({ width: grids.reduce((s, g) => s + g.width, 0) + gap, height: Math.max(...grids.map((g) => g.height)) });
  joined.data.fill(255);
  let x0 = 0;
  for (const g of grids) {
    PNG.bitblt(g, joined, 0, 0, g.width, g.height, x0, 0);
    x0 += g.width + gap;
  }
  await fs.writeFile(path.join(results, 'adversarial-samples.png'), PNG.sync.write(joined));
  const [vae, gan] = rows;
  return {
    ...provenance(start),
    scale: { arch, epochs: Number(epochs), trainLimit: Number(limit), samples: Number(samples), imageArgs, ganArgs },
    models: rows.map(({ grid: _g, ...r }) => r),
    targets: {
      fidRatio: { target: '<= 0.6', value: gan.fid / vae.fid, met: gan.fid <= 0.6 * vae.fid },
      precision: { target: 'VAE-GAN > VAE', value: [vae.precision, gan.precision], met: gan.precision > vae.precision },
    },
  };
}

function imageMarkdown(s) {
  const { scale, targets } = s;
  return [
    `## Images: VAE vs VAE-GAN (MNIST)`,
    ``,
    `Commit ${s.commit}${s.dirty ? ' (with uncommitted changes)' : ''}, ${s.date}; ${scale.arch} architecture, ${scale.epochs} epochs, ` +
      `${scale.trainLimit === 0 ? 'all 9,000' : scale.trainLimit} training digits, ${scale.samples} samples` +
      `${scale.imageArgs?.length ? `, options ${scale.imageArgs.join(' ')}` : ''}${scale.ganArgs?.length ? `, VAE-GAN options ${scale.ganArgs.join(' ')}` : ''}; ${load(s.machine)}${took(s)}.`,
    ``,
    `| model | FID | precision | recall | confident share | held-out -ELBO | train s |`,
    `|---|---|---|---|---|---|---|`,
    ...s.models.map((r) => `| ${r.model} | ${f(r.fid)} | ${f(r.precision, 3)} | ${f(r.recall, 3)} | ${f(r.confident, 3)} | ${f(r.heldOut.elbo)} | ${f(r.trainSeconds, 0)} |`),
    ``,
    `FID ratio VAE-GAN / VAE: ${f(targets.fidRatio.value, 3)} (target <= 0.6: ${targets.fidRatio.met ? 'met' : 'not met'}); precision higher: ${targets.precision.met ? 'yes' : 'no'}.`,
    `Samples (VAE left, VAE-GAN right): adversarial-samples.png`,
  ].join('\n');
}

async function textPart() {
  const start = sectionStart();
  const epochs = process.env.ADV_TEXT_EPOCHS ?? '3';
  const limit = process.env.ADV_TEXT_LIMIT ?? '10000';
  const samples = process.env.ADV_TEXT_SAMPLES ?? '10000';
  const reverseEpochs = process.env.ADV_TEXT_REVERSE_EPOCHS ?? '2';
  const evalLimit = process.env.ADV_TEXT_EVAL_LIMIT ?? '500';
  const textArgs = args(process.env.ADV_TEXT_ARGS ?? '--anneal-steps 500');
  const latentArgs = args(process.env.ADV_LATENT_ARGS ?? '--adversarial-weight 5');
  const common = ['train', 'text', '--data', 'sotu', '--epochs', epochs, ...(limit !== '0' ? ['--limit', limit] : []), '--eval-limit', evalLimit, '--k', '0', ...textArgs, '--force', '--json'];
  const lmDir = path.join(out, 'adv-text-lm');
  console.error(`text: language-model baseline (${epochs} epochs)`);
  const lm = vaekit([...common, '--model', 'lm', '--out', lmDir]);
  const models = [
    { name: 'sentence VAE', dir: path.join(out, 'adv-text-vae'), args: [] },
    { name: 'adversarial latent', dir: path.join(out, 'adv-text-latent'), args: ['--adversarial', 'latent', ...latentArgs] },
  ];
  const rows = [];
  for (const m of models) {
    console.error(`text: ${m.name} (${epochs} epochs)`);
    const train = vaekit([...common, ...m.args, '--out', m.dir]);
    console.error(`text: ${m.name}: ${samples} prior samples, forward and reverse perplexity`);
    const evaluation = vaekit(['eval', m.dir, '--k', '0', '--examples', '0', '--baseline', lmDir, '--samples', samples, '--reverse-epochs', reverseEpochs, '--json']);
    const config = JSON.parse(await fs.readFile(path.join(m.dir, 'config.json'), 'utf8'));
    const { vae, baseline, sampleQuality } = evaluation.json;
    rows.push({
      model: m.name,
      trainSeconds: train.json.seconds,
      evalSeconds: evaluation.seconds,
      forwardPpl: sampleQuality.forwardPpl,
      reversePpl: sampleQuality.reversePpl,
      kl: vae.metrics.kl,
      mi: vae.metrics.mi,
      testElbo: vae.metrics.elbo,
      testPplElboBound: vae.metrics.ppl,
      distinct1: sampleQuality.distinct1,
      distinct2: sampleQuality.distinct2,
      selfBleu: sampleQuality.selfBleu,
      meanLength: sampleQuality.meanLength,
      examples: sampleQuality.examples,
      baselineTestPpl: baseline.metrics.ppl,
      lastEpoch: train.json.epochs.at(-1),
      adversarial: config.adversarial ?? null,
    });
  }
  const [vae, adv] = rows;
  return {
    ...provenance(start),
    scale: { data: 'sotu', epochs: Number(epochs), trainLimit: Number(limit), samples: Number(samples), reverseEpochs: Number(reverseEpochs), evalLimit: Number(evalLimit), textArgs, latentArgs },
    baseline: { trainSeconds: lm.json.seconds, testPpl: lm.json.test.metrics.ppl, testSentences: lm.json.test.metrics.sentences },
    models: rows,
    targets: {
      reversePpl: { target: 'adversarial < VAE', value: [vae.reversePpl, adv.reversePpl], met: adv.reversePpl < vae.reversePpl },
      forwardPplRatio: { target: '<= 1.1', value: adv.forwardPpl / vae.forwardPpl, met: adv.forwardPpl <= 1.1 * vae.forwardPpl },
    },
  };
}

function textMarkdown(s) {
  const { scale, targets } = s;
  return [
    `## Text: sentence VAE vs adversarial latent (SOTU)`,
    ``,
    `Commit ${s.commit}${s.dirty ? ' (with uncommitted changes)' : ''}, ${s.date}; ${scale.epochs} epochs, ` +
      `${scale.trainLimit === 0 ? 'all' : scale.trainLimit} training sentences${scale.textArgs.length ? ` (${scale.textArgs.join(' ')})` : ''}, adversarial options ${scale.latentArgs.join(' ') || '(defaults)'}; ` +
      `${scale.samples} prior samples, reverse language model ${scale.reverseEpochs} epochs; ${load(s.machine)}${took(s)}.`,
    `Language-model baseline (same data and epochs): test perplexity ${f(s.baseline.testPpl)} on ${s.baseline.testSentences} sentences, trained in ${f(s.baseline.trainSeconds, 0)} s.`,
    ``,
    `| model | forward PPL | reverse PPL | KL | MI | distinct-2 | self-BLEU | test -ELBO | train s |`,
    `|---|---|---|---|---|---|---|---|---|`,
    ...s.models.map((r) => `| ${r.model} | ${f(r.forwardPpl)} | ${f(r.reversePpl)} | ${f(r.kl)} | ${f(r.mi)} | ${f(r.distinct2, 3)} | ${f(r.selfBleu)} | ${f(r.testElbo)} | ${f(r.trainSeconds, 0)} |`),
    ``,
    `Reverse perplexity adversarial / VAE: ${f(targets.reversePpl.value[1])} / ${f(targets.reversePpl.value[0])} (target: below the VAE's: ${targets.reversePpl.met ? 'met' : 'not met'}); ` +
      `forward perplexity ratio ${f(targets.forwardPplRatio.value, 3)} (target <= 1.1: ${targets.forwardPplRatio.met ? 'met' : 'not met'}).`,
  ].join('\n');
}

await fs.mkdir(out, { recursive: true });
await fs.mkdir(results, { recursive: true });
const jsonFile = path.join(results, 'adversarial.json');
let previous = existsSync(jsonFile) ? JSON.parse(await fs.readFile(jsonFile, 'utf8')) : {};
// Results written before the text half existed hold the image section at the top level.
if (previous.models && !previous.image) {
  const { benchmark: _b, targets, ...image } = previous;
  previous = { image: { ...image, targets: { fidRatio: targets.fidRatio, precision: targets.precision } } };
}
const report = {
  benchmark: 'adversarial',
  image: parts.includes('image') ? await imagePart() : (previous.image ?? null),
  text: parts.includes('text') ? await textPart() : (previous.text ?? null),
};
const md = [
  `# Adversarial benchmark (issue 18)`,
  ``,
  `Each half names the commit, scale and machine load it was measured at, and its wall time (\`ADV_PARTS\` runs one half and keeps the other's results).`,
  ...(report.image?.wallSeconds && report.text?.wallSeconds
    ? [``, `Both halves: ${f((report.image.wallSeconds + report.text.wallSeconds) / 60, 1)} min (budget: 60 min on 2 cores)${parts.includes('image') && parts.includes('text') ? '' : ' (the halves were measured in separate runs)'}.`]
    : []),
  ``,
  report.image ? imageMarkdown(report.image) : '## Images: not measured',
  ``,
  report.text ? textMarkdown(report.text) : '## Text: not measured',
].join('\n');
await fs.writeFile(jsonFile, JSON.stringify(report, null, 2) + '\n');
await fs.writeFile(path.join(results, 'adversarial.md'), md + '\n');
console.log(md);
