/** `vaekit train text` -> `vaekit export` -> a text bundle the runtime's manifest parser accepts. */
import { parseManifest, type TextBundleManifest } from '@vaekit/core';
import { loadVae, samplePrior } from '@vaekit/runtime';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { tempDir, vaekit, vaekitOk } from './helpers.js';

let dir: string;
const small = ['--epochs', '1', '--latent', '4', '--embedding', '8', '--hidden', '16', '--max-length', '10', '--min-count', '1'];

before(async () => {
  dir = tempDir();
  const words = 'the a cat dog sat on mat ran fast slow big small red blue house tree saw heard'.split(' ');
  let s = 1;
  const rnd = (n: number) => ((s = (s * 1103515245 + 12345) % 2147483648), s % n);
  const lines = Array.from({ length: 300 }, () => Array.from({ length: 3 + rnd(6) }, () => words[rnd(words.length)]).join(' '));
  await fs.writeFile(path.join(dir, 'corpus.txt'), lines.join('\n') + '\n');
});

test('a trained LSTM text run exports as a text bundle (fp32 and int8 with the held-out loss change)', async () => {
  const run = path.join(dir, 'run');
  vaekitOk(['train', 'text', '--data', path.join(dir, 'corpus.txt'), '--cell', 'lstm', ...small, '--out', run]);
  const out = path.join(dir, 'bundle');
  const r = vaekitOk(['export', run, out, '--json']);
  const summary = JSON.parse(r.stdout) as { parity: Record<string, { maxAbsError: Record<string, number> }> };
  assert.deepEqual(Object.keys(summary.parity), ['encoder', 'decoder_init', 'decoder_step']);
  const m = parseManifest(JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8'))) as TextBundleManifest;
  assert.equal(m.kind, 'text');
  assert.equal(m.text.cell, 'lstm');
  assert.deepEqual(m.text.stateNames, ['h', 'c']);
  assert.equal(m.text.maxLength, 10);
  // A bundle is published: it records the data file's name, never its local path (issue 12).
  assert.equal(m.training?.dataset, 'corpus.txt');
  const bundleText = (await Promise.all(['manifest.json', 'encoder.onnx', 'decoder_init.onnx', 'decoder_step.onnx'].map((f) => fs.readFile(path.join(out, f), 'latin1')))).join('\n');
  assert.ok(!bundleText.includes(dir), 'no file of the bundle contains the local data path');
  const q = JSON.parse(vaekitOk(['export', run, path.join(dir, 'bundle-int8'), '--dtype', 'int8', '--held-out', '20', '--json']).stdout) as {
    variant: { heldOutLoss: { fp32: number; variant: number }; heldOutLossDelta: number };
  };
  assert.ok(q.variant.heldOutLoss.fp32 > 0 && Number.isFinite(q.variant.heldOutLossDelta));
  assert.ok(Math.abs(q.variant.heldOutLossDelta) < 0.05 * q.variant.heldOutLoss.fp32);
});

test('a language-model baseline run is refused with one clear line', () => {
  const run = path.join(dir, 'lm');
  vaekitOk(['train', 'text', '--data', path.join(dir, 'corpus.txt'), '--model', 'lm', ...small, '--out', run]);
  const r = vaekit(['export', run, path.join(dir, 'lm-bundle')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /language-model baseline run .*only sentence VAE runs export/);
});

test('--webgl-variant adds webgl graphs that Node leaves to WebGL; a --profile webgl bundle runs on WebGL only', async () => {
  const run = path.join(dir, 'run'); // trained by the first test
  const both = path.join(dir, 'bundle-webgl-variant');
  const summary = JSON.parse(vaekitOk(['export', run, both, '--webgl-variant', '--json']).stdout) as { variants: string[]; parity: Record<string, unknown> };
  assert.deepEqual(summary.variants, ['webgl']);
  assert.deepEqual(Object.keys(summary.parity), ['encoder', 'decoder_init', 'decoder_step', 'webgl/encoder', 'webgl/decoder_init', 'webgl/decoder_step']);
  const inspected = vaekitOk(['inspect', both]).stdout;
  assert.match(inspected, /variants: webgl/);
  assert.match(inspected, /\[webgl\/decoder_step\] .*webgl\/decoder_step\.onnx[\s\S]*inputs: +token: int32\[0\]/);
  const z = samplePrior(3, 4, 1);
  const reference = await loadVae(path.join(dir, 'bundle'), { kind: 'text' });
  const expected = await reference.generate({ z, maxTokens: 8 });
  await reference.dispose();
  for (const backend of ['cpu', 'wasm'] as const) {
    const vae = await loadVae(both, { kind: 'text', backend });
    assert.equal(vae.variant, 'default', `${backend} runs the default graphs`);
    assert.deepEqual((await vae.generate({ z, maxTokens: 8 })).map((g) => g.tokenIds), expected.map((g) => g.tokenIds));
    await vae.dispose();
  }

  const webglOnly = path.join(dir, 'bundle-webgl-profile');
  vaekitOk(['export', run, webglOnly, '--profile', 'webgl']);
  await assert.rejects(loadVae(webglOnly, { backend: 'wasm' }), /cannot run on wasm: its webgl-profile graphs declare dynamic dimensions as 0, which only onnxruntime-web's WebGL backend accepts/);

  const never = path.join(dir, 'never');
  for (const args of [['--profile', 'webgl', '--webgl-variant'], ['--profile', 'webgl', '--dtype', 'fp16']]) {
    const r = vaekit(['export', run, never, ...args, '--json']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /webgl profile/);
  }
  await assert.rejects(fs.stat(never), /ENOENT/);
});

test('--dtype fp32,int8 carries both in one text bundle; loadVae({ dtype }) runs the int8 files and stays close', async () => {
  const run = path.join(dir, 'run'); // trained by the first test
  const out = path.join(dir, 'bundle-dtypes');
  const s = JSON.parse(vaekitOk(['export', run, out, '--dtype', 'fp32,int8', '--held-out', '20', '--json']).stdout) as { dtypes: string[]; parity: Record<string, unknown> };
  assert.deepEqual(s.dtypes, ['fp32', 'int8']);
  assert.deepEqual(Object.keys(s.parity), ['encoder', 'decoder_init', 'decoder_step', 'int8/encoder', 'int8/decoder_init', 'int8/decoder_step']);
  const m = parseManifest(JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8'))) as TextBundleManifest;
  assert.equal(m.dtypes?.int8?.graphs.decoder_step.file, 'int8/decoder_step.onnx');
  const [fp32, int8] = await Promise.all([loadVae(out, { kind: 'text' }), loadVae(out, { kind: 'text', dtype: 'int8' })]);
  const sentences = ['the cat sat on the mat', 'a dog ran fast'];
  const [a, b] = [await fp32.encode(sentences), await int8.encode(sentences)];
  const err = Math.max(...a.mu.flatMap((row, i) => [...row].map((v, j) => Math.abs(v - b.mu[i]![j]!))));
  assert.ok(err > 0 && err < 0.1, `int8 vs fp32 encoder mu: max abs error ${err}`);
  await Promise.all([fp32.dispose(), int8.dispose()]);
  await assert.rejects(loadVae(path.join(dir, 'bundle'), { dtype: 'int8' }), /This bundle has no "int8" weights\. Should be one of: fp32 \(export several with --dtype fp32,int8\)\./);
});
