#!/usr/bin/env node
// Text generation speed in Chromium (onnxruntime-web: wasm, webgpu), the browser rows of issue 16, and
// the demo page's time to first output. Debian's Chromium driven by playwright-core
// (test/fixtures/chromium.mjs: --enable-unsafe-webgpu, SwiftShader's software Vulkan adapter on machines
// without a GPU), the demo page served by `vaekit serve-demo` (startDemoServer) on the generation
// benchmark's SOTU bundle (bench/lib/sotu-bundle.mjs; vocabulary 10,000, GRU 256, latent 32).
//
//   npm run build && npm run bench -- browser-generate
//   node bench/browser-generate.mjs [--bundle DIR] [--rounds 3] [--max-tokens 32] [--backends wasm,webgpu]
//                                   [--webgpu-batches 1] [--webgpu-max-tokens 16] [--webgpu-rounds 1]
// (WebGPU on a machine without a GPU is SwiftShader's software Vulkan: a batch-64 step takes seconds,
// so its rows default to batch 1, 16 tokens, one round; on a real GPU pass --webgpu-batches 1,64 etc.)
//
// In the page, per backend, batch 1 and 64, interleaved rounds (median tokens/s):
// - generate() greedy and generate() top-p 0.9 (seed = round), the runtime's public API;
// - bare loop: the same backend's decoder_step session (the runtime's engine session, the one
//   generate() uses) run with the state fed back, fetching `logits` and the state, argmax in JS,
//   finished rows dropped from the batch (as bench/generate.mjs does in Node).
// Two runs per batch: "eos" (finished rows leave; tokens actually generated are counted) and "fixed"
// (<eos> ignored, every row makes max-tokens tokens). Time to first output: from the start of the page
// navigation to the first generated sentence on the page (#samples li), and the page's own load time
// (demo.loadMs: download, verify, session creation). A backend the browser cannot give (no WebGPU
// adapter) is recorded as such with the page's reason. Writes bench/results/browser-generate.json.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDemoServer } from '../packages/cli/dist/commands/serve-demo.js';
import { launchChromium, CHROMIUM_ARGS } from '../test/fixtures/chromium.mjs';
import { sotuBundle } from './lib/sotu-bundle.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROUNDS = Number(arg('--rounds', 3));
const MAX_TOKENS = Number(arg('--max-tokens', 32));
const BACKENDS = arg('--backends', 'wasm,webgpu').split(',');
const BATCHES = [1, 64];
const SETTINGS = {
  wasm: { batches: BATCHES, maxTokens: MAX_TOKENS, rounds: ROUNDS },
  webgpu: {
    batches: arg('--webgpu-batches', '1').split(',').map(Number),
    maxTokens: Number(arg('--webgpu-max-tokens', 16)),
    rounds: Number(arg('--webgpu-rounds', 1)),
  },
};
const loadStart = os.loadavg();

let made;
let bundleDir = arg('--bundle');
if (!bundleDir) {
  made = await sotuBundle();
  bundleDir = made.bundleDir;
}

/** Runs in the page: every participant, interleaved over rounds; returns tokens/s samples. */
async function benchInPage({ batches, maxTokens, rounds }) {
  const demo = globalThis.vaekitDemo;
  const vae = demo.vae;
  const m = vae.manifest;
  const Z = vae.latentSize;
  const H = m.text.hiddenSize;
  const V = m.text.vocabSize;
  const { bos: BOS, eos: EOS } = m.text.specialTokens;
  const stateNames = m.text.stateNames;
  const sessions = vae.sessions; // the runtime's engine sessions on this backend
  const gauss = (n, seed) => {
    let s = seed >>> 0 || 1;
    const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
    return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
  };
  const gather = (data, width, rows) => {
    const out = new Float32Array(rows.length * width);
    rows.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width));
    return out;
  };
  async function bareLoop(z, n, fixed) {
    const t0 = performance.now();
    const init = await sessions.decoder_init.run({ z: { data: z, dims: [n, Z] } });
    let states = stateNames.map((s) => init[s].data);
    let zs = z;
    let live = Array.from({ length: n }, (_, i) => i);
    let token = new Int32Array(n).fill(BOS);
    let tokens = 0;
    for (let t = 0; t < maxTokens && live.length > 0; t++) {
      const k = live.length;
      const feeds = { token: { data: token, dims: [k] }, z: { data: zs, dims: [k, Z] } };
      stateNames.forEach((s, j) => (feeds[s] = { data: states[j], dims: [k, H] }));
      const out = await sessions.decoder_step.run(feeds, ['logits', ...stateNames.map((s) => `${s}_out`)]);
      const logits = out.logits.data;
      const keep = [];
      const next = [];
      for (let r = 0; r < k; r++) {
        let best = 0;
        const base = r * V;
        for (let v = 1; v < V; v++) if (logits[base + v] > logits[base + best]) best = v;
        tokens++;
        if (t < maxTokens - 1 && (fixed || best !== EOS)) {
          keep.push(r);
          next.push(best);
        }
      }
      const outs = stateNames.map((s) => out[`${s}_out`].data);
      if (keep.length === k) states = outs;
      else {
        states = outs.map((d) => gather(d, H, keep));
        zs = gather(zs, Z, keep);
        live = keep.map((r) => live[r]);
      }
      token = Int32Array.from(next);
    }
    return { ms: performance.now() - t0, tokens };
  }
  async function viaGenerate(z, n, options) {
    const zs = Array.from({ length: n }, (_, i) => z.slice(i * Z, (i + 1) * Z));
    const t0 = performance.now();
    const gens = await vae.generate({ z: zs, maxTokens, ...options });
    return { ms: performance.now() - t0, tokens: gens.reduce((s, g) => s + g.tokenIds.length, 0) };
  }
  const samples = {};
  const add = (key, r) => (samples[key] ??= []).push(r.tokens / (r.ms / 1000));
  for (let r = -1; r < rounds; r++) {
    for (const n of batches) {
      for (const mode of ['eos', 'fixed']) {
        const z = gauss(n * Z, 100 + r + 7 * n);
        const fixed = mode === 'fixed';
        const results = {
          'bare loop, own graph': await bareLoop(z, n, fixed),
          'generate() greedy': await viaGenerate(z, n, { ignoreEos: fixed }),
          'generate() top-p 0.9': await viaGenerate(z, n, { strategy: 'sample', topP: 0.9, seed: r, ignoreEos: fixed }),
        };
        if (r >= 0) for (const [p, res] of Object.entries(results)) add(`${n}|${mode}|${p}`, res);
        console.log(`round ${r} batch ${n} ${mode}: ${Object.entries(results).map(([p, res]) => `${p} ${Math.round(res.tokens / (res.ms / 1000))}`).join(', ')} tokens/s`);
      }
    }
  }
  return { samples, backend: vae.backend, variant: vae.variant };
}

const server = await startDemoServer(path.resolve(bundleDir), 0);
const browser = await launchChromium();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
const firstOutput = [];
const unavailable = [];
try {
  for (const backend of BACKENDS) {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (msg) => msg.text().startsWith('round ') && console.error(`${backend} ${msg.text()}`));
    const t0 = performance.now();
    await page.goto(`${server.url}?backend=${backend}`);
    let firstMs;
    try {
      await page.waitForFunction(() => [...document.querySelectorAll('#samples li')].some((li) => li.textContent.trim() !== ''), null, { timeout: 600_000, polling: 5 });
      firstMs = performance.now() - t0;
      await page.waitForFunction(() => globalThis.vaekitDemo?.ready, null, { timeout: 600_000 });
    } catch (e) {
      unavailable.push({ backend, why: `the page did not load: ${errors.join('; ') || (await page.textContent('#status').catch(() => '')) || e.message}` });
      await page.close();
      continue;
    }
    const state = await page.evaluate(() => ({
      backend: globalThis.vaekitDemo.vae?.backend,
      loadMs: globalThis.vaekitDemo.loadMs,
      checks: globalThis.vaekitDemo.backendChecks,
      adapter: globalThis.navigator.gpu ? 'navigator.gpu present' : 'no navigator.gpu',
    }));
    if (state.backend !== backend) {
      const why = state.checks.find((c) => c.backend === backend)?.why ?? `loaded on ${state.backend} instead`;
      unavailable.push({ backend, why });
      await page.close();
      continue;
    }
    firstOutput.push({ backend, firstSentenceMs: Math.round(firstMs), pageLoadMs: Math.round(state.loadMs) });
    console.error(`${backend}: first sentence after ${Math.round(firstMs)} ms; benchmarking`);
    const settings = SETTINGS[backend] ?? SETTINGS.wasm;
    const res = await page.evaluate(benchInPage, settings);
    for (const n of settings.batches) {
      for (const mode of ['eos', 'fixed']) {
        const own = median(res.samples[`${n}|${mode}|bare loop, own graph`]);
        for (const strategy of ['greedy', 'top-p 0.9']) {
          const g = median(res.samples[`${n}|${mode}|generate() ${strategy}`]);
          rows.push({
            backend,
            batch: n,
            maxTokens: settings.maxTokens,
            rounds: settings.rounds,
            run: mode === 'eos' ? 'finished rows leave' : 'fixed length (<eos> ignored)',
            strategy,
            generateTokensPerSecond: Number(g.toPrecision(3)),
            ownLoopTokensPerSecond: Number(own.toPrecision(3)),
            vsOwnLoop: Number((g / own).toFixed(3)),
            meetsTarget: g / own >= 0.9,
          });
        }
      }
    }
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}

const chromium = spawnSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).stdout?.trim();
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout.trim() !== '';
console.log(`\nText generation in Chromium, up to ${MAX_TOKENS} tokens, median of ${ROUNDS} interleaved rounds`);
console.log('backend  batch  run                           strategy    generate()  bare loop  vs loop');
for (const r of rows) {
  console.log(
    `${r.backend.padEnd(7)} ${String(r.batch).padStart(6)}  ${r.run.padEnd(29)} ${r.strategy.padEnd(10)} ${String(r.generateTokensPerSecond).padStart(10)} ${String(r.ownLoopTokensPerSecond).padStart(10)}  ${r.vsOwnLoop.toFixed(2).padStart(6)}x`,
  );
}
for (const f of firstOutput) console.log(`${f.backend}: first sentence on the demo page ${f.firstSentenceMs} ms after navigation (bundle load ${f.pageLoadMs} ms)`);
for (const u of unavailable) console.log(`${u.backend}: not measured (${u.why})`);

const result = {
  benchmark: 'browser-generate',
  command: `node bench/browser-generate.mjs${args.length ? ' ' + args.join(' ') : ''}`,
  commit: `${commit}${dirty ? ' (with uncommitted changes)' : ''}`,
  bundle: made ? `SOTU text bundle (${made.command}${made.trainLimit ? '; shortened' : '; the real default run'})` : `bundle ${bundleDir}`,
  browser: `${chromium} headless (playwright-core), flags ${CHROMIUM_ARGS.join(' ')}`,
  settings: SETTINGS,
  statistic: 'median over interleaved rounds of tokens generated / wall time of one call in the page (decoder_init + steps for the whole batch)',
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  load: `load average at start ${loadStart.map((v) => v.toFixed(2)).join(' ')}, at end ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} (shared machine)`,
  rows,
  firstOutput,
  unavailable,
};
console.log('\n' + JSON.stringify(result, null, 2));
const out = path.join(here, 'results', 'browser-generate.json');
await fs.writeFile(`${out}.tmp`, JSON.stringify(result, null, 2) + '\n');
await fs.rename(`${out}.tmp`, out);
