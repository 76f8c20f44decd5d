/** Shared helpers of the end-to-end tests: running the built CLI and making small real bundles. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

/** Repository root. */
export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'dist', 'main.js');

/** Result of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `vaekit ...args` (the built CLI) in `cwd`. */
export function vaekit(args: string[], cwd = ROOT): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 600_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI and fails the test with its output unless it exits 0. */
export function vaekitOk(args: string[], cwd = ROOT): CliResult {
  const r = vaekit(args, cwd);
  assert.equal(r.code, 0, `vaekit ${args.join(' ')} exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r;
}

/** A fresh temporary folder. */
export function tempDir(prefix = 'vaekit-e2e-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

const bundles = new Map<string, { runDir: string; bundleDir: string }>();

/**
 * Trains a small real model on MNIST digits (one epoch on a few hundred digits) and exports it,
 * once per architecture and process.
 */
export function trainedBundle(arch: 'dense' | 'conv' = 'dense'): { runDir: string; bundleDir: string } {
  const cached = bundles.get(arch);
  if (cached) return cached;
  const dir = tempDir();
  const runDir = path.join(dir, 'run');
  const bundleDir = path.join(dir, 'bundle');
  vaekitOk(['train', 'image', '--arch', arch, '--epochs', '1', '--limit', arch === 'conv' ? '256' : '1024', '--latent', '8', '--out', runDir]);
  vaekitOk(['export', runDir, bundleDir]);
  const made = { runDir, bundleDir };
  bundles.set(arch, made);
  return made;
}

const textBundles = new Map<string, { runDir: string; bundleDir: string; corpus: string }>();

/**
 * Trains a tiny sentence VAE through the CLI (`vaekit train text`, 4 epochs on 240 generated
 * sentences) and exports it with the webgl variant (`vaekit export --webgl-variant`), once per cell
 * and process.
 */
export function trainedTextBundle(cell: 'gru' | 'lstm' = 'gru'): { runDir: string; bundleDir: string; corpus: string } {
  const cached = textBundles.get(cell);
  if (cached) return cached;
  const dir = tempDir('vaekit-e2e-text-');
  const corpus = path.join(dir, 'sentences.txt');
  const who = ['the cat', 'a dog', 'my friend', 'the teacher', 'our team', 'the bird'];
  const what = ['sat on the mat', 'ran to the park', 'reads a book', 'went home early', 'likes the rain'];
  const when = ['today', 'again', 'at night', 'every day'];
  const lines = Array.from({ length: 240 }, (_, i) => `${who[i % 6]} ${what[(i * 7) % 5]} ${when[(i * 3) % 4]} .`);
  writeFileSync(corpus, lines.join('\n') + '\n');
  const runDir = path.join(dir, 'run');
  const bundleDir = path.join(dir, 'bundle');
  vaekitOk([
    'train', 'text', '--data', corpus, '--cell', cell, '--max-length', '8', '--min-count', '1', '--embedding', '16', '--hidden', '24',
    '--latent', '4', '--batch-size', '16', '--epochs', '4', '--lr', '0.01', '--k', '5', '--out', runDir,
  ]);
  vaekitOk(['export', runDir, bundleDir, '--webgl-variant']);
  const made = { runDir, bundleDir, corpus };
  textBundles.set(cell, made);
  return made;
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Bytes per MiB, for memory bounds. */
export const MB = 1024 * 1024;

/** `process.memoryUsage()` after two full garbage collections, so growth measures what is still held. */
export function memoryAfterGc(): NodeJS.MemoryUsage {
  gc();
  gc();
  return process.memoryUsage();
}

/**
 * Writes a small image folder for `vaekit train image --data`: `perClass` images in each of the class
 * subfolders `bars/` (PNG) and `dots/` (JPEG), `size` x `size` RGB, with a pattern that varies per image.
 */
export async function makeImageFolder(dir: string, perClass = 12, size = 20): Promise<string> {
  const { PNG } = await import('pngjs');
  const jpeg = (await import('jpeg-js')).default;
  const { mkdirSync } = await import('node:fs');
  for (const cls of ['bars', 'dots']) mkdirSync(path.join(dir, cls), { recursive: true });
  for (let i = 0; i < perClass; i++) {
    const rgba = Buffer.alloc(size * size * 4);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const o = (y * size + x) * 4;
        const on = (x + i) % 5 < 2;
        rgba[o] = on ? 230 : 10;
        rgba[o + 1] = on ? 40 + 10 * i : 20;
        rgba[o + 2] = on ? 90 : 200 - 5 * i;
        rgba[o + 3] = 255;
      }
    }
    const png = new PNG({ width: size, height: size });
    rgba.copy(png.data);
    writeFileSync(path.join(dir, 'bars', `bar-${i}.png`), PNG.sync.write(png));
    for (let k = 0; k < rgba.length; k += 4) {
      const p = k / 4;
      const dx = (p % size) - size / 2;
      const dy = Math.floor(p / size) - size / 2;
      const v = dx * dx + dy * dy < (3 + (i % 5)) ** 2 ? 250 : 5;
      rgba[k] = rgba[k + 1] = rgba[k + 2] = v;
    }
    writeFileSync(path.join(dir, 'dots', `dot-${i}.jpg`), jpeg.encode({ data: rgba, width: size, height: size }, 90).data);
  }
  return dir;
}
