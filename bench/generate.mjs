#!/usr/bin/env node
// Greedy text generation speed of @vaekit/runtime: tokens per second at batch 1 and 64, and bundle load
// time, on onnxruntime-node (cpu) and in headless Chromium on WASM (the demo page, onnxruntime-web),
// plus onnxruntime-web's WASM build in Node. The backends are interleaved round by round so machine
// load affects them alike; the ratio to ORT-node is shown. Writes bench/results/generate.json.
//
//   npm run build && npm run bench -- generate                 # synthetic bundle at default sizes
//   node bench/generate.mjs --bundle DIR [--rounds 3]          # a bundle made by vaekit export
//
// Without --bundle it writes a synthetic sentence VAE bundle (test/fixtures/toy-text-bundle.mjs) with
// V=10000, E=256, H=512, Z=32: the tensor sizes of a default text model, but a one-matrix tanh
// recurrence instead of a GRU's three gates, so absolute numbers are a lower bound on per-token work.
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadVae, samplePrior } from '@vaekit/runtime';
import { CHROMIUM_PATH, launchChromium } from '../test/fixtures/chromium.mjs';
import { serveDemo } from '../test/fixtures/serve-demo.mjs';
import { writeToyTextBundle } from '../test/fixtures/toy-text-bundle.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROUNDS = Number(arg('--rounds', 3));
const MAX_TOKENS = Number(arg('--max-tokens', 32));
const BATCHES = [1, 64];
const SIZES = { vocabSize: 10000, embed: 256, hidden: 512, latent: 32 };

let bundleDir = arg('--bundle');
let bundleDesc;
if (bundleDir) {
  bundleDesc = `bundle ${bundleDir}`;
} else {
  bundleDir = path.join(os.tmpdir(), `vaekit-bench-generate-${process.pid}`);
  await writeToyTextBundle(bundleDir, SIZES);
  bundleDesc = `synthetic text bundle V=${SIZES.vocabSize} E=${SIZES.embed} H=${SIZES.hidden} Z=${SIZES.latent} (tanh recurrence, see bench/generate.mjs)`;
}
const bytes = (await Promise.all((await fs.readdir(bundleDir)).map(async (f) => (await fs.stat(path.join(bundleDir, f))).size))).reduce((a, b) => a + b, 0);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One Node backend: load time and a closure timing greedy generation. */
async function nodeRunner(backend, threads) {
  const t0 = performance.now();
  const vae = await loadVae(bundleDir, { kind: 'text', backend, ...(threads ? { threads } : {}) });
  const loadMs = performance.now() - t0;
  return {
    loadMs,
    async run(batch) {
      const z = samplePrior(batch, vae.latentSize, 1);
      const t = performance.now();
      const gens = await vae.generate({ z, maxTokens: MAX_TOKENS });
      return { ms: performance.now() - t, tokens: gens.reduce((s, g) => s + g.tokenIds.length, 0) };
    },
    warm: (batch) => vae.generate({ z: samplePrior(batch, vae.latentSize, 1), maxTokens: MAX_TOKENS }),
    dispose: () => vae.dispose(),
  };
}

/** Chromium on WASM through the demo page. */
async function chromiumRunner() {
  const { url, proc } = await serveDemo(bundleDir);
  const browser = await launchChromium();
  const page = await browser.newPage();
  await page.goto(`${url}?backend=wasm&autoload=1`);
  await page.waitForFunction(() => globalThis.vaekitDemo?.ready, null, { timeout: 300_000 });
  const status = await page.textContent('#status');
  if (!/on wasm/.test(status)) throw new Error(`demo page did not load: ${status}`);
  const loadMs = await page.evaluate(() => globalThis.vaekitDemo.loadMs);
  const isolated = await page.evaluate(() => globalThis.crossOriginIsolated);
  return {
    loadMs,
    isolated,
    version: browser.version(),
    run: (batch) => page.evaluate(([b, m]) => globalThis.vaekitDemo.benchGenerate(b, m, 1), [batch, MAX_TOKENS]),
    warm: (batch) => page.evaluate(([b, m]) => globalThis.vaekitDemo.benchGenerate(b, m, 1), [batch, MAX_TOKENS]),
    async dispose() {
      await browser.close();
      proc.kill();
    },
  };
}

// ORT-node's default intra-op pool spins on every core; on a shared machine one thread can be faster.
const runners = {
  'ort-node cpu': await nodeRunner('cpu'),
  'ort-node cpu, 1 thread': await nodeRunner('cpu', 1),
  'ort-web wasm (Node)': await nodeRunner('wasm'),
};
if (existsSync(CHROMIUM_PATH)) runners['Chromium wasm (demo page)'] = await chromiumRunner();
else console.error(`Chromium not found at ${CHROMIUM_PATH}: measuring Node only.`);

const times = {};
for (const name of Object.keys(runners)) for (const b of BATCHES) await runners[name].warm(b);
for (let r = 0; r < ROUNDS; r++) {
  for (const b of BATCHES) {
    for (const [name, runner] of Object.entries(runners)) {
      const { ms, tokens } = await runner.run(b);
      (times[`${name}|${b}`] ??= []).push(tokens / (ms / 1000));
    }
  }
}
const rows = [];
for (const b of BATCHES) {
  const base = median(times[`ort-node cpu|${b}`]);
  for (const name of Object.keys(runners)) {
    const tps = median(times[`${name}|${b}`]);
    rows.push({ backend: name, batch: b, tokensPerSecond: Math.round(tps), ratioToOrtNode: Number((tps / base).toFixed(3)) });
  }
}
const load = Object.fromEntries(Object.entries(runners).map(([name, r]) => [name, Math.round(r.loadMs)]));
const chromiumInfo = runners['Chromium wasm (demo page)'];
for (const r of Object.values(runners)) await r.dispose();
if (!arg('--bundle')) await fs.rm(bundleDir, { recursive: true, force: true });

console.log(`\nGreedy generation, ${MAX_TOKENS} tokens max per sequence, median of ${ROUNDS} interleaved rounds (${bundleDesc})`);
console.log('backend                        batch   tokens/s   vs ort-node');
for (const r of rows) console.log(`${r.backend.padEnd(30)} ${String(r.batch).padStart(5)} ${String(r.tokensPerSecond).padStart(10)}   ${r.ratioToOrtNode.toFixed(2)}x`);
console.log('\nLoad time (manifest, sha256 of every file, sessions), ms:');
for (const [k, v] of Object.entries(load)) console.log(`  ${k.padEnd(28)} ${v}`);

const result = {
  benchmark: 'generate',
  command: `node bench/generate.mjs${args.length ? ' ' + args.join(' ') : ''}`,
  bundle: bundleDesc,
  bundleBytes: bytes,
  strategy: 'greedy',
  maxTokens: MAX_TOKENS,
  rounds: ROUNDS,
  statistic: 'median over interleaved rounds of generated tokens / wall time of one generate() call (decoder_init + one decoder_step per token for the whole batch, finished sequences leave the batch)',
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}${chromiumInfo ? `, Chromium ${chromiumInfo.version} (cross-origin isolated: ${chromiumInfo.isolated})` : ''}`,
  load: `load average at the end ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} (shared machine: other jobs were running)`,
  rows,
  loadMs: load,
};
console.log('\n' + JSON.stringify(result, null, 2));
const out = path.join(here, 'results', 'generate.json');
await fs.writeFile(`${out}.tmp`, JSON.stringify(result, null, 2) + '\n');
await fs.rename(`${out}.tmp`, out);
