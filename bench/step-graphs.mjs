#!/usr/bin/env node
// Bare session.run time of decoder-step ONNX graphs (issue 16: why was vaekit's own decoder_step slower
// than the torch.onnx GRUCell twin?). Each graph runs with the runtime's session options (graph
// optimisation 'all', 1 intra-op thread), inputs token/h/z of batch B, fetching only logits and h_out;
// interleaved rounds, median ms per step.
// --profile: instead, ORT's per-node kernel times (enableProfiling) of each graph at batch 1 and 64.
// bench/peers/step_variants.py makes the head-stripped variants of a bundle's decoder_step.onnx;
// bench/peers/torch_gru_step.py the torch.onnx twin.
//   node bench/step-graphs.mjs [--rounds 7] [--steps 50] [--profile] A.onnx B.onnx ...
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); if (i < 0) return d; const v = args[i + 1]; args.splice(i, 2); return Number(v); };
const profile = args.includes('--profile');
if (profile) args.splice(args.indexOf('--profile'), 1);
const ROUNDS = opt('--rounds', 7);
const STEPS = opt('--steps', 50);
const files = args;
const inputs = (B) => ({
  h: new ort.Tensor('float32', new Float32Array(B * 256), [B, 256]),
  z: new ort.Tensor('float32', Float32Array.from({ length: B * 32 }, (_, k) => Math.sin(k)), [B, 32]),
  token: new ort.Tensor('int32', Int32Array.from({ length: B }, (_, k) => 2 + k), [B]),
});
if (profile) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'vaekit-step-prof-'));
  for (const f of files) {
    for (const B of [1, 64]) {
      const prefix = path.join(dir, `p${B}`);
      const s = await ort.InferenceSession.create(f, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1, enableProfiling: true, profileFilePrefix: prefix });
      const feeds = inputs(B);
      for (let k = 0; k < STEPS; k++) feeds.h = (await s.run(feeds)).h_out;
      s.endProfiling();
      await s.release();
      const file = (await fs.readdir(dir)).find((x) => x.startsWith(`p${B}`));
      const ev = JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')).filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
      await fs.rm(path.join(dir, file));
      const agg = {};
      for (const e of ev) { const k = `${e.args.op_name} ${e.name.replace('_kernel_time', '')}`; agg[k] = (agg[k] ?? 0) + e.dur / STEPS / 1000; }
      const total = Object.values(agg).reduce((a, b) => a + b, 0);
      console.log(`${f} batch ${B}: kernels ${total.toFixed(3)} ms/step`);
      for (const [k, v] of Object.entries(agg).sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${v.toFixed(3)} ms  ${k}`);
    }
  }
  await fs.rm(dir, { recursive: true });
  process.exit(0);
}
const sessions = [];
for (const f of files) {
  const s = await ort.InferenceSession.create(f, { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  sessions.push(s);
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const results = {};
for (const B of [1, 64]) {
  const times = files.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < files.length; i++) {
      const s = sessions[i];
      let { h, z, token } = inputs(B);
      await s.run({ token, h, z }, ['logits', 'h_out']);
      const t0 = performance.now();
      for (let k = 0; k < STEPS; k++) {
        const out = await s.run({ token, h, z }, ['logits', 'h_out']);
        h = out.h_out;
      }
      times[i].push((performance.now() - t0) / STEPS);
    }
  }
  results[B] = Object.fromEntries(files.map((f, i) => [f, +median(times[i]).toFixed(3)]));
}
console.log(JSON.stringify(results, null, 1));
