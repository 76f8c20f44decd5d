#!/usr/bin/env node
// `vaekit serve` under load on loopback: 1, 8 and 64 concurrent clients (keep-alive), each level for
// BENCH_SECONDS (default 30, the issue's length), on encode (one sentence per request) and on generate
// (greedy, 32 tokens), with dynamic batching on (--max-batch 64) and off (--max-batch 1). Reports
// requests/s, tokens/s, p50/p99 latency, errors, CPU time per request of the server and of the load
// client, the server's RSS at start and end, and the p99 of /v2/health/ready probed every 100 ms during
// each level. Also measures the HTTP ceiling: the same client and server on GET /v2/health/live (no
// model, no body), the most requests/s any endpoint can reach on this machine. Writes
// bench/results/serve.json.
//
//   BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'   # extra node flags for the servers
//
//   npm run build && npm run bench -- serve
//   BENCH_SECONDS=5 npm run bench -- serve      # a shortened run (labelled as such in the JSON)
import { execFileSync, spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import path from 'node:path';
import { Pool } from 'undici';
import { writeToyTextBundle } from '../test/fixtures/toy-text-bundle.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const CLI = path.join(here, '..', 'packages', 'cli', 'dist', 'main.js');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const LOAD_AT_START = os.loadavg();
const LEVELS = (process.env.BENCH_LEVELS ?? '1,8,64').split(',').map(Number);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const SIZES = { vocabSize: 5000, embed: 128, hidden: 256, latent: 32 };
const MAX_TOKENS = 32;

const work = isMainThread ? await fs.mkdtemp(path.join(os.tmpdir(), 'vaekit-bench-serve-')) : workerData.work;
const bundleDir = path.join(work, 'bench');
// With the decoding heads of vaekit's own exports, so generation fetches best/top/log Z, not every logit.
if (isMainThread) await writeToyTextBundle(bundleDir, { ...SIZES, heads: true });
const vocab = JSON.parse(readFileSync(path.join(bundleDir, 'tokenizer.json'), 'utf8')).model.vocab;
const words = Object.keys(vocab).filter((w) => !w.startsWith('<'));

const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const pct = (xs, p) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const round = (x, d = 1) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

function startServer(maxBatch) {
  const child = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []), CLI, 'serve', bundleDir, '--port', '0', '--workers', String(WORKERS), '--max-batch', String(maxBatch), '--max-delay-ms', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`vaekit serve exited ${code}: ${out}`)));
  });
}

function get(agent, url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
  });
}

let seq = 0;
function sentence() {
  const n = 5 + (seq % 10);
  return Array.from({ length: n }, (_, i) => words[(seq * 7919 + i * 104729) % words.length]).join(' ');
}

// The load runs in a worker thread and the readiness probe on this thread, so a busy client event
// loop does not inflate the probe's latency.
if (!isMainThread) {
  const { url, task, clients, seconds, seqStart } = workerData;
  seq = seqStart;
  // undici (Node's own HTTP client library): a keep-alive connection per client, far less CPU per
  // request than node:http's Agent, so the load generator takes less of the 2 cores from the server.
  const pool = new Pool(url, { connections: clients, pipelining: 1 });
  const latencies = [];
  let errors = 0;
  let tokens = 0;
  let requests = 0;
  const end = performance.now() + seconds * 1000;
  const send = async () => {
    if (task === 'live') {
      const res = await pool.request({ path: '/v2/health/live', method: 'GET' });
      await res.body.dump();
      return { status: res.statusCode };
    }
    const body = task === 'encode' ? { sentences: [sentence()] } : { n: 1, seed: seq, latentSeed: seq, maxTokens: MAX_TOKENS };
    const res = await pool.request({ path: `/v1/models/bench:${task}`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const client = async () => {
    while (performance.now() < end) {
      seq++;
      const t0 = performance.now();
      const r = await send().catch((err) => ({ status: 0, text: String(err) }));
      const ms = performance.now() - t0;
      if (r.status !== 200) {
        errors++;
        continue;
      }
      requests++;
      latencies.push(ms);
      if (task === 'generate') tokens += JSON.parse(r.text).generations.reduce((n, g) => n + g.tokenIds.length, 0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, client));
  await pool.close();
  parentPort.postMessage({ wall: (performance.now() - t0) / 1000, latencies, errors, tokens, requests });
  process.exit(0);
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
/** CPU seconds (user + system) the process `pid` has used so far, from /proc. */
const cpuSecondsOf = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
};

/** Sum and count of one Prometheus histogram series of the server's /metrics (0, 0 before its first observation). */
async function histogramOf(url, name, label) {
  const text = await new Promise((resolve) => {
    http.get(`${url}/metrics`, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', () => resolve(''));
  });
  const value = (suffix) => Number(new RegExp(`^${name}_${suffix}\\{${label}\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: value('sum'), count: value('count') };
}

/** Rows per ONNX Runtime call during a level: the encoder's batches, or the sequences per shared decoder step. */
const batchSeries = (task) => (task === 'encode' ? ['vaekit_batch_size', 'model="bench_encoder"'] : task === 'generate' ? ['vaekit_decoder_step_sequences', 'bundle="bench"'] : undefined);

async function level(url, task, clients, seconds = SECONDS, serverPid = undefined) {
  const cpu0 = { server: serverPid ? cpuSecondsOf(serverPid) : 0, client: process.cpuUsage() };
  const series = batchSeries(task);
  const batches0 = series ? await histogramOf(url, ...series) : undefined;
  const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  seq += 1_000_000;
  const worker = new Worker(new URL(import.meta.url), { workerData: { url, task, clients, seconds, seqStart: seq, work } });
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const ready = [];
  let probeErrors = 0;
  let probing = true;
  void done.then(() => (probing = false));
  while (probing) {
    const t0 = performance.now();
    const status = await get(probeAgent, `${url}/v2/health/ready`);
    if (status === 200) ready.push(performance.now() - t0);
    else probeErrors++;
    await new Promise((r) => setTimeout(r, 100));
  }
  const { wall, latencies, errors, tokens, requests } = await done;
  probeAgent.destroy();
  const clientUsage = process.cpuUsage(cpu0.client);
  const batches1 = series ? await histogramOf(url, ...series) : undefined;
  const rowsPerRun = batches1 && batches1.count > batches0.count ? round((batches1.sum - batches0.sum) / (batches1.count - batches0.count), 1) : null;
  const perRequestUs = (seconds) => (requests > 0 ? round((seconds / requests) * 1e6) : null);
  return {
    task,
    clients,
    seconds: round(wall, 2),
    requests,
    requestsPerSecond: round(requests / wall),
    ...(task === 'generate' ? { tokensPerSecond: round(tokens / wall) } : {}),
    p50Ms: round(pct(latencies, 50), 2),
    p99Ms: round(pct(latencies, 99), 2),
    errors: errors + probeErrors,
    readyP99Ms: round(pct(ready, 99), 2),
    readyProbes: ready.length,
    ...(serverPid ? { serverCpuUsPerRequest: perRequestUs(cpuSecondsOf(serverPid) - cpu0.server) } : {}),
    clientCpuUsPerRequest: perRequestUs((clientUsage.user + clientUsage.system) / 1e6),
    ...(series ? { rowsPerOnnxRun: rowsPerRun } : {}),
  };
}

// What batching buys inside the engine, without HTTP: rows/s of one worker running the encoder and
// decoder_step at batch 1 and at batch 64 (the ceiling of the on/off ratios above on this machine).
async function engineRatios() {
  const { WorkerPool } = await import('../packages/cli/dist/serve/pool.js');
  const read = (f) => new Uint8Array(readFileSync(path.join(bundleDir, f)));
  const pool = await WorkerPool.start({ encoder: read('encoder.onnx'), step: read('decoder_step.onnx') }, 1);
  const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
  const T = manifest.text.maxLength + 1;
  const H = manifest.text.hiddenSize;
  const Z = manifest.latentSize;
  const feeds = {
    encoder: (b) => ({
      tokens: { dtype: 'int32', dims: [b, T], data: Int32Array.from({ length: b * T }, (_, i) => (i % T < 10 ? 4 + (i % 97) : 0)) },
      lengths: { dtype: 'int32', dims: [b], data: new Int32Array(b).fill(10) },
    }),
    step: (b) => ({
      token: { dtype: 'int32', dims: [b], data: new Int32Array(b).fill(5) },
      h: { dtype: 'float32', dims: [b, H], data: new Float32Array(b * H).fill(0.1) },
      z: { dtype: 'float32', dims: [b, Z], data: new Float32Array(b * Z).fill(0.2) },
    }),
  };
  const out = {};
  const seconds = Math.max(1, Math.min(5, SECONDS / 6));
  for (const model of ['encoder', 'step']) {
    const rate = {};
    for (const b of [1, 64]) {
      let rows = 0;
      const end = performance.now() + seconds * 1000;
      const t0 = performance.now();
      while (performance.now() < end) {
        await pool.run(model, feeds[model](b));
        rows += b;
      }
      rate[b] = rows / ((performance.now() - t0) / 1000);
    }
    out[model === 'step' ? 'decoder_step' : 'encoder'] = { rowsPerSecondBatch1: round(rate[1]), rowsPerSecondBatch64: round(rate[64]), ratio: round(rate[64] / rate[1], 2) };
  }
  await pool.close();
  return out;
}
const engine = await engineRatios();
console.log(`engine (one worker, no HTTP): encoder batch 64 / batch 1 = ${engine.encoder.ratio}x rows/s, decoder_step ${engine.decoder_step.ratio}x`);

// Both servers run side by side (the idle one costs nothing) and each level runs on one then the
// other, so drifting machine load affects both modes alike.
const modes = [
  { mode: 'batching on', maxBatch: 64 },
  { mode: 'batching off', maxBatch: 1 },
];
for (const m of modes) Object.assign(m, await startServer(m.maxBatch));
const top = Math.max(...LEVELS);
for (const m of modes) {
  // Warm-up at the highest load, so start RSS includes the arenas and buffers that load needs (a
  // leak shows as growth over the measured levels; a short warm-up would count the allocator and
  // ONNX Runtime arenas still reaching their steady size as growth).
  for (const task of ['encode', 'generate']) await level(m.url, task, top, Math.min(10, SECONDS));
  m.rssStart = rssOf(m.child.pid);
}
const results = [];
for (const task of ['encode', 'generate']) {
  for (const clients of LEVELS) {
    for (const m of modes) {
      const r = await level(m.url, task, clients, SECONDS, m.child.pid);
      results.push({ mode: m.mode, maxBatch: m.maxBatch, ...r });
      console.log(`${m.mode.padEnd(12)} ${task.padEnd(8)} ${String(clients).padStart(3)} clients: ${r.requestsPerSecond} req/s${r.tokensPerSecond !== undefined ? `, ${r.tokensPerSecond} tok/s` : ''}, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, errors ${r.errors}, ready p99 ${r.readyP99Ms} ms`);
    }
  }
}
// The HTTP ceiling: the same client and server with no model and no body (GET /v2/health/live).
const ceiling = await level(modes[0].url, 'live', top, Math.min(10, SECONDS), modes[0].child.pid);
console.log(`HTTP ceiling (GET /v2/health/live, ${top} clients): ${ceiling.requestsPerSecond} req/s, server ${ceiling.serverCpuUsPerRequest} us and client ${ceiling.clientCpuUsPerRequest} us CPU per request`);
for (const m of modes) {
  m.rssEnd = rssOf(m.child.pid);
  m.child.kill('SIGTERM');
  await new Promise((r) => m.child.on('exit', r));
  for (const row of results.filter((r) => r.mode === m.mode)) Object.assign(row, { rssStartMB: round(m.rssStart / 2 ** 20), rssEndMB: round(m.rssEnd / 2 ** 20) });
}

const at = (mode, task, clients) => results.find((r) => r.mode === mode && r.task === task && r.clients === clients);
const encOn = at('batching on', 'encode', top);
const encOff = at('batching off', 'encode', top);
const genOn = at('batching on', 'generate', top);
const genOff = at('batching off', 'generate', top);
const rssGrowth = Math.max(...['batching on', 'batching off'].map((m) => {
  const r = results.find((x) => x.mode === m);
  return (r.rssEndMB - r.rssStartMB) / r.rssStartMB;
}));
const targets = {
  [`encode throughput at ${top} clients, batching on / off (target >= 5)`]: round(encOn.requestsPerSecond / encOff.requestsPerSecond, 2),
  [`generate tokens/s at ${top} clients, batching on / off (target >= 3)`]: round(genOn.tokensPerSecond / genOff.tokensPerSecond, 2),
  'errors (target 0)': results.reduce((n, r) => n + r.errors, 0),
  'largest RSS growth start -> end (target <= 10%)': `${round(rssGrowth * 100)}%`,
  [`encode at ${top} clients, batching on as a share of the HTTP ceiling (GET /v2/health/live)`]: round(encOn.requestsPerSecond / ceiling.requestsPerSecond, 2),
  [`most an encode on / off ratio can reach here: HTTP ceiling / batching off`]: round(ceiling.requestsPerSecond / encOff.requestsPerSecond, 2),
  [`/v2/health/ready p99 at ${top} clients, worst (target <= 50 ms)`]: Math.max(...results.filter((r) => r.clients === top).map((r) => r.readyP99Ms ?? Infinity)),
};
console.log('\n| mode | task | clients | req/s | tok/s | p50 ms | p99 ms | errors | ready p99 ms | rows per ORT run | CPU us/request server, client | RSS MB start -> end |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  console.log(`| ${r.mode} | ${r.task} | ${r.clients} | ${r.requestsPerSecond} | ${r.tokensPerSecond ?? ''} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} | ${r.readyP99Ms} | ${r.rowsPerOnnxRun} | ${r.serverCpuUsPerRequest}, ${r.clientCpuUsPerRequest} | ${r.rssStartMB} -> ${r.rssEndMB} |`);
}
console.log(`| HTTP ceiling | GET /v2/health/live | ${top} | ${ceiling.requestsPerSecond} | | ${ceiling.p50Ms} | ${ceiling.p99Ms} | ${ceiling.errors} | | | ${ceiling.serverCpuUsPerRequest}, ${ceiling.clientCpuUsPerRequest} | |`);
console.log('\nTargets:');
for (const [k, v] of Object.entries(targets)) console.log(`  ${k}: ${v}`);

const out = {
  benchmark: 'serve',
  command: `${SECONDS !== 30 ? `BENCH_SECONDS=${SECONDS} ` : ''}npm run bench -- serve`,
  shortened: SECONDS < 30 ? `yes: ${SECONDS} s per level instead of the issue's 30 s` : false,
  bundle: `synthetic text bundle V=${SIZES.vocabSize} E=${SIZES.embed} H=${SIZES.hidden} Z=${SIZES.latent} (test/fixtures/toy-text-bundle.mjs, tanh recurrence)`,
  server: `vaekit serve --workers ${WORKERS} --max-delay-ms 2, --max-batch 64 (on) or 1 (off), 127.0.0.1; both servers up, levels interleaved on/off; RSS start after a warm-up at the highest load`,
  clients: 'a worker thread of the bench process with an undici Pool (one keep-alive HTTP/1.1 connection per client, no pipelining; the /v2/health/ready probe, every 100 ms, runs on its main thread with node:http), each client sends its next request when the previous one is answered; encode: one sentence per request; generate: n 1, greedy, maxTokens 32',
  secondsPerLevel: SECONDS,
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  load: `load average at the start ${LOAD_AT_START.map((x) => x.toFixed(2)).join(' ')}, at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (shared machine: other jobs may be running)`,
  targets,
  httpCeiling: { what: `GET /v2/health/live from the same client at ${top} clients on the batching-on server: no model, no body; the most requests/s any endpoint reaches with this client and server on this machine`, ...ceiling },
  engine: { what: 'rows/s of one inference worker running the graph directly at batch 1 and 64, no HTTP: the most batching can gain on this machine', ...engine },
  rows: results,
};
await fs.mkdir(path.join(here, 'results'), { recursive: true });
await fs.writeFile(path.join(here, 'results', 'serve.json'), JSON.stringify(out, null, 2) + '\n');
await fs.rm(work, { recursive: true, force: true });
console.log('\nWrote bench/results/serve.json');
