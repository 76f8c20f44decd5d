#!/usr/bin/env node
// Training step time: vaekit (its default backend and every other available backend) against PyTorch on
// CPU (bench/peers/train_torch.py, Debian's python3-torch), on the reference configurations (dense and
// sentence VAE, the attention translator and the semi-supervised classifier M2),
// same shapes, loss, optimizer (Adam 1e-3) and trainable parameters (each side's count is in the rows). Every participant is a long-lived process; their timed
// chunks interleave round by round, so load from other processes on the machine hits all of them alike.
// Prints a table and JSON and writes bench/results/train.json. Run after `npm run build`:
//   npm run bench -- train
// Environment: BENCH_ROUNDS (default 5), BENCH_CPU_TEXT=1 also times the pure-JS CPU backend on the text
// model (~2 minutes a step, skipped by default), BENCH_CONFIGS=dense,text picks configurations (default
// all four: dense, text, translate, classify; a run of a subset replaces only its configurations' rows in
// bench/results/train.json and keeps the others', each row naming the commit and load that produced it). Also records the peak RSS of a default
// `vaekit train text --data sotu` (issue 16 target: <= 1.5 GB): the real default run of
// bench/lib/sotu-bundle.mjs, shared with the generation benchmark (SOTU_BUNDLE_LIMIT shortens it).
// BENCH_TRAIN_ONLY=rss measures only that and updates train.json's textTrainMemory.
import { execSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { sotuBundle } from './lib/sotu-bundle.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);

/** Peak RSS of the default text training (trained by bench/lib/sotu-bundle.mjs, or reused). */
async function textTrainMemory() {
  const made = await sotuBundle();
  return {
    command: made.command,
    epochs: made.epochs,
    trainSentences: made.trainLimit,
    seconds: made.trainSeconds,
    peakRssMiB: made.trainPeakRssMiB,
    targetMiB: 1536,
    meetsTarget: made.trainPeakRssMiB <= 1536,
    note: made.trainLimit
      ? `peak resident set size of the whole vaekit process (/usr/bin/time -v), ${made.epochs} epoch(s) of the default model on ${made.trainLimit} training sentences (shortened: SOTU_BUNDLE_LIMIT)`
      : 'peak resident set size of the whole vaekit process (/usr/bin/time -v) of the default `vaekit train text` on SOTU, 5 epochs and the final evaluation included',
  };
}
if (process.env.BENCH_TRAIN_ONLY === 'rss') {
  const file = path.join(here, 'results', 'train.json');
  const previous = JSON.parse(await fs.readFile(file, 'utf8'));
  const textMemory = await textTrainMemory();
  console.log(JSON.stringify(textMemory, null, 2));
  await fs.writeFile(file, JSON.stringify({ ...previous, textTrainMemory: textMemory }, null, 2) + '\n');
  process.exit(0);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ALL_CONFIGS = {
  dense: { label: 'dense VAE 784-400-20, batch 128, one Adam step', steps: 10, warmup: 3 },
  text: { label: 'sentence VAE: vocab 5000, emb 128, GRU 256, latent 32, length 25, batch 32, one Adam step', steps: 3, warmup: 2 },
  translate: {
    label: 'attention translator (baseline): source vocab 8221, target vocab 5256, emb 128, bidirectional GRU 256 encoder, GRU 256 decoder, additive attention 256, length 13, batch 64, one Adam step',
    steps: 3,
    warmup: 2,
  },
  // A step is ~35x the text step's FLOPs (10-30 s here): one step per round, a short thread trial on both
  // sides, and no run on tfjs' own WASM kernels (~20 s a text step there, so about 10 minutes a step).
  classify: {
    label: 'semi-supervised classifier M2 (GRU encoder, `vaekit train classify --model m2 --encoder gru` defaults): vocab 10000, emb 64, GRU 256, latent 32, 2 classes, 100 tokens + <eos>, 64 unlabelled + 64 labelled texts (decoder batch 192), one Adam step',
    steps: 1,
    warmup: 1,
    trial: [1, 1],
    skipPlain: true,
  },
};
const picked = (process.env.BENCH_CONFIGS ?? 'dense,text,translate,classify').split(',').map((c) => c.trim());
for (const c of picked) {
  if (!ALL_CONFIGS[c]) {
    console.error(`Unknown configuration "${c}" in BENCH_CONFIGS. Should be one of: ${Object.keys(ALL_CONFIGS).join(', ')}.`);
    process.exit(2);
  }
}
const CONFIGS = Object.fromEntries(Object.entries(ALL_CONFIGS).filter(([c]) => picked.includes(c)));
// Steps per chunk for the slow pure-JS backend (its text step takes minutes).
const SLOW = { dense: { steps: 2, warmup: 1 }, text: process.env.BENCH_CPU_TEXT === '1' ? { steps: 1, warmup: 1 } : null, translate: null, classify: null };

/** Matrix-multiply FLOPs of one training step (forward + both gradients; none for the data's own gradient). */
function stepFlops(config) {
  const mm = (m, k, n, passes = 3) => 2 * m * k * n * passes;
  if (config === 'dense') {
    const b = 128;
    return mm(b, 784, 400, 2) + 2 * mm(b, 400, 20) + mm(b, 20, 400) + mm(b, 400, 784);
  }
  if (config === 'translate') {
    // Encoder GRU both ways, init state, decoder GRU, attention projections (queries, keys) and context,
    // the output layer on [output, context], the logits at every position (what PyTorch computes).
    const [tv, e, h, t, b] = [5256, 128, 256, 13, 64];
    const gru = (inp) => t * (mm(b, inp, 3 * h) + mm(b, h, 3 * h));
    return 2 * gru(e) + mm(b, 2 * h, h) + gru(e) + mm(b * t, h, h) + mm(b * t, 2 * h, h) + mm(b * t, t, 2 * h) + mm(b * t, 3 * h, h) + mm(b * t, h, tv);
  }
  if (config === 'classify') {
    // Encoder GRU over the 2B texts, q(y|x), q(z|x,y) and the decoder's initial state for the C*B + B
    // decoder rows, decoder GRU on [embedding; z; y], the logits at every position (what PyTorch computes).
    const [v, e, h, z, c, t, b] = [10000, 64, 256, 32, 2, 101, 64];
    const rows = c * b + b;
    const gru = (n, inp) => t * (mm(n, inp, 3 * h) + mm(n, h, 3 * h));
    return gru(2 * b, e) + mm(2 * b, h, c) + 2 * mm(rows, h + c, z) + mm(rows, z + c, h) + gru(rows, e + z + c) + mm(rows * t, h, v);
  }
  const [v, e, h, z, t, b] = [5000, 128, 256, 32, 25, 32];
  const gru = (inp) => t * (mm(b, inp, 3 * h) + mm(b, h, 3 * h));
  return gru(e) + 2 * mm(b, h, z) + mm(b, z, h) + gru(e + z) + mm(b * t, h, v);
}

/** A child process answering one JSON line per JSON line sent. */
function participant(name, cmd, args) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], cwd: path.join(here, '..') });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let failed;
  child.on('error', (err) => (failed = err));
  return {
    name,
    async ask(msg) {
      if (failed) throw failed;
      child.stdin.write(JSON.stringify(msg) + '\n');
      const { value, done } = await lines.next();
      if (done) throw new Error(`${name} exited (${failed?.message ?? 'see its stderr above'})`);
      const reply = JSON.parse(value);
      if (reply.error) throw new Error(`${name}: ${reply.error}`);
      return reply;
    },
    close: () => child.stdin.end(),
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const loadBefore = os.loadavg();
// Each row says which commit and load produced it; a run of a subset of configurations (BENCH_CONFIGS)
// keeps the previous file's rows of the others, and its memory measurement.
const commit = (() => {
  try {
    const git = (args) => execSync(`git ${args}`, { cwd: path.join(here, '..') }).toString().trim();
    return git('rev-parse --short HEAD') + (git('status --porcelain --untracked-files=no') ? ' (uncommitted changes)' : '');
  } catch {
    return 'unknown';
  }
})();

const torch = participant('pytorch', '/usr/bin/python3', [path.join(here, 'peers', 'train_torch.py')]);
let torchInfo;
try {
  torchInfo = await torch.ask({ cmd: 'info' });
} catch (err) {
  console.error(`PyTorch peer unavailable (${err.message}); install it with: apt-get install -y python3-torch libopenblas0-pthread`);
  torchInfo = undefined;
}
const workers = [];
for (const backend of ['wasm', 'wasm-plain', 'cpu']) {
  const w = participant(`vaekit:${backend}`, process.execPath, [path.join(here, 'lib', 'train-worker.mjs'), backend]);
  w.backend = backend;
  w.info = await w.ask({ cmd: 'info' });
  workers.push(w);
}
// Two workers that ended on the same configuration measure the same thing: keep the first.
const seen = new Set();
const active = workers.filter((w) => {
  const key = `${w.info.backend}|${w.info.native}`;
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
});

const peak = {};
if (torchInfo) peak.pytorch_mm_1024_gflops = (await torch.ask({ cmd: 'peak' })).gflops;
const nativePeak = await active[0].ask({ cmd: 'peak' }).catch(() => undefined);
if (nativePeak) Object.assign(peak, nativePeak);

const rows = [];
for (const [config, spec] of Object.entries(CONFIGS)) {
  const runners = active.filter((w) => (w.info.backend !== 'cpu' || SLOW[config]) && !(spec.skipPlain && w.info.backend === 'wasm' && !w.info.native));
  const times = new Map(runners.map((w) => [w.name, []]));
  let torchTimes = [];
  const trial = spec.trial ? { trial: spec.trial } : {};
  const torchSetup = torchInfo ? await torch.ask({ cmd: 'setup', config, ...trial }) : undefined;
  const setups = new Map();
  for (const w of runners) setups.set(w.name, await w.ask({ cmd: 'setup', config, ...trial }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const w of runners) {
      const s = w.info.backend === 'cpu' ? SLOW[config] : spec;
      if (round === 0) await w.ask({ cmd: 'steps', config, n: s.warmup });
      times.get(w.name).push(...(await w.ask({ cmd: 'steps', config, n: s.steps })).times);
    }
    if (torchInfo) {
      if (round === 0) await torch.ask({ cmd: 'steps', config, n: spec.warmup });
      torchTimes.push(...(await torch.ask({ cmd: 'steps', config, n: spec.steps })).times);
    }
  }
  const pytorchMs = torchInfo ? median(torchTimes) : null;
  const flops = stepFlops(config);
  for (const w of runners) {
    const ms = median(times.get(w.name));
    rows.push({
      config,
      backend: w.info.native ? `${w.info.backend}+native` : w.info.backend,
      default: w === active[0],
      vaekit_ms: +ms.toFixed(2),
      pytorch_ms: pytorchMs === null ? null : +pytorchMs.toFixed(2),
      ratio: pytorchMs === null ? null : +(ms / pytorchMs).toFixed(2),
      vaekit_gflops: +(flops / ms / 1e6).toFixed(1),
      pytorch_gflops: pytorchMs === null ? null : +(flops / pytorchMs / 1e6).toFixed(1),
      samples: times.get(w.name).length,
      vaekit_threads: setups.get(w.name).threads ?? null,
      pytorch_threads: torchSetup?.threads ?? null,
      vaekit_parameters: setups.get(w.name).parameters ?? null,
      pytorch_parameters: torchSetup?.parameters ?? null,
      ...(w.info.native && setups.get(w.name).real_positions ? { real_positions: setups.get(w.name).real_positions } : {}),
    });
  }
}
for (const w of workers) w.close();
torch.close();

const cpu = os.cpus();
const runLoad = [loadBefore, os.loadavg()].map((l) => +l[0].toFixed(2));
for (const r of rows) Object.assign(r, { commit, loadavg_1min: runLoad });
const subset = Object.keys(CONFIGS).length < Object.keys(ALL_CONFIGS).length;
const previous = subset ? await fs.readFile(path.join(here, 'results', 'train.json'), 'utf8').then(JSON.parse).catch(() => undefined) : undefined;
if (previous) rows.unshift(...previous.rows.filter((r) => !CONFIGS[r.config]));
const result = {
  benchmark: 'train',
  command: 'npm run bench -- train',
  configurations: Object.fromEntries(Object.entries(ALL_CONFIGS).filter(([k]) => CONFIGS[k] || rows.some((r) => r.config === k)).map(([k, v]) => [k, v.label])),
  statistic: `median ms per optimizer step over ${ROUNDS} interleaved rounds after warm-up (vaekit backends and PyTorch alternate)`,
  parameters: 'trainable parameters of each side (vaekit_parameters, pytorch_parameters; null where a step does not report them); the classify twin freezes torch GRU\'s second (recurrent) bias at zero, which tfjs\' GRU does not have, so the counts are equal',
  gflops: 'matrix-multiply FLOPs of one step (forward + gradients) / step time',
  text_logits:
    'the text step: vaekit forms the logits only at the batch\'s real positions (padding after <eos> is skipped, see each row\'s real_positions of 800), PyTorch at all 800; GFLOP/s count all 800 positions on both sides; the translate step likewise (real_positions of 832), and the classify step (real_positions of 19,392 decoder positions)',
  machine: `${cpu.length} x ${cpu[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`,
  load: { loadavg_before: loadBefore.map((x) => +x.toFixed(2)), loadavg_after: os.loadavg().map((x) => +x.toFixed(2)) },
  vaekit: Object.fromEntries(workers.map((w) => [w.backend, w.info])),
  pytorch: torchInfo ?? 'unavailable',
  matmul_peak: peak,
  rows,
  textTrainMemory: subset && previous?.textTrainMemory ? previous.textTrainMemory : await textTrainMemory(),
};
console.table(rows);
console.log(JSON.stringify(result, null, 2));
await fs.writeFile(path.join(here, 'results', 'train.json'), JSON.stringify(result, null, 2) + '\n');
