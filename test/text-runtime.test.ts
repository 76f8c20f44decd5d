/** The text runtime on a hand-made sentence VAE bundle: numbers against a plain-JS reference, batching, backends, checks. */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { BundleError, InputError, loadVae, logSoftmax, samplePrior, type TextVae } from '@vaekit/runtime';
import { tempDir, trainedTextBundle, vaekit, vaekitOk } from './helpers.js';
import { assertGreedyIsTeacherForcedArgmax } from './text-helpers.js';
// @ts-expect-error plain .mjs fixture without types
import { referenceLogits, writeToyTextBundle } from './fixtures/toy-text-bundle.mjs';

let dir: string;
let lstmDir: string;
let params: { tokenizer: { encode(s: string): number[] } };
let lstmParams: unknown;
let vae: TextVae;

before(async () => {
  dir = path.join(tempDir(), 'toy');
  lstmDir = path.join(tempDir(), 'toy-lstm');
  ({ params } = await writeToyTextBundle(dir));
  ({ params: lstmParams } = await writeToyTextBundle(lstmDir, { cell: 'lstm', seed: 2 }));
  vae = await loadVae(dir, { kind: 'text' });
});
after(() => vae?.dispose());

/** Greedy decoding of the reference model, with the log-probability of each chosen token. */
function referenceGreedy(p: unknown, z: Float32Array, maxTokens: number): { tokens: number[]; logprobs: number[] } {
  const fed = [2];
  const tokens: number[] = [];
  const logprobs: number[] = [];
  for (let t = 0; t < maxTokens; t++) {
    const lp = logSoftmax(referenceLogits(p, z, fed));
    let best = 0;
    for (let i = 1; i < lp.length; i++) if (lp[i]! > lp[best]!) best = i;
    tokens.push(best);
    logprobs.push(lp[best]!);
    if (best === 3) break;
    fed.push(best);
  }
  return { tokens, logprobs };
}

test('greedy generation matches a plain-JS reference of the model, token by token, in one batch', async () => {
  const z = samplePrior(24, vae.latentSize, 3);
  const gens = await vae.generate({ z, maxTokens: 12 });
  assert.equal(gens.length, 24);
  let finished = 0;
  gens.forEach((g, i) => {
    const ref = referenceGreedy(params, z[i]!, 12);
    assert.deepEqual(g.tokenIds, ref.tokens, `sequence ${i}`);
    g.logprobs.forEach((lp, j) => assert.ok(Math.abs(lp - ref.logprobs[j]!) < 1e-4, `sequence ${i} token ${j}: ${lp} vs ${ref.logprobs[j]}`));
    assert.ok(Math.abs(g.logprob - g.logprobs.reduce((a, b) => a + b, 0)) < 1e-9);
    assert.equal(g.finished, g.tokenIds.at(-1) === 3);
    if (g.finished) finished++;
    assert.deepEqual(g.tokens, g.tokenIds.map((t) => vae.tokenizer.idToToken(t)));
  });
  assert.ok(finished > 0 && finished < 24, `some sequences end with <eos> early, some run to maxTokens (${finished}/24)`);
  // Batched generation gives the same result as one sequence at a time.
  const one = await vae.generate({ z: [z[5]!], maxTokens: 12 });
  assert.deepEqual(one[0]!.tokenIds, gens[5]!.tokenIds);
});

test('the LSTM cell state is carried between steps', async () => {
  const lstm = await loadVae(lstmDir, { kind: 'text' });
  try {
    const z = samplePrior(6, lstm.latentSize, 8);
    const gens = await lstm.generate({ z, maxTokens: 10 });
    gens.forEach((g, i) => assert.deepEqual(g.tokenIds, referenceGreedy(lstmParams, z[i]!, 10).tokens));
  } finally {
    await lstm.dispose();
  }
});

test('stream yields the tokens of generate as they are chosen', async () => {
  const opts = { n: 4, seed: 11, strategy: 'sample' as const, topK: 5, maxTokens: 10 };
  const gens = await vae.generate(opts);
  const streamed: number[][] = [[], [], [], []];
  let doneCount = 0;
  for await (const t of vae.stream(opts)) {
    streamed[t.index]!.push(t.tokenId);
    assert.equal(t.token, vae.tokenizer.idToToken(t.tokenId));
    if (t.done) doneCount++;
  }
  assert.deepEqual(streamed, gens.map((g) => g.tokenIds));
  assert.equal(doneCount, 4);
  await assert.rejects(async () => {
    for await (const _ of vae.stream({ strategy: 'beam' })) void _;
  }, InputError);
});

test('seeded sampling repeats exactly; strategies and penalties change the output', async () => {
  const a = await vae.generate({ n: 8, strategy: 'sample', seed: 5, temperature: 1.5, maxTokens: 10 });
  assert.deepEqual(await vae.generate({ n: 8, strategy: 'sample', seed: 5, temperature: 1.5, maxTokens: 10 }), a);
  const b = await vae.generate({ n: 8, strategy: 'sample', seed: 6, temperature: 1.5, maxTokens: 10 });
  assert.notDeepEqual(b.map((g) => g.text), a.map((g) => g.text));
  // Same z (latentSeed) but a different sampling seed: z equal, text differs.
  const c = await vae.generate({ n: 8, strategy: 'sample', seed: 6, latentSeed: 5, temperature: 1.5, maxTokens: 10 });
  assert.deepEqual(c.map((g) => g.z), a.map((g) => g.z));
  const greedy = await vae.generate({ n: 8, seed: 5, maxTokens: 12 });
  const penal = await vae.generate({ n: 8, seed: 5, maxTokens: 12, repetitionPenalty: 5 });
  const repeats = (gs: typeof greedy) => gs.reduce((s, g) => s + g.tokenIds.length - new Set(g.tokenIds).size, 0);
  assert.ok(repeats(penal) < repeats(greedy), `repetition penalty reduces repeated tokens (${repeats(penal)} vs ${repeats(greedy)})`);
});

test('beam search returns a sequence at least as likely as greedy under the model', async () => {
  const z = samplePrior(6, vae.latentSize, 21);
  const greedy = await vae.generate({ z, maxTokens: 8 });
  const beam = await vae.generate({ z, maxTokens: 8, strategy: 'beam', beamWidth: 8, lengthPenalty: 0 });
  beam.forEach((g, i) => {
    // The beam's reported log-probabilities are the model's (recomputed with the reference).
    const fed = [2, ...g.tokenIds.slice(0, -1)];
    g.tokenIds.forEach((t, j) => {
      const lp = logSoftmax(referenceLogits(params, z[i]!, fed.slice(0, j + 1)))[t]!;
      assert.ok(Math.abs(lp - g.logprobs[j]!) < 1e-4);
    });
    if (g.finished && greedy[i]!.finished) assert.ok(g.logprob >= greedy[i]!.logprob - 1e-6, `sequence ${i}`);
  });
});

test('reconstruct, interpolate and sample', async () => {
  const s1 = 'the cat sat on the mat .';
  const s2 = 'they built a house near the river .';
  const [r1, r2] = await vae.reconstruct([s1, s2], { maxTokens: 12 });
  const { mu } = await vae.encode([s1, s2]);
  assert.deepEqual(r1!.z, mu[0]);
  const path5 = await vae.interpolate(s1, s2, { steps: 5, maxTokens: 12 });
  assert.equal(path5.length, 5);
  assert.equal(path5[0]!.text, r1!.text);
  assert.equal(path5[4]!.text, r2!.text);
  assert.deepEqual((await vae.interpolate(s1, s2, 5)).map((g) => g.text), (await vae.interpolate(s1, s2, { steps: 5 })).map((g) => g.text));
  // Encoding does not depend on the other sentences of the batch (padding is ignored).
  const alone = await vae.encode([s2]);
  alone.mu[0]!.forEach((v, i) => assert.ok(Math.abs(v - mu[1]![i]!) < 1e-6));
  const samples = await vae.sample(3, { seed: 2, latentTemperature: 0.5, maxTokens: 5 });
  assert.deepEqual(samples.map((g) => g.z), samplePrior(3, vae.latentSize, 2, 0.5));
  await assert.rejects(vae.generate({ z: [new Float32Array(3)] }), /length 8, got length 3/);
  await assert.rejects(vae.generate({ n: 0 }), /n must be a positive integer/);
  await assert.rejects(vae.generate({ topP: 2 }), /topP must be a number in \(0, 1\]/);
  await assert.rejects(vae.encode([]), /non-empty array of strings/);
});

test('Node wasm backend (onnxruntime-web) agrees with cpu (onnxruntime-node)', async () => {
  const wasm = await loadVae(dir, { kind: 'text', backend: 'wasm' });
  try {
    assert.equal(wasm.backend, 'wasm');
    const z = samplePrior(16, vae.latentSize, 4);
    assert.deepEqual((await wasm.generate({ z, maxTokens: 12 })).map((g) => g.tokenIds), (await vae.generate({ z, maxTokens: 12 })).map((g) => g.tokenIds));
    const [a, b] = await Promise.all([wasm.encode(['we are here to stay .']), vae.encode(['we are here to stay .'])]);
    a.mu[0]!.forEach((v, i) => assert.ok(Math.abs(v - b.mu[0]![i]!) < 1e-5));
  } finally {
    await wasm.dispose();
  }
});

test('bundles load from a map of files; bad bundles are refused naming the file', async () => {
  const files: Record<string, Uint8Array> = {};
  for (const f of ['manifest.json', 'tokenizer.json', 'encoder.onnx', 'decoder_init.onnx', 'decoder_step.onnx']) files[f] = new Uint8Array(await fs.readFile(path.join(dir, f)));
  const fromMap = await loadVae(files, { kind: 'text' });
  assert.equal((await fromMap.reconstruct('we are here', { maxTokens: 6 }))[0]!.text, (await vae.reconstruct('we are here', { maxTokens: 6 }))[0]!.text);
  await fromMap.dispose();
  await assert.rejects(loadVae(dir, { kind: 'image' }), (e: Error) => e instanceof BundleError && /text bundle; expected an image bundle/.test(e.message));
  const tampered = { ...files, 'tokenizer.json': new TextEncoder().encode('{}') };
  await assert.rejects(loadVae(tampered), /Bundle file "tokenizer.json" does not match manifest.json: sha256/);
  const m = JSON.parse(new TextDecoder().decode(files['manifest.json']));
  m.text.tokenizer = '../tokenizer.json';
  await assert.rejects(loadVae({ ...files, 'manifest.json': new TextEncoder().encode(JSON.stringify(m)) }), /"..\/tokenizer.json" is not allowed/);
  const noStep = { ...files };
  delete noStep['decoder_step.onnx'];
  await assert.rejects(loadVae(noStep), /Bundle file missing: decoder_step.onnx/);
  await assert.rejects(loadVae(dir, { backend: 'webgl' }), /Unsupported backend "webgl". Should be one of: cpu, wasm/);
  const events: string[] = [];
  const bytes: string[] = [];
  const v = await loadVae(dir, {
    backend: ['wasm', 'cpu'],
    onProgress: (e) => (e.stage === 'download' ? bytes.push(`${e.file}:${e.loaded}/${e.total}`) : events.push(`${e.stage}:${e.file}`)),
  });
  assert.equal(v.backend, 'wasm');
  assert.deepEqual(events.slice(0, 3), ['manifest:manifest.json', 'verify:tokenizer.json', 'verify:encoder.onnx']);
  const size = v.manifest.files['encoder.onnx']!.bytes;
  assert.deepEqual(bytes.filter((b) => b.startsWith('encoder.onnx:')), [`encoder.onnx:0/${size}`, `encoder.onnx:${size}/${size}`], 'a file read from disk: a first and a last byte event');
  await v.dispose();
  await vae.generate({ n: 1, maxTokens: 2 });
});

test('CLI: generate, encode, reconstruct and interpolate on a text bundle', () => {
  const gen = JSON.parse(vaekitOk(['generate', dir, '--n', '3', '--max-tokens', '8', '--seed', '4', '--json']).stdout);
  assert.equal(gen.generations.length, 3);
  for (const g of gen.generations) {
    assert.equal(g.tokens.length, g.logprobs.length);
    assert.equal(g.z.length, 8);
  }
  const again = JSON.parse(vaekitOk(['generate', dir, '--n', '3', '--max-tokens', '8', '--seed', '4', '--json', '--backend', 'wasm']).stdout);
  assert.deepEqual(again.generations.map((g: { tokenIds: number[] }) => g.tokenIds), gen.generations.map((g: { tokenIds: number[] }) => g.tokenIds));
  const plain = vaekitOk(['generate', dir, '--n', '2', '--strategy', 'sample', '--top-p', '0.9', '--top-k', '5', '--temperature', '0.8', '--max-tokens', '6']).stdout;
  assert.equal(plain.split('\n').length, 3, 'one line per sentence');
  assert.equal(vaekitOk(['generate', dir, '--n', '1', '--strategy', 'beam', '--beam', '3', '--max-tokens', '6']).stdout.split('\n').length, 2);
  const enc = JSON.parse(vaekitOk(['encode', dir, 'the cat sat', '--json']).stdout);
  assert.deepEqual(enc.tokens, ['the', 'cat', 'sat']);
  assert.equal(enc.mu.length, 8);
  const rec = JSON.parse(vaekitOk(['reconstruct', dir, 'the cat sat', '--json', '--max-tokens', '8']).stdout);
  assert.equal(rec.input, 'the cat sat');
  assert.deepEqual(rec.generations[0].z, enc.mu.map((v: number) => Math.fround(v)));
  const interp = JSON.parse(vaekitOk(['interpolate', dir, 'the cat sat', 'a dog ran', '--steps', '4', '--max-tokens', '6', '--json']).stdout);
  assert.equal(interp.generations.length, 4);
  assert.equal(interp.generations[0].text, rec.generations[0].text);
  const bad = vaekit(['generate', dir, '--top-p', '1.5']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /argument '1.5' is invalid. Expected a number from 0.000001 to 1/);
  const badStrategy = vaekit(['generate', dir, '--strategy', 'nucleus']);
  assert.equal(badStrategy.code, 2);
  assert.match(badStrategy.stderr, /Should be one of: greedy, sample, beam/);
  const noSentence = vaekit(['reconstruct', dir]);
  assert.equal(noSentence.code, 2);
  assert.match(noSentence.stderr, /text bundle: give the sentence/);
  const notBundle = vaekit(['serve-demo', path.dirname(dir), '--port', '0']);
  assert.equal(notBundle.code, 2);
  assert.match(notBundle.stderr, /is not a bundle folder \(no manifest.json\)/);
  const wrongKind = vaekit(['sample', dir]);
  assert.equal(wrongKind.code, 2);
  assert.match(wrongKind.stderr, /is a text bundle; vaekit sample draws images/);
});

for (const cell of ['gru', 'lstm'] as const) {
  test(`real ${cell} bundle (vaekit train text + export --webgl-variant): greedy output on cpu and wasm is tfjs' teacher-forced argmax`, async () => {
    const { runDir, bundleDir } = trainedTextBundle(cell);
    for (const backend of ['cpu', 'wasm'] as const) {
      const real = await loadVae(bundleDir, { kind: 'text', backend });
      const T = real.manifest.text.maxLength + 1;
      const { mu } = await real.encode(['the cat sat on the mat today .', 'my friend likes the rain']);
      const z = [...mu, ...samplePrior(3, real.latentSize, 21)];
      const gens = await real.generate({ z, maxTokens: T });
      await real.dispose();
      const checked = await assertGreedyIsTeacherForcedArgmax(runDir, { T, bos: real.manifest.text.specialTokens.bos }, z, gens, `${cell} ${backend}`);
      assert.ok(checked >= gens.length * 2, `${checked} tokens checked`);
    }
  });
}
