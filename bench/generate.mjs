#!/usr/bin/env node
// Text generation speed of @vaekit/runtime's generate() against bare loops over ONNX graphs, on a real
// default SOTU text bundle (bench/lib/sotu-bundle.mjs trains and exports it; vocabulary 10,000,
// embedding 128, GRU 256, latent 32), onnxruntime-node cpu, batch 1 and 64, up to 32 new tokens.
//
//   npm run build && npm run bench -- generate                 # trains the bundle once (bench/out/)
//   node bench/generate.mjs --bundle DIR [--rounds 5] [--threads 1]
//
// Participants, all in this process, interleaved round by round (median tokens/s over rounds):
// - generate() greedy, and generate() top-p 0.9 (strategy sample, seed = round);
// - bare loop, own graph: `session.run` on the bundle's decoder_step.onnx fetching logits and h_out,
//   the state fed back, argmax in JS, finished rows dropped from the batch (state rows gathered);
// - bare loop, torch.onnx twin: the same loop over a GRUCell step of the same sizes exported by
//   torch.onnx.export (bench/peers/torch_gru_step.py, Debian's python3-torch; random weights, so its
//   rows finish when the own-graph loop's rows did for the same z: the batch shrinks alike).
// Two runs per batch: "eos" (finished rows leave the batch; tokens actually generated are counted) and
// "fixed" (<eos> ignored: every row makes 32 tokens; generate({ ignoreEos: true })).
// Session options are the runtime's (graph optimisation 'all') with --threads intra-op threads
// (default 1: the machine is shared; ORT's default pool spins on every core).
// Targets (issue 16): generate() >= 0.9x the own-graph bare loop and >= 1.0x the twin's, every row.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadVae, samplePrior } from '@vaekit/runtime';
import { sotuBundle } from './lib/sotu-bundle.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROUNDS = Number(arg('--rounds', 5));
const MAX_TOKENS = Number(arg('--max-tokens', 32));
const THREADS = Number(arg('--threads', 1));
const BATCHES = [1, 64];
const BOS = 2;
const EOS = 3;
const loadStart = os.loadavg();

let made;
let bundleDir = arg('--bundle');
if (!bundleDir) {
  made = await sotuBundle();
  bundleDir = made.bundleDir;
}
const manifest = JSON.parse(await fs.readFile(path.join(bundleDir, 'manifest.json'), 'utf8'));
const { vocabSize: V, hiddenSize: H, embeddingSize: E } = manifest.text;
const Z = manifest.latentSize;
if (manifest.text.cell !== 'gru') throw new Error('bench/generate.mjs compares against a GRUCell twin: use a GRU bundle.');

// The torch.onnx twin of decoder_step.
const twinPath = path.join(os.tmpdir(), `vaekit-bench-twin-${process.pid}.onnx`);
const py = spawnSync('/usr/bin/python3', [path.join(here, 'peers/torch_gru_step.py'), twinPath, V, E, H, Z, manifest.opset].map(String), { encoding: 'utf8' });
if (py.status !== 0) throw new Error(`torch twin export failed: ${py.stderr}`);
const torchVersion = JSON.parse(py.stdout.trim().split('\n').pop()).torch;

const sessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: THREADS };
const vae = await loadVae(bundleDir, { kind: 'text', backend: 'cpu', threads: THREADS });
const initSession = await ort.InferenceSession.create(path.join(bundleDir, 'decoder_init.onnx'), sessionOptions);
const ownStep = await ort.InferenceSession.create(path.join(bundleDir, 'decoder_step.onnx'), sessionOptions);
const twinStep = await ort.InferenceSession.create(twinPath, sessionOptions);
const headsInGraph = ownStep.outputNames.includes('top_ids');

function gather(data, width, rows) {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/**
 * The hand-written loop: init, then one step per token for the live rows, argmax in JS. `stopAt[i]`
 * (when given) is the step after which row i stops, else <eos> (or nothing, when `fixed`) stops it.
 * Returns tokens generated, wall ms, and each row's length.
 */
/** CPU milliseconds of this process (all threads) since `c0` = process.cpuUsage(). */
function cpuMsSince(c0) {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

async function bareLoop(step, z, { fixed, stopAt }) {
  const n = z.length / Z;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const init = await initSession.run({ z: new ort.Tensor('float32', z, [n, Z]) });
  let h = init.h.data;
  let zs = z;
  let live = Array.from({ length: n }, (_, i) => i);
  let token = new Int32Array(n).fill(BOS);
  const lengths = new Array(n).fill(0);
  let tokens = 0;
  for (let t = 0; t < MAX_TOKENS && live.length > 0; t++) {
    const m = live.length;
    const out = await step.run(
      { token: new ort.Tensor('int32', token, [m]), h: new ort.Tensor('float32', h, [m, H]), z: new ort.Tensor('float32', zs, [m, Z]) },
      ['logits', 'h_out'],
    );
    const logits = out.logits.data;
    const keep = [];
    const next = [];
    for (let r = 0; r < m; r++) {
      let best = 0;
      const base = r * V;
      for (let v = 1; v < V; v++) if (logits[base + v] > logits[base + best]) best = v;
      tokens++;
      const i = live[r];
      lengths[i]++;
      const done = t === MAX_TOKENS - 1 || (stopAt ? lengths[i] >= stopAt[i] : !fixed && best === EOS);
      if (!done) {
        keep.push(r);
        next.push(best);
      }
    }
    if (keep.length === m) h = out.h_out.data;
    else {
      h = gather(out.h_out.data, H, keep);
      zs = gather(zs, Z, keep);
      live = keep.map((r) => live[r]);
    }
    token = Int32Array.from(next);
  }
  return { ms: performance.now() - t0, cpuMs: cpuMsSince(c0), tokens, lengths };
}

async function viaGenerate(z, options) {
  const zs = Array.from({ length: z.length / Z }, (_, i) => z.slice(i * Z, (i + 1) * Z));
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const gens = await vae.generate({ z: zs, maxTokens: MAX_TOKENS, ...options });
  return { ms: performance.now() - t0, cpuMs: cpuMsSince(c0), tokens: gens.reduce((s, g) => s + g.tokenIds.length, 0) };
}

const PARTICIPANTS = ['generate() greedy', 'generate() top-p 0.9', 'bare loop, own graph', 'bare loop, torch.onnx twin'];
const times = {};
const cpuTimes = {};
const record = (key, { ms, cpuMs, tokens }) => {
  (times[key] ??= []).push(tokens / (ms / 1000));
  (cpuTimes[key] ??= []).push(tokens / (cpuMs / 1000));
};

/** One round of every participant at one batch size and mode. */
async function round(batch, mode, r) {
  const z = new Float32Array(batch * Z);
  samplePrior(batch, Z, 100 + r).forEach((v, i) => z.set(v, i * Z));
  const fixed = mode === 'fixed';
  const own = await bareLoop(ownStep, z, { fixed });
  const stopAt = fixed ? undefined : own.lengths;
  const results = {
    'generate() greedy': await viaGenerate(z, { ignoreEos: fixed }),
    'generate() top-p 0.9': await viaGenerate(z, { strategy: 'sample', topP: 0.9, seed: r, ignoreEos: fixed }),
    'bare loop, own graph': own,
    'bare loop, torch.onnx twin': await bareLoop(twinStep, z, { fixed, stopAt }),
  };
  for (const p of PARTICIPANTS) record(`${batch}|${mode}|${p}`, results[p]);
}

/** How often the top-p 0.9 nucleus of a step fits in the graph's top K (else the runtime fetches logits). */
async function nucleusFit(batch) {
  const K = manifest.graphs.decoder_step.outputs.find((o) => o.name === 'top_ids')?.shape[1];
  if (!K) return undefined;
  const z = new Float32Array(batch * Z);
  samplePrior(batch, Z, 7).forEach((v, i) => z.set(v, i * Z));
  const init = await initSession.run({ z: new ort.Tensor('float32', z, [batch, Z]) });
  let h = init.h.data;
  let token = new Int32Array(batch).fill(BOS);
  let fit = 0;
  let all = 0;
  for (let t = 0; t < 8; t++) {
    const out = await ownStep.run({ token: new ort.Tensor('int32', token, [batch]), h: new ort.Tensor('float32', h, [batch, H]), z: new ort.Tensor('float32', z, [batch, Z]) });
    const top = out.top_logits.data;
    const lz = out.log_z.data;
    for (let r = 0; r < batch; r++) {
      let mass = 0;
      for (let k = 0; k < K; k++) mass += Math.exp(top[r * K + k] - (lz[2 * r] + lz[2 * r + 1]));
      all++;
      if (mass >= 0.9) fit++;
    }
    h = out.h_out.data;
    token = out.best_id.data;
  }
  return { K, steps: 8, batch, share: Number((fit / all).toFixed(3)) };
}

// Warm-up, then interleaved rounds.
for (const b of BATCHES) for (const mode of ['eos', 'fixed']) await round(b, mode, -1);
for (const k of Object.keys(times)) {
  times[k] = [];
  cpuTimes[k] = [];
}
for (let r = 0; r < ROUNDS; r++) for (const b of BATCHES) for (const mode of ['eos', 'fixed']) await round(b, mode, r);
const fit = headsInGraph ? await nucleusFit(64) : undefined;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const b of BATCHES) {
  for (const mode of ['eos', 'fixed']) {
    const tps = Object.fromEntries(PARTICIPANTS.map((p) => [p, median(times[`${b}|${mode}|${p}`])]));
    const own = tps['bare loop, own graph'];
    const twin = tps['bare loop, torch.onnx twin'];
    const cpu = Object.fromEntries(PARTICIPANTS.map((p) => [p, median(cpuTimes[`${b}|${mode}|${p}`])]));
    for (const strategy of ['greedy', 'top-p 0.9']) {
      const g = tps[`generate() ${strategy}`];
      rows.push({
        batch: b,
        run: mode === 'eos' ? 'finished rows leave' : 'fixed length (<eos> ignored)',
        strategy,
        generateTokensPerSecond: Math.round(g),
        ownLoopTokensPerSecond: Math.round(own),
        twinLoopTokensPerSecond: Math.round(twin),
        vsOwnLoop: Number((g / own).toFixed(3)),
        vsTwinLoop: Number((g / twin).toFixed(3)),
        meetsTargets: g / own >= 0.9 && g / twin >= 1.0,
        // The same per CPU second of the process (less sensitive to other jobs on a shared machine).
        cpu: {
          generateTokensPerCpuSecond: Math.round(cpu[`generate() ${strategy}`]),
          vsOwnLoop: Number((cpu[`generate() ${strategy}`] / cpu['bare loop, own graph']).toFixed(3)),
          vsTwinLoop: Number((cpu[`generate() ${strategy}`] / cpu['bare loop, torch.onnx twin']).toFixed(3)),
        },
      });
    }
  }
}
await vae.dispose();
await fs.rm(twinPath, { force: true });

const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout.trim() !== '';
console.log(`\nText generation, up to ${MAX_TOKENS} tokens, median of ${ROUNDS} interleaved rounds, onnxruntime-node cpu, ${THREADS} intra-op thread(s)`);
console.log('batch  run                           strategy    generate()  own loop  twin loop  vs own  vs twin  (per CPU s: vs own  vs twin)');
for (const r of rows) {
  console.log(
    `${String(r.batch).padStart(5)}  ${r.run.padEnd(29)} ${r.strategy.padEnd(10)} ${String(r.generateTokensPerSecond).padStart(10)} ${String(r.ownLoopTokensPerSecond).padStart(9)} ${String(r.twinLoopTokensPerSecond).padStart(10)}  ${r.vsOwnLoop.toFixed(2).padStart(5)}x ${r.vsTwinLoop.toFixed(2).padStart(6)}x  ${r.cpu.vsOwnLoop.toFixed(2).padStart(17)}x ${r.cpu.vsTwinLoop.toFixed(2).padStart(6)}x`,
  );
}
if (fit) console.log(`\nTop-p 0.9 nucleus within the graph's top ${fit.K}: ${(fit.share * 100).toFixed(1)}% of rows (${fit.steps} greedy steps, batch ${fit.batch}); the rest are decided from the logits row fetched with them.`);

const result = {
  benchmark: 'generate',
  command: `node bench/generate.mjs${args.length ? ' ' + args.join(' ') : ''}`,
  commit: `${commit}${dirty ? ' (with uncommitted changes)' : ''}`,
  bundle: made
    ? `SOTU text bundle, default model sizes (V=${V}, E=${E}, GRU ${H}, Z=${Z}), trained ${made.epochs} epoch(s) on ${made.trainLimit || 'all'} sentences (${made.command}${made.trainLimit ? '; shortened' : '; the real default run'})`
    : `bundle ${bundleDir} (V=${V}, E=${E}, H=${H}, Z=${Z})`,
  decodingHeadsInGraph: headsInGraph,
  nucleusFitsTopK: fit,
  maxTokens: MAX_TOKENS,
  rounds: ROUNDS,
  threads: THREADS,
  statistic: 'median over interleaved rounds of tokens generated / wall time of one call (decoder_init + steps for the whole batch)',
  peers: { torch: torchVersion, onnxruntimeNode: ort.env.versions?.node ?? 'see package-lock' },
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  load: `load average at start ${loadStart.map((v) => v.toFixed(2)).join(' ')}, at end ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} (shared machine: other jobs were running)`,
  rows,
  ...(made ? { training: { epochs: made.epochs, trainLimit: made.trainLimit, seconds: made.trainSeconds, peakRssMiB: made.trainPeakRssMiB, command: made.command } } : {}),
};
console.log('\n' + JSON.stringify(result, null, 2));
const out = path.join(here, 'results', 'generate.json');
await fs.writeFile(`${out}.tmp`, JSON.stringify(result, null, 2) + '\n');
await fs.rename(`${out}.tmp`, out);
