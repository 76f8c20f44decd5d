/** @vaekit/runtime on a real exported bundle: the typed API, parity with tfjs, and refusal of bad input. */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { BundleError, InputError, loadVae, sha256Hex, type ImageVae } from '@vaekit/runtime';
import { loadCheckpoint } from '@vaekit/trainer';
import { tempDir, trainedBundle } from './helpers.js';

let vae: ImageVae;
let bundleDir: string;
let runDir: string;

before(async () => {
  await tf.setBackend('cpu');
  ({ bundleDir, runDir } = trainedBundle('dense'));
  vae = await loadVae(bundleDir);
});

const digit = (seed: number) => Float32Array.from({ length: 784 }, (_, i) => ((i * 7919 + seed * 104729) % 97) / 96);

test('encode, decode, reconstruct and sample have the documented shapes and ranges', async () => {
  assert.equal(vae.latentSize, 8);
  assert.deepEqual(vae.imageShape, [28, 28, 1]);
  assert.equal(vae.backend, 'cpu');
  const { mu, logvar } = await vae.encode([digit(1), digit(2), digit(3)]);
  assert.equal(mu.length, 3);
  assert.equal(mu[0]!.length, 8);
  assert.equal(logvar[2]!.length, 8);
  const images = await vae.decode(mu);
  assert.equal(images[0]!.length, 784);
  for (const v of images[1]!) assert.ok(v >= 0 && v <= 1);
  assert.deepEqual(await vae.reconstruct([digit(1)]), [images[0]]);
  const a = await vae.sample(5, { seed: 9 });
  const b = await vae.sample(5, { seed: 9 });
  assert.deepEqual(a, b, 'seeded sampling is reproducible');
  assert.notDeepEqual((await vae.sample(5, { seed: 10 })).z, a.z);
  const cold = await vae.sample(5, { seed: 9, latentTemperature: 0.5 });
  assert.ok(Math.abs(cold.z[0]![0]! - a.z[0]![0]! / 2) < 1e-6, 'latentTemperature scales the prior draw');
  assert.deepEqual(await vae.sample(5, { seed: 9, temperature: 0.5 }), cold, 'the deprecated spelling still works for one release');
});

test('ONNX Runtime outputs match the tfjs checkpoint on the same inputs', async () => {
  const { encoder, decoder } = await loadCheckpoint(runDir);
  const xs = [digit(4), digit(5)];
  const [tfMu] = encoder.predict(tf.tensor2d([...xs[0]!, ...xs[1]!], [2, 784])) as tf.Tensor[];
  const { mu } = await vae.encode(xs);
  const tfMuRows = tfMu!.arraySync() as number[][];
  let maxErr = 0;
  mu.forEach((row, i) => row.forEach((v, j) => (maxErr = Math.max(maxErr, Math.abs(v - tfMuRows[i]![j]!)))));
  const tfProbs = tf.sigmoid(decoder.predict(tf.tensor2d(tfMuRows)) as tf.Tensor).arraySync() as number[][];
  const probs = await vae.decode(tfMuRows.map((r) => Float32Array.from(r)));
  probs.forEach((row, i) => row.forEach((v, j) => (maxErr = Math.max(maxErr, Math.abs(v - tfProbs[i]![j]!)))));
  assert.ok(maxErr < 1e-4, `max abs error ${maxErr}`);
});

test('interpolate starts and ends at the reconstructions and supports slerp', async () => {
  const a = digit(6);
  const b = digit(7);
  for (const method of ['linear', 'slerp'] as const) {
    const path = await vae.interpolate(a, b, { steps: 5, method });
    assert.equal(path.length, 5);
    const [ra, rb] = await vae.reconstruct([a, b]);
    for (let i = 0; i < 784; i++) {
      assert.ok(Math.abs(path[0]![i]! - ra![i]!) < 1e-5);
      assert.ok(Math.abs(path[4]![i]! - rb![i]!) < 1e-5);
    }
  }
});

test('bad arguments are refused with InputError naming the problem', async () => {
  await assert.rejects(vae.encode([new Float32Array(10)]), (e: Error) => e instanceof InputError && /length 784, got length 10/.test(e.message));
  const nan = digit(1);
  nan[3] = Number.NaN;
  await assert.rejects(vae.encode([nan]), /contains NaN at index 3/);
  await assert.rejects(vae.decode([Float32Array.from({ length: 8 }, () => Infinity)]), /only finite numbers/);
  await assert.rejects(vae.sample(0), /n must be a positive integer/);
  await assert.rejects(vae.sample(2, { temperature: -1 }), /temperature/);
  await assert.rejects(vae.decode([]), /non-empty/);
  await assert.rejects(loadVae(bundleDir, { backend: 'webgl' }), /Unsupported backend "webgl". Should be one of: cpu/);
});

test('tampered, incomplete or mismatched bundles are refused with the file named', async () => {
  const copy = async () => {
    const dir = path.join(tempDir(), 'b');
    await fs.cp(bundleDir, dir, { recursive: true });
    return dir;
  };
  let dir = await copy();
  await fs.rm(path.join(dir, 'manifest.json'));
  await assert.rejects(loadVae(dir), (e: Error) => e instanceof BundleError && /manifest.json is missing/.test(e.message));

  dir = await copy();
  await fs.rm(path.join(dir, 'encoder.onnx'));
  await assert.rejects(loadVae(dir), /Bundle file missing: .*encoder.onnx/);

  dir = await copy();
  const m = JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'));
  m.formatVersion = 2;
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(loadVae(dir), /formatVersion 2 is not supported/);

  dir = await copy();
  m.formatVersion = 1;
  m.graphs.encoder.inputs[0].name = 'pixels';
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(loadVae(dir), /encoder.onnx does not match manifest.json: input "pixels" not found/);

  dir = await copy();
  m.graphs.encoder.inputs[0].name = 'x';
  const truncated = (await fs.readFile(path.join(dir, 'encoder.onnx'))).subarray(0, 1000);
  await fs.writeFile(path.join(dir, 'encoder.onnx'), truncated);
  m.files['encoder.onnx'].sha256 = await sha256Hex(new Uint8Array(truncated));
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(loadVae(dir), (e: Error) => e instanceof BundleError && /encoder.onnx could not be loaded by ONNX Runtime/.test(e.message));

  dir = await copy();
  m.graphs.encoder.file = '../encoder.onnx';
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(loadVae(dir), /not allowed/);
});

test('dispose releases the sessions; later calls throw', async () => {
  const v = await loadVae(bundleDir);
  await v.dispose();
  await assert.rejects(v.decode([new Float32Array(8)]), /disposed/);
  await v.dispose();
});
