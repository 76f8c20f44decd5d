/**
 * The model part of a report: the run's newest checkpoint, loaded with the trainer's public API and
 * run with tfjs in Node, gives samples, reconstructions, an interpolation and the posterior means of
 * held-out data (projected to 2-D by PCA).
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, EOS_ID } from '@vaekit/core';
import { generateFromLatents, loadCheckpoint, loadImageSplit, loadTextCorpus, readRunTokenizer, type ImageTrainConfig, type TextTrainConfig } from '@vaekit/trainer';
import { imageGridPng } from '../shared/png.js';
import type { ScatterPoint } from './charts.js';
import { pca2 } from './pca.js';

/** Sizes of the model part (small defaults keep a report of a big run quick). */
export interface ModelReportOptions {
  /** Held-out examples encoded for the latent map. Default 1000 (images), 500 (sentences). */
  mapLimit?: number;
  /** Prior samples: a grid of `samples` images, or `samples` sentences. Default 64 images, 8 sentences. */
  samples?: number;
  seed?: number;
}

/** The latent map: 2-D PCA of held-out posterior means. */
export interface LatentMap {
  points: ScatterPoint[];
  /** Share of the means' variance along each of the two axes. */
  explained: [number, number];
  latent: number;
}

/** What the model contributes to a report. */
export interface ModelReport {
  kind: 'image' | 'text';
  /** Image runs: PNG data URIs. */
  images?: { samples: string; reconstructions: string; interpolation: string; counts: { samples: number; reconstructions: number; interpolation: number } };
  /** Text runs: decoded sentences. */
  text?: {
    greedy: string[];
    sampled: string[];
    reconstructions: Array<{ input: string; output: string }>;
    interpolation?: { from: string; to: string; steps: string[] };
  };
  map?: LatentMap;
  /** Parts left out and why (e.g. a language-model run has no encoder). */
  notes: string[];
}

const dataUri = (png: Buffer) => `data:image/png;base64,${png.toString('base64')}`;

function prior(count: number, latent: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count * latent }, () => rng.normal());
}

function lerpRows(a: Float32Array, b: Float32Array, steps: number): Float32Array {
  const out = new Float32Array(steps * a.length);
  for (let s = 0; s < steps; s++) {
    const t = s / (steps - 1);
    for (let d = 0; d < a.length; d++) out[s * a.length + d] = (1 - t) * a[d]! + t * b[d]!;
  }
  return out;
}

const rows = (flat: Float32Array, width: number) => Array.from({ length: flat.length / width }, (_, i) => flat.subarray(i * width, (i + 1) * width));

async function imageReport(runDir: string, options: ModelReportOptions): Promise<ModelReport> {
  const { config: raw, encoder, decoder } = await loadCheckpoint(runDir, { optimizer: false });
  const config = raw as ImageTrainConfig;
  try {
    if (!encoder) throw new Error(`${runDir}: the checkpoint has no encoder.`);
    const { height, width, channels } = config.image;
    const pixels = height * width * channels;
    const latent = config.latent;
    const seed = options.seed ?? config.seed;
    // The run's own held-out split: MNIST, or the image folder it was trained on.
    const split = await loadImageSplit(config);
    const { test } = split;
    const classes = (split as { classes?: string[] }).classes;
    const n = Math.min(options.mapLimit ?? 1000, test.count);
    const decode = async (z: Float32Array, count: number) => {
      const t = tf.tidy(() => tf.sigmoid(decoder.predict(tf.tensor2d(z, [count, latent])) as tf.Tensor));
      const v = (await t.data()) as Float32Array;
      t.dispose();
      return rows(Float32Array.from(v), pixels);
    };
    const muT = tf.tidy(() => (encoder.predict(tf.tensor2d(test.images.subarray(0, n * pixels), [n, pixels])) as tf.Tensor[])[0]!);
    const mu = Float32Array.from((await muT.data()) as Float32Array);
    muT.dispose();
    const grid = { height, width, channels };
    const sampleCount = options.samples ?? 64;
    const samples = await decode(prior(sampleCount, latent, seed), sampleCount);
    const shown = Math.min(10, n);
    const recon = await decode(mu.slice(0, shown * latent), shown);
    const originals = rows(test.images.slice(0, shown * pixels), pixels);
    // Interpolate between the first two held-out digits that differ, so the strip shows a change of class.
    const other = Math.max(1, [...test.labels.subarray(0, n)].findIndex((l) => l !== test.labels[0]));
    const b = Math.min(other, n - 1);
    const steps = 10;
    const line = await decode(lerpRows(mu.subarray(0, latent), mu.subarray(b * latent, (b + 1) * latent), steps), steps);
    const { points, explained } = pca2(mu, n, latent);
    return {
      kind: 'image',
      images: {
        samples: dataUri(imageGridPng(samples, { ...grid, columns: 8 })),
        reconstructions: dataUri(imageGridPng([...originals, ...recon], { ...grid, columns: shown })),
        interpolation: dataUri(imageGridPng(line, { ...grid, columns: steps })),
        counts: { samples: samples.length, reconstructions: shown, interpolation: steps },
      },
      map: { points: points.map(([x, y], i) => ({ x, y, label: classes?.[test.labels[i]!] ?? String(test.labels[i]) })), explained, latent },
      notes: [],
    };
  } finally {
    encoder?.dispose();
    decoder.dispose();
  }
}

async function textReport(runDir: string, options: ModelReportOptions): Promise<ModelReport> {
  const { config: raw, encoder, decoder } = await loadCheckpoint(runDir, { optimizer: false });
  const config = raw as TextTrainConfig;
  const notes: string[] = [];
  try {
    const tokenizer = await readRunTokenizer(runDir);
    const latent = decoder.inputs[1]!.shape[1] as number;
    const T = decoder.inputs[0]!.shape[1] as number;
    const seed = options.seed ?? config.seed;
    const count = options.samples ?? 8;
    const words = (ids: number[][]) => ids.map((r) => tokenizer.decode(r));
    // Greedy (or sampled) decodes of the rows of `flat` with the training decoder.
    const decodeLatents = async (flat: Float32Array, count: number, options: { strategy?: 'sample'; seed?: number } = {}) =>
      (await generateFromLatents(decoder, rows(flat, latent).slice(0, count), { maxTokens: T, ...options })).map((g) => g.tokens.filter((t) => t !== EOS_ID));
    const z = config.model === 'lm' ? new Float32Array(count * latent) : prior(count, latent, seed);
    const greedy = words(await decodeLatents(z, count));
    const sampled = words(await decodeLatents(z, count, { strategy: 'sample', seed }));
    const report: ModelReport = { kind: 'text', text: { greedy, sampled, reconstructions: [] }, notes };
    if (!encoder) {
      notes.push('A language-model baseline has no encoder: no reconstructions, interpolation or latent map.');
      return report;
    }
    let test;
    try {
      test = (await loadTextCorpus(config)).test;
    } catch (err) {
      notes.push(`The run's data could not be read again (${(err as Error).message.split('\n')[0]}): no reconstructions, interpolation or latent map.`);
      return report;
    }
    const n = Math.min(options.mapLimit ?? 500, test.ids.length);
    const tokens = new Int32Array(n * T);
    for (let i = 0; i < n; i++) {
      const row = test.ids[i]!;
      tokens.set(row.subarray(0, T - 1), i * T);
      tokens[i * T + Math.min(row.length, T - 1)] = EOS_ID; // as the training batches end
    }
    const mu = new Float32Array(n * latent);
    for (let start = 0; start < n; start += 128) {
      const m = Math.min(128, n - start);
      const t = tf.tidy(() => (encoder.apply(tf.tensor2d(tokens.subarray(start * T, (start + m) * T), [m, T], 'int32')) as tf.Tensor[])[0]!);
      mu.set((await t.data()) as Float32Array, start * latent);
      t.dispose();
    }
    const shown = Math.min(5, n);
    const recon = words(await decodeLatents(mu.slice(0, shown * latent), shown));
    report.text!.reconstructions = recon.map((output, i) => ({ input: test.text[i]!, output }));
    if (n >= 2) {
      const steps = 6;
      report.text!.interpolation = {
        from: test.text[0]!,
        to: test.text[1]!,
        steps: words(await decodeLatents(lerpRows(mu.subarray(0, latent), mu.subarray(latent, 2 * latent), steps), steps)),
      };
    }
    const { points, explained } = pca2(mu, n, latent);
    report.map = { points: points.map(([x, y], i) => ({ x, y, text: test.text[i]! }) as ScatterPoint), explained, latent };
    return report;
  } finally {
    encoder?.dispose();
    decoder.dispose();
  }
}

/** Computes the model part of the report of `runDir` from its newest checkpoint. */
export async function modelReport(runDir: string, kind: string, options: ModelReportOptions = {}): Promise<ModelReport | undefined> {
  if (kind === 'image') return imageReport(runDir, options);
  if (kind === 'text') return textReport(runDir, options);
  return undefined;
}
