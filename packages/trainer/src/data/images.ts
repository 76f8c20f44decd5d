/**
 * Your own images: a folder of PNG and JPEG files (or one subfolder per class), decoded with the
 * pure-JS `pngjs` and `jpeg-js` (no native download), resized to one size and converted to grey or RGB,
 * then split into train and test sets by the same seeded shuffle as the MNIST digits.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { createRng, permutation, type ImageTrainConfig } from '@vaekit/core';
import { DataError } from '../errors.js';
import { loadMnist, type ImageSet, type ImageSplit } from './mnist.js';

/** File name endings read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

/** How {@link loadImageFolder} shapes the images. */
export interface ImageFolderOptions {
  height: number;
  width: number;
  /** 1 (grey, luma of RGB) or 3 (RGB). */
  channels: number;
  seed: number;
  /** Share of the images held out for testing (fixed by the seed); at least one image is held out. */
  testFraction: number;
  /** Use at most this many training images (0 = all). */
  trainLimit?: number;
}

/** The images found in a folder, before decoding. */
interface Found {
  files: string[];
  labels: number[];
  classes: string[];
}

const isImage = (name: string) => IMAGE_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e));

async function findImages(dir: string): Promise<Found> {
  let entries;
  try {
    const stat = await fs.stat(dir);
    if (!stat.isDirectory()) throw new DataError(`--data ${dir} is not a folder. Expected a folder of .png/.jpg images (or one subfolder of images per class).`);
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`Image folder not found: ${dir}. Expected a folder of .png/.jpg images (or one subfolder of images per class).`);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const top = entries.filter((e) => e.isFile() && isImage(e.name)).map((e) => path.join(dir, e.name));
  const classes: string[] = [];
  const files: string[] = [];
  const labels: number[] = [];
  for (const e of entries.filter((x) => x.isDirectory() && !x.name.startsWith('.'))) {
    const inner = (await fs.readdir(path.join(dir, e.name), { withFileTypes: true }))
      .filter((x) => x.isFile() && isImage(x.name))
      .map((x) => x.name)
      .sort();
    if (inner.length === 0) continue;
    classes.push(e.name);
    for (const name of inner) {
      files.push(path.join(dir, e.name, name));
      labels.push(classes.length - 1);
    }
  }
  if (top.length > 0 && classes.length > 0) {
    throw new DataError(`--data ${dir} mixes images (${path.basename(top[0]!)}) with class subfolders (${classes[0]}/). Expected either images only or one subfolder per class.`);
  }
  if (classes.length > 256) throw new DataError(`--data ${dir} has ${classes.length} class subfolders; at most 256 are supported.`);
  if (top.length > 0) return { files: top, labels: top.map(() => 0), classes: [] };
  if (files.length === 0) {
    throw new DataError(`No images in ${dir}. Expected .png/.jpg/.jpeg files in it (or in one subfolder per class).`);
  }
  return { files, labels, classes };
}

/** Decodes one file to RGBA bytes. */
function decode(file: string, bytes: Buffer): { width: number; height: number; data: Uint8Array } {
  const png = bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47;
  const jpg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  try {
    if (png) {
      const img = PNG.sync.read(bytes);
      return { width: img.width, height: img.height, data: img.data };
    }
    if (jpg) {
      // Bounds keep a hostile file from allocating gigabytes.
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 100, maxMemoryUsageInMB: 1024 });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (err) {
    throw new DataError(`Cannot decode ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  throw new DataError(`Cannot decode ${file}: it is neither a PNG nor a JPEG file.`);
}

/**
 * Resizes RGBA bytes to `height x width` by averaging the source pixels each target pixel covers (box
 * filter; bilinear when enlarging), composites transparency over black, and writes `channels` values in
 * [0, 1] per pixel (grey: ITU-R BT.601 luma) into `out` at `offset`.
 */
function resizeInto(
  src: { width: number; height: number; data: Uint8Array },
  height: number,
  width: number,
  channels: number,
  out: Float32Array,
  offset: number,
): void {
  const sx = src.width / width;
  const sy = src.height / height;
  const px = (x: number, y: number, c: number) => {
    const i = (y * src.width + x) * 4;
    return (src.data[i + c]! / 255) * (src.data[i + 3]! / 255);
  };
  const rgb = [0, 0, 0];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      rgb[0] = rgb[1] = rgb[2] = 0;
      if (sx >= 1 && sy >= 1) {
        const x0 = Math.floor(x * sx);
        const x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
        const y0 = Math.floor(y * sy);
        const y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
        for (let v = y0; v < y1; v++) for (let u = x0; u < x1; u++) for (let c = 0; c < 3; c++) rgb[c]! += px(u, v, c);
        const n = (x1 - x0) * (y1 - y0);
        for (let c = 0; c < 3; c++) rgb[c]! /= n;
      } else {
        const fx = Math.min(src.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
        const fy = Math.min(src.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
        const u0 = Math.floor(fx);
        const v0 = Math.floor(fy);
        const u1 = Math.min(src.width - 1, u0 + 1);
        const v1 = Math.min(src.height - 1, v0 + 1);
        const a = fx - u0;
        const b = fy - v0;
        for (let c = 0; c < 3; c++) {
          rgb[c] = (1 - b) * ((1 - a) * px(u0, v0, c) + a * px(u1, v0, c)) + b * ((1 - a) * px(u0, v1, c) + a * px(u1, v1, c));
        }
      }
      const o = offset + (y * width + x) * channels;
      if (channels === 1) out[o] = 0.299 * rgb[0]! + 0.587 * rgb[1]! + 0.114 * rgb[2]!;
      else for (let c = 0; c < 3; c++) out[o + c] = rgb[c]!;
    }
  }
}

/**
 * Reads every PNG/JPEG image in `dir` (or in its class subfolders, labelled by subfolder name in sorted
 * order), resizes it to `height x width` with `channels` channels, and splits them like {@link loadMnist}:
 * a seeded permutation, the first `testFraction` held out. Throws {@link DataError} (one line naming the
 * folder or file) for a missing folder, a folder without images, or a file that does not decode.
 */
export async function loadImageFolder(dir: string, options: ImageFolderOptions): Promise<ImageSplit & { classes: string[] }> {
  const { height, width, channels } = options;
  if (channels !== 1 && channels !== 3) throw new DataError(`Unsupported channel count ${channels}. Should be one of: 1, 3.`);
  if (!(options.testFraction > 0 && options.testFraction < 1)) throw new DataError(`testFraction must be in (0, 1), got ${options.testFraction}.`);
  const found = await findImages(dir);
  if (found.files.length < 2) throw new DataError(`${dir} has ${found.files.length} image; at least 2 are needed (one to train on, one held out).`);
  const pixels = height * width * channels;
  const images = new Float32Array(found.files.length * pixels);
  for (let i = 0; i < found.files.length; i++) {
    const file = found.files[i]!;
    resizeInto(decode(file, await fs.readFile(file)), height, width, channels, images, i * pixels);
  }
  const labels = Uint8Array.from(found.labels);
  const order = permutation(found.files.length, createRng(options.seed));
  const nTest = Math.min(found.files.length - 1, Math.max(1, Math.round(found.files.length * options.testFraction)));
  let trainOrder = order.slice(nTest);
  if (options.trainLimit && options.trainLimit > 0) trainOrder = trainOrder.slice(0, options.trainLimit);
  const gather = (rows: number[]): ImageSet => {
    const out = new Float32Array(rows.length * pixels);
    const outLabels = new Uint8Array(rows.length);
    rows.forEach((src, dst) => {
      out.set(images.subarray(src * pixels, (src + 1) * pixels), dst * pixels);
      outLabels[dst] = labels[src]!;
    });
    return { images: out, labels: outLabels, count: rows.length, pixels };
  };
  return { train: gather(trainOrder), test: gather(order.slice(0, nTest)), classes: found.classes };
}

/**
 * The train/test split of an image run: the built-in MNIST digits when `config.dataset` is `mnist`,
 * otherwise the image folder it names, shaped as `config.image`.
 */
export async function loadImageSplit(
  config: Pick<ImageTrainConfig, 'dataset' | 'image' | 'seed' | 'testFraction'> & { trainLimit?: number },
): Promise<ImageSplit> {
  const common = { seed: config.seed, testFraction: config.testFraction, ...(config.trainLimit ? { trainLimit: config.trainLimit } : {}) };
  if (config.dataset === 'mnist') {
    const { height, width, channels } = config.image;
    if (height !== 28 || width !== 28 || channels !== 1) {
      throw new DataError(`The MNIST digits are 28x28 grey images; got image ${height}x${width}x${channels}. Use --size 28 --channels 1, or --data DIR.`);
    }
    return loadMnist(common);
  }
  return loadImageFolder(config.dataset, { ...config.image, ...common });
}
