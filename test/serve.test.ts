/**
 * `vaekit serve` end to end on a tiny trained text bundle: the same outputs as the runtime (task
 * endpoints and Open Inference Protocol), shared decoder steps for concurrent generations, the
 * reliability cases (bad requests between good ones, client disconnect mid-stream, slow client),
 * a tampered bundle refused at start-up, and SIGTERM under load losing no accepted request.
 */
import assert from 'node:assert/strict';
import { cpSync, writeFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadVae, type ImageVae, type TextVae } from '@vaekit/runtime';
import { tempDir, trainedBundle, trainedTextBundle, vaekit } from './helpers.js';
import { postBytes, postOk, request, startServe, type ServeProcess } from './serve-helpers.js';

let bundleDir: string;
let imageDir: string;
let vae: TextVae;
let image: ImageVae;
let server: ServeProcess;

before(async () => {
  const made = trainedTextBundle('gru');
  // The bundle folder's name is the bundle name in URLs.
  bundleDir = path.join(tempDir('vaekit-serve-'), 'toy');
  cpSync(made.bundleDir, bundleDir, { recursive: true });
  imageDir = path.join(path.dirname(bundleDir), 'mnist');
  cpSync(trainedBundle('dense').bundleDir, imageDir, { recursive: true });
  vae = await loadVae(bundleDir, { kind: 'text' });
  image = await loadVae(imageDir, { kind: 'image' });
  server = await startServe([bundleDir, imageDir, '--workers', '2', '--max-batch', '64', '--body-limit', '65536', '--request-timeout', '1500']);
});

after(async () => {
  await vae?.dispose();
  await image?.dispose();
  const code = await server?.stop();
  assert.equal(code, 0, `vaekit serve should exit 0 after SIGTERM:\n${server?.output()}`);
});

const maxAbs = (a: number[][], b: Float32Array[]) => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i]![j]!))));

test('task endpoints give the runtime outputs (encode, generate greedy and sample, reconstruct, sample, beam)', async () => {
  const sentences = ['the cat sat on the mat today .', 'a dog ran to the park .', 'unknownword reads a book'];
  const enc = await postOk(`${server.url}/v1/models/toy:encode`, { sentences });
  const ref = await vae.encode(sentences);
  assert.ok(maxAbs(enc.mu, ref.mu) < 1e-5, `encode mu differs by ${maxAbs(enc.mu, ref.mu)}`);
  assert.ok(maxAbs(enc.logvar, ref.logvar) < 1e-5);

  for (const options of [
    { n: 5, seed: 7, strategy: 'sample' as const, maxTokens: 12, topK: 5 },
    { n: 3, seed: 1, strategy: 'greedy' as const, maxTokens: 10 },
    { n: 2, seed: 2, strategy: 'beam' as const, beamWidth: 3, maxTokens: 8 },
  ]) {
    const got = await postOk(`${server.url}/v1/models/toy:generate`, options);
    const want = await vae.generate(options);
    assert.deepEqual(got.generations.map((g: { tokenIds: number[] }) => g.tokenIds), want.map((g) => g.tokenIds), `generate ${options.strategy}`);
    assert.deepEqual(got.generations.map((g: { text: string }) => g.text), want.map((g) => g.text));
    got.generations.forEach((g: { logprob: number }, i: number) => assert.ok(Math.abs(g.logprob - want[i]!.logprob) < 1e-4));
  }
  const rec = await postOk(`${server.url}/v1/models/toy:reconstruct`, { sentences, maxTokens: 10 });
  assert.deepEqual(rec.generations.map((g: { text: string }) => g.text), (await vae.reconstruct(sentences, { maxTokens: 10 })).map((g) => g.text));
  const smp = await postOk(`${server.url}/v1/models/toy:sample`, { n: 4, seed: 9, latentTemperature: 0.8, temperature: 1.5, strategy: 'sample', maxTokens: 10 });
  assert.deepEqual(smp.generations.map((g: { tokenIds: number[] }) => g.tokenIds), (await vae.sample(4, { seed: 9, latentTemperature: 0.8, temperature: 1.5, strategy: 'sample', maxTokens: 10 })).map((g) => g.tokenIds));
});

test('image bundle task endpoints give the runtime outputs (encode, decode, reconstruct, sample)', async () => {
  const pixels = 28 * 28;
  const images = [0, 1, 2].map((k) => Float32Array.from({ length: pixels }, (_, i) => ((i * (k + 3)) % 17) / 16));
  const rows = images.map((x) => Array.from(x));
  const enc = await postOk(`${server.url}/v1/models/mnist:encode`, { images: rows });
  const ref = await image.encode(images);
  assert.ok(maxAbs(enc.mu, ref.mu) < 1e-5 && maxAbs(enc.logvar, ref.logvar) < 1e-5);
  const dec = await postOk(`${server.url}/v1/models/mnist:decode`, { z: ref.mu.map((r) => Array.from(r)) });
  assert.ok(maxAbs(dec.images, await image.decode(ref.mu)) < 1e-5);
  const rec = await postOk(`${server.url}/v1/models/mnist:reconstruct`, { images: rows });
  assert.ok(maxAbs(rec.images, await image.reconstruct(images)) < 1e-5);
  const smp = await postOk(`${server.url}/v1/models/mnist:sample`, { n: 3, seed: 4, latentTemperature: 0.7 });
  const want = await image.sample(3, { seed: 4, latentTemperature: 0.7 });
  assert.ok(maxAbs(smp.z, want.z) < 1e-6 && maxAbs(smp.images, want.images) < 1e-5);
  const wrong = await request(`${server.url}/v1/models/mnist:encode`, 'POST', { images: [[0, 1]] });
  assert.equal(wrong.status, 400);
  assert.match(wrong.json().error, /784/);
  assert.equal((await request(`${server.url}/v1/models/mnist:generate`, 'POST', { n: 1 })).status, 400);
});

test('Open Inference Protocol: metadata, readiness and infer on a graph match the runtime', async () => {
  for (const p of ['/v2', '/v2/health/live', '/v2/health/ready', '/v2/models/toy_encoder/ready']) assert.equal((await request(server.url + p, 'GET')).status, 200, p);
  const meta = (await request(`${server.url}/v2/models/toy_encoder`, 'GET')).json();
  assert.deepEqual(meta.inputs.map((t: { name: string; datatype: string }) => `${t.name}:${t.datatype}`), ['tokens:INT32', 'lengths:INT32']);
  assert.deepEqual(meta.outputs[0].shape, [-1, vae.latentSize]);
  const ids = [...vae.tokenizer.encode('the cat sat on the mat'), vae.manifest.text.specialTokens.eos];
  const res = await postOk(`${server.url}/v2/models/toy_encoder/infer`, {
    id: 'r1',
    inputs: [
      { name: 'tokens', shape: [1, ids.length], datatype: 'INT32', data: [ids] },
      { name: 'lengths', shape: [1], datatype: 'INT32', data: [ids.length] },
    ],
    outputs: [{ name: 'mu' }],
  });
  assert.equal(res.id, 'r1');
  assert.equal(res.model_name, 'toy_encoder');
  assert.deepEqual(res.outputs.map((o: { name: string }) => o.name), ['mu']);
  assert.deepEqual(res.outputs[0].shape, [1, vae.latentSize]);
  const ref = await vae.encode(['the cat sat on the mat']);
  assert.ok(maxAbs([res.outputs[0].data], ref.mu) < 1e-5);
});

test('binary tensor data extension: binary inputs and outputs give the JSON answers; bad sizes are 400', async () => {
  assert.deepEqual((await request(`${server.url}/v2`, 'GET')).json().extensions, ['binary_tensor_data']);
  const ids = [...vae.tokenizer.encode('the cat sat on the mat'), vae.manifest.text.specialTokens.eos];
  const tokens = Buffer.from(Int32Array.from(ids).buffer);
  const lengths = Buffer.from(Int32Array.of(ids.length).buffer);
  const binaryRequest = (head: object, ...tensors: Buffer[]) => {
    const json = Buffer.from(JSON.stringify(head));
    return postBytes(`${server.url}/v2/models/toy_encoder/infer`, Buffer.concat([json, ...tensors]), {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(json.length),
    });
  };
  const inputs = [
    { name: 'tokens', shape: [1, ids.length], datatype: 'INT32', parameters: { binary_data_size: tokens.length } },
    { name: 'lengths', shape: [1], datatype: 'INT32', parameters: { binary_data_size: lengths.length } },
  ];
  const ref = await vae.encode(['the cat sat on the mat']);

  // Binary inputs, mu as binary data and logvar as JSON (an output's binary_data overrides binary_data_output).
  const res = await binaryRequest({ inputs, parameters: { binary_data_output: true }, outputs: [{ name: 'mu' }, { name: 'logvar', parameters: { binary_data: false } }] }, tokens, lengths);
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.headers['content-type'], 'application/octet-stream');
  const jsonLength = Number(res.headers['inference-header-content-length']);
  const head = JSON.parse(res.body.subarray(0, jsonLength).toString());
  assert.deepEqual(head.outputs[0], { name: 'mu', datatype: 'FP32', shape: [1, vae.latentSize], parameters: { binary_data_size: 4 * vae.latentSize } });
  const mu = new Float32Array(res.body.buffer.slice(res.body.byteOffset + jsonLength, res.body.byteOffset + jsonLength + 4 * vae.latentSize));
  assert.ok(maxAbs([Array.from(mu)], ref.mu) < 1e-5);
  assert.ok(maxAbs([head.outputs[1].data], ref.logvar) < 1e-5);
  assert.equal(res.body.length, jsonLength + 4 * vae.latentSize);

  // Binary inputs, JSON outputs: an ordinary JSON answer.
  const plain = await binaryRequest({ inputs }, tokens, lengths);
  assert.equal(plain.status, 200);
  assert.match(String(plain.headers['content-type']), /application\/json/);
  assert.ok(maxAbs([JSON.parse(plain.body.toString()).outputs[0].data], ref.mu) < 1e-5);

  // Sizes that do not add up, and a header longer than the body, are the client's mistakes.
  for (const [what, reply] of [
    ['too few bytes', await binaryRequest({ inputs }, tokens)],
    ['bytes left over', await binaryRequest({ inputs }, tokens, lengths, Buffer.alloc(4))],
    ['size not matching the shape', await binaryRequest({ inputs: [{ ...inputs[0], parameters: { binary_data_size: tokens.length - 4 } }, inputs[1]] }, tokens.subarray(4), lengths)],
    ['header past the body', await postBytes(`${server.url}/v2/models/toy_encoder/infer`, Buffer.from('{}'), { 'content-type': 'application/octet-stream', 'inference-header-content-length': '99' })],
  ] as const) {
    assert.equal(reply.status, 400, `${what}: ${reply.body.toString()}`);
    assert.ok(typeof JSON.parse(reply.body.toString()).error === 'string', what);
  }
});

test('concurrent generations share decoder steps and each equals its solo result', async () => {
  const bodies = Array.from({ length: 12 }, (_, i) => ({ n: 2, seed: 100 + i, strategy: 'sample', maxTokens: 10 + (i % 5) }));
  const results = await Promise.all(bodies.map((b) => postOk(`${server.url}/v1/models/toy:generate`, b)));
  for (const [i, b] of bodies.entries()) {
    const want = await vae.generate(b as Parameters<TextVae['generate']>[0]);
    assert.deepEqual(results[i].generations.map((g: { tokenIds: number[] }) => g.tokenIds), want.map((g) => g.tokenIds), `request ${i}`);
  }
  const metrics = (await request(`${server.url}/metrics`, 'GET')).body;
  const sum = Number(/vaekit_decoder_step_sequences_sum\{bundle="toy"\} (\d+)/.exec(metrics)?.[1]);
  const count = Number(/vaekit_decoder_step_sequences_count\{bundle="toy"\} (\d+)/.exec(metrics)?.[1]);
  assert.ok(count > 0 && sum / count > 1.5, `decoder step runs should hold several sequences on average (${sum} sequences in ${count} runs)`);
  assert.match(metrics, /vaekit_requests_total\{route="\/v2\/models\/:model\/infer",code="200"\}/);
  assert.match(metrics, /process_resident_memory_bytes/);
});

async function expectError(status: number, p: Promise<{ status: number; body: string; json: () => any }>, what: string): Promise<void> {
  const r = await p;
  assert.equal(r.status, status, `${what}: ${r.body}`);
  const body = r.json();
  assert.equal(typeof body.error, 'string', `${what}: {"error": "..."} expected, got ${r.body}`);
  assert.ok(body.error.length > 0);
}

/** Sends the request head and part of a body, then stops (a client that sends too slowly). */
function slowClient(url: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname, () => {
      socket.write(`POST /v1/models/toy:encode HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sentences":`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (text += d));
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    socket.on('error', reject);
  });
}

test('reliability: each bad request gets its 4xx JSON error, good requests between them still succeed', async () => {
  const good = async () => assert.equal((await postOk(`${server.url}/v1/models/toy:encode`, { sentences: ['the cat'] })).mu.length, 1);
  const infer = (inputs: object[]) => request(`${server.url}/v2/models/toy_decoder_init/infer`, 'POST', { inputs });
  await good();
  await expectError(400, request(`${server.url}/v1/models/toy:encode`, 'POST', '{"sentences": ["a",'), 'malformed JSON');
  await good();
  await expectError(400, infer([{ name: 'z', shape: [1, 4], datatype: 'INT32', data: [0, 0, 0, 0] }]), 'wrong datatype');
  await expectError(400, infer([{ name: 'z', shape: [1, 5], datatype: 'FP32', data: [0, 0, 0, 0, 0] }]), 'wrong shape');
  await expectError(400, infer([{ name: 'z', shape: [1, 4], datatype: 'FP32', data: [0, 0, 0] }]), 'data shorter than shape');
  await expectError(400, infer([{ name: 'z', shape: [1, 4], datatype: 'FP32', data: [0, 0, 'x', 0] }]), 'non-number data');
  await expectError(400, request(`${server.url}/v1/models/toy:generate`, 'POST', { strategy: 'nucleus' }), 'bad enum (schema)');
  await expectError(400, request(`${server.url}/v1/models/toy:generate`, 'POST', { temperature: -1, strategy: 'sample' }), 'bad decoding option');
  await good();
  await expectError(404, request(`${server.url}/v2/models/nope/infer`, 'POST', { inputs: [{ name: 'z', shape: [1], datatype: 'FP32', data: [0] }] }), 'unknown model');
  await expectError(404, request(`${server.url}/v1/models/nope:encode`, 'POST', { sentences: ['a'] }), 'unknown bundle');
  await expectError(404, request(`${server.url}/v2/models/nope`, 'GET'), 'unknown model metadata');
  await expectError(413, request(`${server.url}/v1/models/toy:encode`, 'POST', { sentences: ['word '.repeat(20_000)] }), 'body over the limit');
  await good();

  // A client that disconnects mid-stream: its sequences leave the batch, the server carries on.
  await new Promise<void>((resolve, reject) => {
    const req = http.request(`${server.url}/v1/models/toy:generate`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/event-stream/);
      res.once('data', (chunk: Buffer) => {
        assert.match(chunk.toString(), /^data: \{"index":/);
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(JSON.stringify({ n: 64, maxTokens: 200, strategy: 'sample', stream: true }));
  });
  await good();

  const slow = await slowClient(server.url);
  assert.equal(slow.status, 408, `slow client: ${slow.body}`);
  assert.equal(typeof JSON.parse(slow.body).error, 'string');
  await good();

  const streamed = await request(`${server.url}/v1/models/toy:generate`, 'POST', { n: 2, seed: 4, strategy: 'sample', maxTokens: 6, stream: true });
  assert.equal(streamed.status, 200);
  const end = /event: end\ndata: (.*)\n/.exec(streamed.body);
  assert.ok(end, streamed.body);
  const want = await vae.generate({ n: 2, seed: 4, strategy: 'sample', maxTokens: 6 });
  assert.deepEqual(JSON.parse(end[1]!).generations.map((g: { tokenIds: number[] }) => g.tokenIds), want.map((g) => g.tokenIds));
  const tokenEvents = streamed.body.split('\n\n').filter((e) => e.startsWith('data: ')).length;
  assert.equal(tokenEvents, want.reduce((n, g) => n + g.tokenIds.length, 0), 'one event per generated token');

  assert.equal((await request(`${server.url}/v2/health/live`, 'GET')).status, 200);
  const metrics = (await request(`${server.url}/metrics`, 'GET')).body;
  assert.match(metrics, /vaekit_active_sequences\{bundle="toy"\} 0/, 'the disconnected stream left no sequence behind');
});

test('a bundle whose file fails hash verification is not served: exit 2 naming the file', () => {
  const bad = path.join(tempDir('vaekit-serve-bad-'), 'bad');
  cpSync(bundleDir, bad, { recursive: true });
  const file = path.join(bad, 'decoder_step.onnx');
  const bytes = readFileSync(file);
  bytes[bytes.length - 5] ^= 0xff;
  writeFileSync(file, bytes);
  const r = vaekit(['serve', bad, '--port', '0']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /decoder_step\.onnx/);
  assert.match(r.stderr, /sha256/);
});

/** POSTs on a new connection; `sentAt` is when the whole request had been handed to the socket. */
function timedPost(url: string, body: object): Promise<{ status?: number; error?: string; sentAt: number; doneAt: number }> {
  return new Promise((resolve) => {
    let sentAt = Infinity;
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, sentAt, doneAt: performance.now() }));
    });
    req.on('finish', () => (sentAt = performance.now()));
    req.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? String(err), sentAt, doneAt: performance.now() }));
    req.end(JSON.stringify(body));
  });
}

test('SIGTERM under load: every accepted request is answered, then the server exits 0', async () => {
  const s = await startServe([bundleDir, '--workers', '1']);
  const outcomes: Array<{ status?: number; error?: string; sentAt: number; doneAt: number }> = [];
  let stop = false;
  const client = async () => {
    while (!stop) {
      const o = await timedPost(`${s.url}/v1/models/toy:generate`, { n: 200, strategy: 'sample', temperature: 3, maxTokens: 60, seed: outcomes.length });
      outcomes.push(o);
      if (o.error) return;
    }
  };
  const clients = Array.from({ length: 8 }, client);
  await new Promise((r) => setTimeout(r, 1500));
  const signalAt = performance.now();
  s.child.kill('SIGTERM');
  const code = await s.exited;
  stop = true;
  await Promise.all(clients);
  assert.equal(code, 0, s.output());
  // Sent well before the signal = accepted: each must be answered 200, even when it finished after.
  const accepted = outcomes.filter((o) => o.sentAt < signalAt - 5);
  assert.deepEqual(accepted.filter((o) => o.status !== 200), [], 'an accepted request was refused or cut off');
  assert.ok(accepted.some((o) => o.doneAt > signalAt), 'some requests were in flight at SIGTERM and were finished');
  // Later ones were not accepted: answered, or refused (503 while closing; a connection refused, or
  // reset before the server read the request), never left hanging.
  for (const o of outcomes.filter((x) => x.sentAt >= signalAt - 5)) {
    assert.ok(o.status === 200 || o.status === 503 || o.error === 'ECONNREFUSED' || o.error === 'ECONNRESET', JSON.stringify(o));
  }
  assert.match(s.output(), /draining/);
});
