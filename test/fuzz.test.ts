/**
 * Bounded fuzzing of the loaders (fixed seed, fixed iteration counts): mutated manifests, tokenizer
 * files, ONNX bytes and checkpoint files go into `parseManifest`, `loadVae`, `WordTokenizer.fromJSON`,
 * `decodeModel` and `loadCheckpoint`.
 * Each either works or throws the package's own error: never another exception, never a crash of the
 * process (ONNX Runtime included: mutated graphs are rehashed so they reach it), never a hang (each
 * test has a time limit). A failure prints the seed and iteration, so it can be replayed.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { OnnxFormatError, decodeModel } from '@vaekit/exporter';
import { BundleError, InputError, RuntimeError, createRng, loadVae, parseManifest, sha256Hex, type Rng } from '@vaekit/runtime';
import { TokenizerError, WordTokenizer } from '@vaekit/core';
import { CheckpointError, TrainerError, loadCheckpoint } from '@vaekit/trainer';
import * as tf from '@tensorflow/tfjs';
import { ROOT, tempDir, trainedBundle, vaekitOk } from './helpers.js';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Translator } from '@vaekit/runtime';
import { syntheticReviews } from './fixtures/reviews.mjs';

const SEED = 20261124;

/** Values a mutation may put anywhere in a JSON document. */
const ODD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1, 2, 1.5, -0.5, 1e308, -1e308, 2 ** 53 + 1, '', ' ', '../x', '/etc/passwd', 'C:\\x', 'a/../../b',
  '\u0000', '\ud800', 'ü'.repeat(3), 'x'.repeat(10_000), [], [null], [1, 'a'], {}, { a: 1 }, { __proto__: { polluted: true } },
  'float32', 'int64', 'batch', 'vaekit-bundle', 1000000000,
];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every container path in a JSON value (arrays and objects), the root included. */
function containers(value: Json, at: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  if (value && typeof value === 'object') {
    out.push(at);
    for (const [k, v] of Object.entries(value)) containers(v as Json, [...at, Array.isArray(value) ? Number(k) : k], out);
  }
  return out;
}

const pick = <T>(rng: Rng, list: readonly T[]): T => list[rng.int(list.length)]!;

/** One structural mutation of a JSON document: delete, replace, add or swap a field. */
function mutateJson(doc: Json, rng: Rng): Json {
  const copy = JSON.parse(JSON.stringify(doc)) as Json;
  const paths = containers(copy);
  const at = pick(rng, paths);
  let node: any = copy;
  for (const k of at) node = node[k];
  const keys = Object.keys(node);
  const key: string | number = keys.length === 0 || rng.uniform() < 0.15 ? (Array.isArray(node) ? node.length : `extra${rng.int(5)}`) : pick(rng, keys);
  const op = rng.int(4);
  if (op === 0 && !Array.isArray(node)) delete node[key];
  else if (op === 0) node.splice(Number(key), 1);
  else if (op === 1) node[key] = JSON.parse(JSON.stringify(pick(rng, ODD_VALUES)) ?? 'null');
  else if (op === 2) node[key] = typeof node[key] === 'number' ? node[key] * pick(rng, [-1, 0, 2, 1e9, 0.5]) : typeof node[key] === 'string' ? node[key] + pick(rng, ['/..', 'x', '']) : node[key];
  else {
    // Move a value from elsewhere in the document here (a graph's spec into a file record, ...).
    const other = pick(rng, paths);
    let src: any = copy;
    for (const k of other) src = src[k];
    node[key] = JSON.parse(JSON.stringify(src));
  }
  return copy;
}

/** One byte-level mutation: flip bits, overwrite a run, truncate, insert or duplicate a chunk. */
function mutateBytes(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = Uint8Array.from(bytes);
  const op = rng.int(5);
  if (op === 0) {
    for (let i = 0, n = 1 + rng.int(8); i < n; i++) out[rng.int(out.length)]! ^= 1 << rng.int(8);
    return out;
  }
  if (op === 1) {
    const start = rng.int(out.length);
    for (let i = start; i < Math.min(out.length, start + 1 + rng.int(64)); i++) out[i] = rng.int(256);
    return out;
  }
  if (op === 2) return out.subarray(0, rng.int(out.length));
  const at = rng.int(out.length);
  const chunk = op === 3 ? Uint8Array.from({ length: 1 + rng.int(32) }, () => rng.int(256)) : out.subarray(rng.int(out.length), rng.int(out.length));
  const merged = new Uint8Array(out.length + chunk.length);
  merged.set(out.subarray(0, at));
  merged.set(chunk, at);
  merged.set(out.subarray(at), at + chunk.length);
  return merged;
}

/** The runtime's errors: its own, and core's bundle and input errors it throws (no longer RuntimeError subclasses). */
const RUNTIME_ERRORS = [RuntimeError, BundleError, InputError];

/** Runs `call`; only success or an error of one of `allowed` passes. Describes the case on failure. */
async function expectOwnError(what: string, call: () => unknown, allowed: Array<abstract new (...a: never[]) => Error>): Promise<'ok' | 'refused'> {
  try {
    await call();
    return 'ok';
  } catch (err) {
    if (allowed.some((c) => err instanceof c)) {
      assert.ok((err as Error).message.length > 0 && (err as Error).message.length < 500, `${what}: a short message, got ${(err as Error).message.slice(0, 300)}`);
      return 'refused';
    }
    assert.fail(`${what}: threw ${(err as Error)?.name}: ${(err as Error)?.message}\n${(err as Error)?.stack}`);
  }
}

let bundleDir: string;
let runDir: string;
before(async () => {
  await tf.setBackend('cpu');
  ({ bundleDir, runDir } = trainedBundle('dense'));
});

test('mutated manifests: parseManifest and loadVae accept or refuse with BundleError', { timeout: 300_000 }, async (t) => {
  const rng = createRng(SEED);
  const text = await fs.readFile(path.join(bundleDir, 'manifest.json'), 'utf8');
  const manifest = JSON.parse(text) as Json;
  const dir = path.join(tempDir(), 'b');
  await fs.cp(bundleDir, dir, { recursive: true });
  const tally = { ok: 0, refused: 0 };
  for (let i = 0; i < 300; i++) {
    const what = `manifest seed ${SEED} iteration ${i}`;
    let bytes: Uint8Array;
    let doc = manifest;
    if (i % 5 === 4) bytes = mutateBytes(new TextEncoder().encode(text), rng);
    else {
      for (let k = 0, n = 1 + rng.int(3); k < n; k++) doc = mutateJson(doc, rng);
      bytes = new TextEncoder().encode(JSON.stringify(doc));
      await expectOwnError(`${what} (parseManifest)`, () => parseManifest(JSON.parse(JSON.stringify(doc))), [BundleError]);
    }
    await fs.writeFile(path.join(dir, 'manifest.json'), bytes);
    const outcome = await expectOwnError(what, async () => {
      const vae = await loadVae(dir);
      try {
        // A manifest that loads must also run, or refuse its input with the runtime's own error.
        await vae.sample(2, { seed: i });
      } finally {
        await vae.dispose();
      }
    }, RUNTIME_ERRORS);
    tally[outcome]++;
  }
  t.diagnostic(JSON.stringify(tally));
  assert.ok(tally.refused > 150, `most mutations are refused: ${JSON.stringify(tally)}`);
});

test('mutated classifier manifests (the classifier section): parseManifest and loadVae accept or refuse with BundleError', { timeout: 300_000 }, async (t) => {
  const dir = tempDir();
  const data = path.join(dir, 'reviews.jsonl');
  await fs.writeFile(data, syntheticReviews(200).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const run = path.join(dir, 'run');
  vaekitOk(['train', 'classify', '--data', data, '--model', 'supervised', '--encoder', 'bow', '--bow-skip', '0', '--labels', '40', '--valid-size', '20', '--max-length', '12', '--min-count', '1', '--epochs', '1', '--out', run]);
  const bundle = path.join(dir, 'bundle');
  vaekitOk(['export', run, bundle]);
  const manifest = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8')) as { classifier: Json } & Record<string, Json>;
  const rng = createRng(SEED + 13);
  const tally = { ok: 0, refused: 0 };
  for (let i = 0; i < 150; i++) {
    const what = `classifier manifest seed ${SEED + 13} iteration ${i}`;
    let section = manifest.classifier;
    for (let k = 0, n = 1 + rng.int(3); k < n; k++) section = mutateJson(section, rng);
    const doc = { ...manifest, classifier: section };
    await expectOwnError(`${what} (parseManifest)`, () => parseManifest(JSON.parse(JSON.stringify(doc))), [BundleError]);
    await fs.writeFile(path.join(bundle, 'manifest.json'), JSON.stringify(doc));
    const outcome = await expectOwnError(what, async () => {
      const classifier = await loadVae(bundle, { kind: 'classifier' });
      try {
        // A manifest that loads must also classify, or refuse its input with the runtime's own error.
        await classifier.classify(['the movie was great', 'awful']);
      } finally {
        await classifier.dispose();
      }
    }, RUNTIME_ERRORS);
    tally[outcome]++;
  }
  t.diagnostic(JSON.stringify(tally));
  assert.ok(tally.refused > 50, `most mutations are refused: ${JSON.stringify(tally)}`);
});

/** A tiny seq2seq bundle (VNMT with variational attention, so every optional input is present). */
function trainedSeq2SeqBundle(): string {
  const dir = tempDir('vaekit-fuzz-s2s-');
  const data = path.join(dir, 'pairs.tsv');
  writeFileSync(data, readFileSync(path.resolve(ROOT, '../shared/data/tatoeba-fra-eng/fra-eng.tsv'), 'utf8').split('\n').slice(2000, 2600).join('\n') + '\n');
  const run = path.join(dir, 'run');
  vaekitOk(['train', 'translate', '--data', data, '--embedding', '8', '--hidden', '8', '--latent', '2', '--attention', 'variational', '--epochs', '1', '--min-count', '1', '--limit', '64', '--eval-limit', '8', '--batch-size', '32', '--out', run]);
  vaekitOk(['export', run, path.join(dir, 'bundle')]);
  return path.join(dir, 'bundle');
}

test('mutated seq2seq manifests: the seq2seq section is checked field by field, never crashes the translator', { timeout: 300_000 }, async (t) => {
  const source = trainedSeq2SeqBundle();
  const rng = createRng(SEED + 7);
  const manifest = JSON.parse(await fs.readFile(path.join(source, 'manifest.json'), 'utf8')) as Record<string, Json>;
  const dir = path.join(tempDir(), 'b');
  await fs.cp(source, dir, { recursive: true });
  const tally = { ok: 0, refused: 0 };
  for (let i = 0; i < 200; i++) {
    const what = `seq2seq manifest seed ${SEED + 7} iteration ${i}`;
    // Most mutations hit the seq2seq section (the kind's own check); some the whole document.
    let doc: Json = JSON.parse(JSON.stringify(manifest)) as Json;
    for (let k = 0, n = 1 + rng.int(3); k < n; k++) {
      if (rng.uniform() < 0.75) (doc as Record<string, Json>).seq2seq = mutateJson((doc as Record<string, Json>).seq2seq!, rng);
      else doc = mutateJson(doc, rng);
    }
    await expectOwnError(`${what} (parseManifest)`, () => parseManifest(JSON.parse(JSON.stringify(doc))), [BundleError]);
    await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(doc));
    const outcome = await expectOwnError(what, async () => {
      const translator = (await loadVae(dir)) as unknown as Translator;
      try {
        await translator.translate(['je suis là .', 'bonjour'], { n: 2, seed: i, attention: true });
      } finally {
        await translator.dispose();
      }
    }, RUNTIME_ERRORS);
    tally[outcome]++;
  }
  t.diagnostic(JSON.stringify(tally));
  assert.ok(tally.refused > 100, `most mutations are refused: ${JSON.stringify(tally)}`);
});

test('mutated tokenizer.json: WordTokenizer.fromJSON accepts or refuses with TokenizerError', { timeout: 120_000 }, async (t) => {
  const rng = createRng(SEED + 1);
  const good = WordTokenizer.build(['the cat sat on the mat', 'a dog ate the cat food', 'über naïve café'], { minCount: 1 });
  const json = good.toJSON() as unknown as Json;
  const text = JSON.stringify(json);
  const tally = { ok: 0, refused: 0 };
  for (let i = 0; i < 2000; i++) {
    const what = `tokenizer seed ${SEED + 1} iteration ${i}`;
    const source =
      i % 4 === 3
        ? new TextDecoder().decode(mutateBytes(new TextEncoder().encode(text), rng))
        : JSON.stringify([1, 2, 3].slice(0, 1 + rng.int(3)).reduce((d) => mutateJson(d, rng), json));
    const outcome = await expectOwnError(what, () => {
      const tok = WordTokenizer.fromJSON(source);
      // A tokenizer that loads must round-trip its own vocabulary without throwing anything else.
      const ids = tok.encode('the cat ate über food <unk> zzz');
      tok.decode(ids);
    }, [TokenizerError]);
    tally[outcome]++;
  }
  t.diagnostic(JSON.stringify(tally));
  assert.ok(tally.refused > 500 && tally.ok > 10, `both outcomes happen: ${JSON.stringify(tally)}`);
});

test('mutated ONNX bytes: decodeModel and ONNX Runtime (via loadVae) refuse with their own errors, never crash', { timeout: 300_000 }, async (t) => {
  const rng = createRng(SEED + 2);
  const dir = path.join(tempDir(), 'b');
  await fs.cp(bundleDir, dir, { recursive: true });
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
  const originals = {
    'encoder.onnx': new Uint8Array(await fs.readFile(path.join(dir, 'encoder.onnx'))),
    'decoder.onnx': new Uint8Array(await fs.readFile(path.join(dir, 'decoder.onnx'))),
  };
  const tally = { decoded: 0, notOnnx: 0, loaded: 0, refused: 0 };
  for (let i = 0; i < 200; i++) {
    const file = i % 2 === 0 ? 'encoder.onnx' : 'decoder.onnx';
    let bytes = originals[file];
    for (let k = 0, n = 1 + rng.int(2); k < n; k++) bytes = mutateBytes(bytes, rng);
    const what = `onnx seed ${SEED + 2} iteration ${i} (${file}, ${bytes.length} bytes)`;
    (await expectOwnError(`${what} decodeModel`, () => decodeModel(bytes), [OnnxFormatError])) === 'ok' ? tally.decoded++ : tally.notOnnx++;
    // Rehash so the bytes get past integrity checks and into ONNX Runtime itself.
    await fs.writeFile(path.join(dir, file), bytes);
    const m = JSON.parse(JSON.stringify(manifest));
    m.files[file] = { sha256: await sha256Hex(bytes), bytes: bytes.length };
    await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(m));
    const outcome = await expectOwnError(what, async () => {
      const vae = await loadVae(dir);
      try {
        await vae.reconstruct([new Float32Array(784).fill(0.5)]);
      } finally {
        await vae.dispose();
      }
    }, RUNTIME_ERRORS);
    outcome === 'ok' ? tally.loaded++ : tally.refused++;
    await fs.writeFile(path.join(dir, file), originals[file]);
  }
  t.diagnostic(JSON.stringify(tally));
  assert.ok(tally.refused > 50 && tally.notOnnx > 20, `mutations reach every layer of checks: ${JSON.stringify(tally)}`);
});

test('mutated checkpoints: loadCheckpoint loads or refuses with CheckpointError, never hangs', { timeout: 300_000 }, async (t) => {
  const rng = createRng(SEED + 3);
  const latest = JSON.parse(await fs.readFile(path.join(runDir, 'latest.json'), 'utf8')).checkpoint as string;
  const textFiles = ['config.json', 'latest.json', `${latest}/state.json`, `${latest}/encoder/model.json`, `${latest}/decoder/model.json`, `${latest}/optimizer.json`];
  const binaryFiles = [`${latest}/encoder/weights.bin`, `${latest}/decoder/weights.bin`, `${latest}/optimizer.bin`];
  const dir = path.join(tempDir(), 'run');
  await fs.cp(runDir, dir, { recursive: true });
  const tally = { ok: 0, refused: 0 };
  for (let i = 0; i < 200; i++) {
    const rel = i % 4 === 3 ? pick(rng, binaryFiles) : pick(rng, textFiles);
    const original = new Uint8Array(await fs.readFile(path.join(runDir, rel)));
    let bytes: Uint8Array;
    if (i % 4 === 3 || rng.int(4) === 0) bytes = mutateBytes(original, rng);
    else {
      // Edits a person or a bad disk could make to JSON: a number, a character, a key.
      const text = new TextDecoder().decode(original);
      const op = rng.int(3);
      let out = text;
      if (op === 0) {
        const nums = [...text.matchAll(/\d+/g)];
        const m = nums.length ? pick(rng, nums) : undefined;
        if (m) out = text.slice(0, m.index) + pick(rng, ['0', '-1', '3', '999999999', '1e9']) + text.slice(m.index! + m[0].length);
      } else if (op === 1) {
        const p = rng.int(text.length);
        out = text.slice(0, p) + String.fromCharCode(32 + rng.int(90)) + text.slice(p + 1);
      } else {
        const keys = [...text.matchAll(/"(\w+)":/g)];
        const k = keys.length ? pick(rng, keys) : undefined;
        if (k) out = text.replace(k[0], `"x${k[1]}":`);
      }
      bytes = new TextEncoder().encode(out);
    }
    await fs.writeFile(path.join(dir, rel), bytes);
    const outcome = await expectOwnError(`checkpoint seed ${SEED + 3} iteration ${i} (${rel})`, async () => {
      const c = await loadCheckpoint(dir);
      c.encoder?.dispose();
      c.decoder.dispose();
      tf.dispose((c.optimizerWeights ?? []).map((w) => w.tensor));
    }, [TrainerError, CheckpointError]);
    tally[outcome]++;
    await fs.writeFile(path.join(dir, rel), original);
  }
  t.diagnostic(JSON.stringify(tally));
  assert.ok(tally.refused > 50, `mutations are refused: ${JSON.stringify(tally)}`);
});
