import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataError } from '../errors.js';
import { loadImageFolder, loadImageSplit } from './images.js';

/** A PNG whose pixel (x, y) is `rgba(x, y)`. */
function png(width: number, height: number, rgba: (x: number, y: number) => [number, number, number, number]): Buffer {
  const p = new PNG({ width, height });
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) p.data.set(rgba(x, y), (y * width + x) * 4);
  return PNG.sync.write(p);
}

const folder = () => mkdtempSync(path.join(tmpdir(), 'vaekit-images-'));
const opts = { seed: 1, testFraction: 0.5 };

test('images are resized by averaging the pixels each output pixel covers, in HWC order', async () => {
  const dir = folder();
  // 4x4 made of four 2x2 blocks: red, green / blue, white; resized to 2x2 each block is one pixel.
  const colour = (x: number, y: number): [number, number, number, number] =>
    y < 2 ? (x < 2 ? [255, 0, 0, 255] : [0, 255, 0, 255]) : x < 2 ? [0, 0, 255, 255] : [255, 255, 255, 255];
  writeFileSync(path.join(dir, 'a.png'), png(4, 4, colour));
  writeFileSync(path.join(dir, 'b.png'), png(4, 4, colour));
  const { train, test: held } = await loadImageFolder(dir, { height: 2, width: 2, channels: 3, ...opts });
  assert.equal(train.count + held.count, 2);
  assert.equal(train.pixels, 12);
  assert.deepEqual(Array.from(train.images), [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]);
  const grey = await loadImageFolder(dir, { height: 1, width: 1, channels: 1, ...opts });
  // The mean of the four blocks' lumas: (0.299 + 0.587 + 0.114 + 1) / 4.
  assert.ok(Math.abs(grey.train.images[0]! - 0.5) < 1e-6, String(grey.train.images[0]));
});

test('transparency is composited over black; enlarging interpolates; JPEG decodes', async () => {
  const dir = folder();
  writeFileSync(path.join(dir, 'half.png'), png(2, 2, () => [255, 255, 255, 128]));
  const rgba = Buffer.alloc(8 * 8 * 4, 255);
  writeFileSync(path.join(dir, 'white.jpg'), jpeg.encode({ data: rgba, width: 8, height: 8 }, 95).data);
  const { train, test: held } = await loadImageFolder(dir, { height: 4, width: 4, channels: 1, ...opts });
  const values = [...Array.from(train.images), ...Array.from(held.images)];
  assert.equal(values.length, 32);
  const sorted = [...new Set(values.map((v) => v.toFixed(2)))].sort();
  assert.deepEqual(sorted, ['0.50', '1.00'], 'half-transparent white is grey 0.5, the JPEG is white');
});

test('class subfolders give labels in sorted order; the split is seeded', async () => {
  const dir = folder();
  for (const [cls, v] of [['zebra', 200], ['ant', 10]] as const) {
    mkdirSync(path.join(dir, cls));
    for (let i = 0; i < 5; i++) writeFileSync(path.join(dir, cls, `${i}.png`), png(3, 3, () => [v, v, v, 255]));
  }
  const a = await loadImageFolder(dir, { height: 3, width: 3, channels: 1, seed: 7, testFraction: 0.2 });
  assert.deepEqual(a.classes, ['ant', 'zebra']);
  assert.equal(a.test.count, 2);
  assert.equal(a.train.count, 8);
  for (const set of [a.train, a.test]) {
    for (let i = 0; i < set.count; i++) assert.equal(set.labels[i], set.images[i * set.pixels]! > 0.5 ? 1 : 0);
  }
  const b = await loadImageFolder(dir, { height: 3, width: 3, channels: 1, seed: 7, testFraction: 0.2 });
  assert.deepEqual(b.test.images, a.test.images, 'same seed, same split');
  const limited = await loadImageSplit({ dataset: dir, image: { height: 3, width: 3, channels: 1 }, seed: 7, testFraction: 0.2, trainLimit: 3 });
  assert.equal(limited.train.count, 3);
});

test('bad folders and bad shapes are DataErrors naming the problem', async () => {
  const dir = folder();
  await assert.rejects(loadImageFolder(path.join(dir, 'none'), { height: 4, width: 4, channels: 1, ...opts }), (e: Error) => e instanceof DataError && /Image folder not found/.test(e.message));
  await assert.rejects(loadImageFolder(dir, { height: 4, width: 4, channels: 1, ...opts }), /No images in/);
  await assert.rejects(loadImageFolder(dir, { height: 4, width: 4, channels: 2, ...opts }), /Unsupported channel count 2\. Should be one of: 1, 3/);
  await assert.rejects(loadImageSplit({ dataset: 'mnist', image: { height: 32, width: 32, channels: 1 }, ...opts }), /MNIST digits are 28x28 grey images; got image 32x32x1/);
});
