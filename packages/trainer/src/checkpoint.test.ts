import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { LATEST_FILE, loadCheckpoint, saveCheckpoint, writeConfig } from './checkpoint.js';
import { defaultImageConfig } from '@vaekit/core';
import { loadMnist } from './data/mnist.js';
import { CheckpointError } from './errors.js';
import { buildImageVae } from './models/image.js';

before(async () => {
  await tf.setBackend('cpu');
});

const tmp = () => mkdtempSync(path.join(tmpdir(), 'vaekit-ckpt-'));

for (const arch of ['dense', 'conv'] as const) {
  test(`a ${arch} checkpoint round-trips: same predictions after save and load`, async () => {
    const dir = tmp();
    const config = defaultImageConfig({ arch, latent: 4, hidden: [16] });
    const { encoder, decoder } = buildImageVae(config);
    await writeConfig(dir, config);
    await saveCheckpoint(dir, { encoder, decoder, state: { epoch: 1, step: 10 } });
    await saveCheckpoint(dir, { encoder, decoder, state: { epoch: 2, step: 20 } });
    await saveCheckpoint(dir, { encoder, decoder, state: { epoch: 3, step: 30 } });
    assert.deepEqual((await fs.readdir(path.join(dir, 'checkpoints'))).sort(), ['epoch-0002', 'epoch-0003'], 'keeps the last two');
    const loaded = await loadCheckpoint(dir);
    assert.equal(loaded.state.epoch, 3);
    assert.deepEqual(loaded.config, config);
    const x = tf.randomUniform([3, 784], 0, 1, 'float32', 5);
    const before = (encoder.predict(x) as tf.Tensor[]).map((t) => t.arraySync());
    const after = (loaded.encoder.predict(x) as tf.Tensor[]).map((t) => t.arraySync());
    assert.deepEqual(after, before);
    const z = tf.randomNormal([2, 4], 0, 1, 'float32', 6);
    assert.deepEqual((loaded.decoder.predict(z) as tf.Tensor).arraySync(), (decoder.predict(z) as tf.Tensor).arraySync());
  });
}

test('loading a missing or incomplete run folder names the problem', async () => {
  await assert.rejects(loadCheckpoint('/nonexistent/run'), (e: Error) => e instanceof CheckpointError && /Run folder not found/.test(e.message));
  const dir = tmp();
  await writeConfig(dir, defaultImageConfig());
  await assert.rejects(loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError && e.message.includes(LATEST_FILE));
  await fs.writeFile(path.join(dir, LATEST_FILE), '{"checkpoint": "../../etc"}');
  await assert.rejects(loadCheckpoint(dir), /does not name a checkpoint folder/);
});

test('the MNIST split is fixed by the seed: 9,000 train and 1,000 test digits, disjoint', async () => {
  const a = await loadMnist({ seed: 42, testFraction: 0.1 });
  const b = await loadMnist({ seed: 42, testFraction: 0.1 });
  const c = await loadMnist({ seed: 7, testFraction: 0.1 });
  assert.equal(a.train.count, 9000);
  assert.equal(a.test.count, 1000);
  assert.deepEqual(a.test.labels, b.test.labels);
  assert.deepEqual(a.test.images.subarray(0, 784 * 5), b.test.images.subarray(0, 784 * 5));
  assert.notDeepEqual(Array.from(a.test.labels.subarray(0, 50)), Array.from(c.test.labels.subarray(0, 50)));
  const key = (set: typeof a.train, i: number) => set.images.subarray(i * 784, (i + 1) * 784).join(',');
  const testKeys = new Set(Array.from({ length: a.test.count }, (_, i) => key(a.test, i)));
  let overlap = 0;
  for (let i = 0; i < 2000; i++) if (testKeys.has(key(a.train, i))) overlap++;
  assert.ok(overlap <= 2, `train and test share ${overlap} of 2000 checked images`);
  for (const v of a.train.images.subarray(0, 784 * 100)) assert.ok(v >= 0 && v <= 1);
  const counts = new Array(10).fill(0);
  for (const l of a.test.labels) counts[l]++;
  assert.ok(counts.every((n) => n > 50), `every digit is in the test set: ${counts}`);
});
