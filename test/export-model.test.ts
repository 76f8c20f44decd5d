/** `vaekit export-model`: any tfjs layers model.json -> .onnx, with parity and one clear error for unsupported layers. */
import * as tf from '@tensorflow/tfjs';
import { folderIO } from '@vaekit/trainer';
import { decodeModel } from '@vaekit/exporter';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { tempDir, vaekit, vaekitOk } from './helpers.js';

let dir: string;

before(async () => {
  await tf.setBackend('cpu');
  dir = tempDir();
  // A model that is not a vaekit model: embedding, masked bidirectional GRU, dense softmax.
  const x = tf.input({ shape: [6], dtype: 'int32', name: 'ids' });
  let h = tf.layers.embedding({ inputDim: 20, outputDim: 4, maskZero: true }).apply(x) as tf.SymbolicTensor;
  h = tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3, returnSequences: true }) as never }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.lstm({ units: 5 }).apply(h) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: y });
  await model.save(folderIO(path.join(dir, 'classifier'), 'classifier.json'));
  model.dispose();
});

test('export-model converts a saved tfjs model.json, checks parity, and inspect reads it', () => {
  const out = path.join(dir, 'out', 'classifier.onnx');
  const r = vaekitOk(['export-model', path.join(dir, 'classifier', 'classifier.json'), out, '--opset', '13', '--json']);
  const summary = JSON.parse(r.stdout) as { opset: number; irVersion: number; parity: { maxAbsError: Record<string, number> }; layers: Record<string, number> };
  assert.equal(summary.opset, 13);
  assert.equal(summary.irVersion, 7);
  assert.deepEqual(Object.keys(summary.layers).sort(), ['Bidirectional', 'Dense', 'Embedding', 'InputLayer', 'LSTM']);
  for (const err of Object.values(summary.parity.maxAbsError)) assert.ok(err <= 1e-4, String(err));
  assert.ok(existsSync(out));
  const ins = vaekitOk(['inspect', out]);
  assert.match(ins.stdout, /opset ai\.onnx:13, IR version 7/);
  assert.match(ins.stdout, /GRU x1/);
});

test('export-model lists every unsupported layer in one line and exits 2, writing nothing', async () => {
  const src = path.join(dir, 'classifier', 'classifier.json');
  const json = JSON.parse(await fs.readFile(src, 'utf8')) as { modelTopology: { config: { layers: Array<{ class_name: string; config: { name: string } }> } } };
  const layers = json.modelTopology.config.layers;
  layers[2]!.class_name = 'FancyAttention';
  layers[3]!.class_name = 'Conv3D';
  const bad = path.join(dir, 'classifier', 'bad.json');
  await fs.writeFile(bad, JSON.stringify(json));
  const out = path.join(dir, 'bad.onnx');
  const r = vaekit(['export-model', bad, out]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, new RegExp(`FancyAttention \\(layer "${layers[2]!.config.name}"\\), Conv3D \\(layer "${layers[3]!.config.name}"\\)`));
  assert.match(r.stderr, /Supported layers: .*GRU/);
  assert.ok(!existsSync(out));
  const missing = vaekit(['export-model', path.join(dir, 'nope.json'), out]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Model file not found: .*nope\.json/);
});

test('the saved model round-trips: decodeModel sees one recurrent op per layer', async () => {
  const out = path.join(dir, 'classifier-17.onnx');
  vaekitOk(['export-model', path.join(dir, 'classifier', 'classifier.json'), out]);
  const s = decodeModel(new Uint8Array(await fs.readFile(out)));
  assert.equal(s.opHistogram.GRU, 1);
  assert.equal(s.opHistogram.LSTM, 1);
});

test('export --dtype fp16 / int8 reports size, error vs fp32 and the held-out loss change', async () => {
  const { buildImageVae, defaultImageConfig, saveCheckpoint, writeConfig } = await import('@vaekit/trainer');
  const runDir = path.join(dir, 'image-run');
  const config = defaultImageConfig({ arch: 'dense', hidden: [128], latent: 4, epochs: 1, seed: 3 });
  const { encoder, decoder } = buildImageVae(config);
  await writeConfig(runDir, config);
  await saveCheckpoint(runDir, { encoder, decoder, state: { epoch: 1, step: 1 } });
  for (const [dtype, maxRatio] of [['fp16', 0.55], ['int8', 0.3]] as const) {
    const r = vaekitOk(['export', runDir, path.join(dir, `bundle-${dtype}`), '--dtype', dtype, '--held-out', '64', '--json']);
    const s = JSON.parse(r.stdout) as { dtype: string; variant: { bytes: number; fp32Bytes: number; maxAbsErrorVsFp32: Record<string, number>; heldOutLossDelta: number } };
    assert.equal(s.dtype, dtype);
    assert.ok(s.variant.bytes / s.variant.fp32Bytes < maxRatio, `${dtype} size ratio ${s.variant.bytes / s.variant.fp32Bytes}`);
    assert.ok(Number.isFinite(s.variant.heldOutLossDelta));
    assert.deepEqual(Object.keys(s.variant.maxAbsErrorVsFp32).sort(), ['decoder.logits', 'encoder.logvar', 'encoder.mu']);
    vaekitOk(['sample', path.join(dir, `bundle-${dtype}`), '--n', '2', '--out', path.join(dir, `${dtype}.png`)]);
  }
  const bad = vaekit(['export', runDir, path.join(dir, 'bundle-bad'), '--dtype', 'int4']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Should be one of: fp32, fp16, int8/);
});

test('export --dtype fp32,fp16,int8 writes one bundle with a folder per extra dtype; loadVae({ dtype }) picks one', async () => {
  const { buildImageVae, defaultImageConfig, saveCheckpoint, writeConfig } = await import('@vaekit/trainer');
  const { loadVae } = await import('@vaekit/runtime');
  const runDir = path.join(dir, 'image-run-dtypes');
  const config = defaultImageConfig({ arch: 'dense', hidden: [128], latent: 4, epochs: 1, seed: 5 });
  const { encoder, decoder } = buildImageVae(config);
  await writeConfig(runDir, config);
  await saveCheckpoint(runDir, { encoder, decoder, state: { epoch: 1, step: 1 } });
  const bundle = path.join(dir, 'bundle-dtypes');
  const s = JSON.parse(vaekitOk(['export', runDir, bundle, '--dtype', 'fp32,fp16,int8', '--held-out', '32', '--json']).stdout) as {
    dtype: string;
    dtypes: string[];
    files: Array<{ path: string; bytes: number }>;
  };
  assert.equal(s.dtype, 'fp32');
  assert.deepEqual(s.dtypes, ['fp32', 'fp16', 'int8']);
  const size = (p: string) => s.files.find((f) => f.path === p)!.bytes;
  assert.ok(size('fp16/decoder.onnx') < 0.55 * size('decoder.onnx') && size('int8/decoder.onnx') < 0.3 * size('decoder.onnx'));
  const m = JSON.parse(await fs.readFile(path.join(bundle, 'manifest.json'), 'utf8'));
  assert.equal(m.dtypes.int8.graphs.encoder.file, 'int8/encoder.onnx');
  assert.ok(Number.isFinite(m.dtypes.int8.variant.heldOutLossDelta), 'each extra dtype has its own variant report');
  assert.ok(m.files['int8/encoder.onnx'].sha256.match(/^[0-9a-f]{64}$/));
  const z = [Float32Array.from([0.5, -1, 0.25, 2])];
  const reference = await loadVae(bundle, { kind: 'image' });
  const want = (await reference.decode(z))[0]!;
  await reference.dispose();
  for (const [dtype, tolerance] of [['fp16', 0.01], ['int8', 0.1]] as const) {
    const opened: string[] = [];
    const vae = await loadVae(bundle, { kind: 'image', dtype, onProgress: (e) => e.stage === 'session' && opened.push(e.file) });
    assert.deepEqual(opened, [`${dtype}/encoder.onnx`, `${dtype}/decoder.onnx`]);
    const got = (await vae.decode(z))[0]!;
    const err = Math.max(...got.map((v, i) => Math.abs(v - want[i]!)));
    assert.ok(err > 0 && err < tolerance, `${dtype}: max abs error ${err} vs fp32`);
    await vae.dispose();
  }
  await assert.rejects(loadVae(bundle, { dtype: 'q4' }), /This bundle has no "q4" weights\. Should be one of: fp32, fp16, int8/);
  const dup = vaekit(['export', runDir, path.join(dir, 'bundle-dup'), '--dtype', 'int8,int8']);
  assert.equal(dup.code, 2);
  assert.match(dup.stderr, /names a dtype twice/);
});
