/**
 * Image runs under `vaekit eval`: sample quality (FID, precision, recall, confident share) on vaekit's
 * own MNIST classifier, the held-out ELBO, and a PNG grid of prior samples. Loads the trainer: import this
 * module inside an action.
 */
import path from 'node:path';
import { writeFileAtomic } from '@vaekit/core/node';
import { evaluateImageRun, loadCheckpoint, loadMnistClassifier, priorSamples, type ImageSampleQuality } from '@vaekit/trainer';
import { imageGridPng } from './png.js';

/** Name of the image evaluation report written into a run folder. */
export const IMAGE_EVAL_FILE = 'eval-images.json';

/** The report as aligned lines. */
export function imageQualityTable(q: ImageSampleQuality): string {
  const rows: Array<[string, string]> = [
    [`FID (classifier features, ${q.samples} samples)`, q.fid.toFixed(2)],
    [`precision (k=${q.k})`, q.precision.toFixed(3)],
    [`recall (k=${q.k})`, q.recall.toFixed(3)],
    ['confident share (p >= 0.9)', `${q.confident.toFixed(3)} (held-out digits: ${q.confidentReal.toFixed(3)})`],
    ['held-out -ELBO (nats/image)', `${q.heldOut.elbo.toFixed(2)} (rec ${q.heldOut.reconstruction.toFixed(2)}, KL ${q.heldOut.kl.toFixed(2)})`],
    ['classifier held-out accuracy', q.classifierAccuracy.toFixed(3)],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

/** Evaluates an image run, writes RUN/eval-images.json (and a sample grid when `grid` is given). */
export async function evaluateImageRunCli(
  runDir: string,
  options: { samples: number; seed: number; grid?: string; log: (line: string) => void },
): Promise<ImageSampleQuality & { epoch: number }> {
  const classifier = await loadMnistClassifier({ onTrainEpoch: (e, n) => options.log(`training the MNIST feature classifier (once, cached): epoch ${e}/${n}`) });
  try {
    if (classifier.trained) options.log(`feature classifier cached in ${classifier.dir} (held-out accuracy ${classifier.accuracy.toFixed(3)})`);
    const { config, ...quality } = await evaluateImageRun(runDir, { samples: options.samples, seed: options.seed, model: classifier });
    await writeFileAtomic(path.join(runDir, IMAGE_EVAL_FILE), JSON.stringify({ ...quality, adversarial: config.adversarial ?? null }, null, 2) + '\n');
    if (options.grid) await writeSampleGrid(runDir, options.grid, options.seed);
    return quality;
  } finally {
    classifier.dispose();
  }
}

/** Writes a PNG grid of 64 prior samples (Bernoulli means) of a run's decoder. */
export async function writeSampleGrid(runDir: string, file: string, seed: number): Promise<void> {
  const checkpoint = await loadCheckpoint(runDir, { optimizer: false });
  try {
    const { image } = checkpoint.config as { image: { height: number; width: number; channels: number } };
    const pixels = image.height * image.width * image.channels;
    const flat = priorSamples(checkpoint.decoder, 64, seed);
    const images = Array.from({ length: 64 }, (_, i) => flat.subarray(i * pixels, (i + 1) * pixels));
    await writeFileAtomic(file, imageGridPng(images, { ...image, columns: 8 }));
  } finally {
    checkpoint.dispose();
  }
}
