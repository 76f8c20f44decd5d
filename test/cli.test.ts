/** The CLI end to end: train -> export -> sample / reconstruct / inspect, on real MNIST digits. */
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { runOnnxChecker } from '../packages/exporter/src/test-helpers.js';
import { tempDir, trainedBundle, vaekit, vaekitOk } from './helpers.js';

test('train image (dense) writes config, per-epoch metrics and a checkpoint', async () => {
  const dir = tempDir();
  const run = path.join(dir, 'run');
  const r = vaekitOk(['train', 'image', '--epochs', '2', '--limit', '512', '--latent', '4', '--out', run, '--json']);
  const out = JSON.parse(r.stdout);
  assert.equal(out.epochs.length, 2);
  assert.match(r.stderr, /backend: (wasm|tensorflow|cpu)/, 'the backend choice is printed');
  const lines = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  for (const m of lines) {
    for (const split of ['train', 'test']) {
      assert.ok(Math.abs(m[split].elbo - m[split].reconstruction - m[split].kl) < 1e-3, '-ELBO = reconstruction + KL');
      assert.ok(m[split].kl >= 0 && m[split].reconstruction > 0);
    }
  }
  assert.ok(lines[1].train.elbo < lines[0].train.elbo, 'training lowers the loss');
  const config = JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8'));
  assert.equal(config.latent, 4);
  assert.equal(JSON.parse(readFileSync(path.join(run, 'latest.json'), 'utf8')).epoch, 2);
  const again = vaekit(['train', 'image', '--epochs', '1', '--out', run]);
  assert.equal(again.code, 2, 'refuses to overwrite a run folder');
  assert.match(again.stderr, /already exists/);

  const resumed = JSON.parse(vaekitOk(['train', 'image', '--resume', '--epochs', '3', '--out', run, '--json']).stdout);
  assert.deepEqual(resumed.epochs.map((e: { epoch: number }) => e.epoch), [1, 2, 3], 'resume continues from epoch 2');
  assert.equal(readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 3);
  assert.equal(JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8')).latent, 4, 'the saved configuration applies');
  assert.equal(vaekit(['train', 'image', '--resume', '--out', path.join(dir, 'none')]).code, 2);
});

for (const arch of ['dense', 'conv'] as const) {
  test(`${arch}: export, sample a PNG grid, reconstruct and inspect`, async (t) => {
    const { runDir, bundleDir } = trainedBundle(arch);
    for (const f of ['manifest.json', 'encoder.onnx', 'decoder.onnx']) assert.ok(existsSync(path.join(bundleDir, f)), f);
    const dir = tempDir();
    const samples = path.join(dir, 'samples.png');
    const s = JSON.parse(vaekitOk(['sample', bundleDir, '--n', '16', '--seed', '3', '--out', samples, '--json']).stdout);
    assert.equal(s.z.length, 16);
    const png = PNG.sync.read(readFileSync(samples));
    assert.equal(png.width, 4 * (28 * 2 + 2) + 2, '4 columns of 2x upscaled digits');
    assert.equal(png.height, png.width);
    const s2 = JSON.parse(vaekitOk(['sample', bundleDir, '--n', '16', '--seed', '3', '--out', samples, '--json']).stdout);
    assert.deepEqual(s2.z, s.z, 'the same seed gives the same samples');

    const rec = JSON.parse(vaekitOk(['reconstruct', bundleDir, '--n', '8', '--out', path.join(dir, 'rec.png'), '--json']).stdout);
    assert.ok(rec.meanSquaredError > 0 && rec.meanSquaredError < 0.25, `pixel MSE ${rec.meanSquaredError}`);

    const info = JSON.parse(vaekitOk(['inspect', bundleDir, '--json']).stdout);
    assert.equal(info.manifest.latentSize, 8);
    const enc = info.graphs.find((g: { name: string }) => g.name === 'encoder');
    assert.deepEqual(enc.inputs[0].shape, ['batch', 784]);
    assert.deepEqual(enc.outputs.map((o: { name: string }) => o.name), ['mu', 'logvar']);
    assert.equal(enc.irVersion, 8);
    if (arch === 'conv') assert.ok(enc.opHistogram.Conv >= 2, 'conv encoder has Conv nodes');
    const text = vaekitOk(['inspect', path.join(bundleDir, 'decoder.onnx')]).stdout;
    assert.match(text, /opset ai\.onnx:17, IR version 8/);
    if (arch === 'conv') assert.match(text, /ConvTranspose/);
    assert.ok(existsSync(runDir));
    await runOnnxChecker(t, [path.join(bundleDir, 'encoder.onnx'), path.join(bundleDir, 'decoder.onnx')]);
  });
}

test('export --opset 13 and 21 write the matching IR versions', async () => {
  const { runDir } = trainedBundle('dense');
  for (const [opset, ir] of [[13, 7], [21, 10]] as const) {
    const out = path.join(tempDir(), 'b');
    const r = JSON.parse(vaekitOk(['export', runDir, out, '--opset', String(opset), '--json']).stdout);
    assert.equal(r.irVersion, ir);
    for (const report of Object.values(r.parity) as Array<{ maxAbsError: Record<string, number> }>) {
      for (const e of Object.values(report.maxAbsError)) assert.ok(e <= 1e-4);
    }
    vaekitOk(['sample', out, '--n', '4', '--out', path.join(tempDir(), 's.png')]);
  }
});

test('demo trains, exports and writes the three PNGs', () => {
  const out = path.join(tempDir(), 'demo');
  const r = vaekitOk(['demo', '--epochs', '1', '--out', out, '--json']);
  const report = JSON.parse(r.stdout);
  for (const f of Object.values(report.files) as string[]) {
    const png = PNG.sync.read(readFileSync(f));
    assert.ok(png.width > 100 && png.height > 50, f);
  }
  assert.ok(report.heldOut.elbo < 250, `one epoch of the demo reaches -ELBO ${report.heldOut.elbo}`);
});

// ---- bad input: one clear line, exit code 2, no stack trace, nothing half-written ----

function assertUserError(r: { code: number; stderr: string }, message: RegExp): void {
  assert.equal(r.code, 2, `exit code 2 expected, got ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('a missing run folder is a clear error', () => {
  const out = path.join(tempDir(), 'never');
  assertUserError(vaekit(['export', '/no/such/run', out]), /Run folder not found: \/no\/such\/run/);
  assert.ok(!existsSync(out), 'no bundle folder left behind');
});

test('corrupt and truncated .onnx files are clear errors', async () => {
  const { bundleDir } = trainedBundle('dense');
  const dir = tempDir();
  const bytes = await fs.readFile(path.join(bundleDir, 'encoder.onnx'));
  await fs.writeFile(path.join(dir, 'truncated.onnx'), bytes.subarray(0, Math.floor(bytes.length / 3)));
  await fs.writeFile(path.join(dir, 'garbage.onnx'), Buffer.from('this is not a protobuf at all \x00\xff\xfe'));
  assertUserError(vaekit(['inspect', path.join(dir, 'truncated.onnx')]), /truncated\.onnx|ONNX|truncated/i);
  assertUserError(vaekit(['inspect', path.join(dir, 'garbage.onnx')]), /garbage\.onnx|ONNX/i);
  assertUserError(vaekit(['inspect', path.join(dir, 'missing.onnx')]), /Not found/);
});

test('a bundle whose file does not match its hash is refused, naming the file', async () => {
  const { bundleDir } = trainedBundle('dense');
  const copy = path.join(tempDir(), 'bundle');
  await fs.cp(bundleDir, copy, { recursive: true });
  const file = path.join(copy, 'decoder.onnx');
  const bytes = await fs.readFile(file);
  bytes[bytes.length - 5] ^= 0xff;
  await fs.writeFile(file, bytes);
  const out = path.join(tempDir(), 's.png');
  assertUserError(vaekit(['sample', copy, '--out', out]), /"decoder\.onnx" does not match manifest\.json/);
  assert.ok(!existsSync(out), 'no PNG written');
});

test('unknown backends, non-positive counts and bad options are usage errors', () => {
  const { bundleDir } = trainedBundle('dense');
  const out = path.join(tempDir(), 's.png');
  assertUserError(vaekit(['sample', bundleDir, '--backend', 'gl', '--out', out]), /Should be one of: cpu/);
  assertUserError(vaekit(['sample', bundleDir, '--n', '0', '--out', out]), /--n.*Expected an integer from 1/);
  assertUserError(vaekit(['sample', bundleDir, '--n', '-3', '--out', out]), /Expected an integer/);
  assertUserError(vaekit(['train', 'image', '--backend', 'gpu', '--out', out]), /Should be one of: auto, node, wasm, cpu/);
  assertUserError(vaekit(['train', 'image', '--arch', 'rnn']), /Should be one of: dense, conv/);
  assertUserError(vaekit(['export', 'a', 'b', '--opset', '9']), /from 13 to 21/);
  assertUserError(vaekit(['sample', '/no/bundle']), /Bundle folder not found/);
  assertUserError(vaekit(['frobnicate']), /unknown command/);
  assertUserError(vaekit(['sample', bundleDir, '--out', '/no/such/dir/s.png']), /does not exist/);
  assert.ok(!existsSync(out));
});

test('--verbose shows the stack trace of an error; --help works everywhere', () => {
  const r = vaekit(['--verbose', 'sample', '/no/bundle']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /\n\s+at /);
  for (const cmd of [[], ['train', 'image'], ['export'], ['sample'], ['reconstruct'], ['generate'], ['encode'], ['interpolate'], ['inspect'], ['demo'], ['serve-demo']]) {
    const h = vaekit([...cmd, '--help']);
    assert.equal(h.code, 0, cmd.join(' '));
    assert.match(h.stdout, /Usage: vaekit/);
  }
});
