/**
 * docs/architecture.md "Adding a kind", as code: a toy model kind defined entirely in this file (a
 * Gaussian autoencoder on seeded random vectors) plugs into the four seams — core's bundle format, the
 * trainer's one loop, the exporter's one pipeline, the runtime's one loader — without touching a shared
 * file. It is trained one step, exported, loaded and run, and ONNX Runtime agrees with tfjs.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { BundleError, createRng, noiseSeed, registerBundleKind, type BundleManifestBase } from '@vaekit/core';
import { exportBundle, registerExportPlan, type BundleSourceBase } from '@vaekit/exporter';
import { loadVae, registerRuntimeKind, type GraphSession } from '@vaekit/runtime';
import { guardedStep, initBackend, loadCheckpoint, registerTrainingKind, restoreAdam, trainRun, type TrainingKind } from '@vaekit/trainer';
import { tempDir } from './helpers.js';

const KIND = 'toy-gauss';
const DIM = 6;
const LATENT = 2;

// 1. Contract (core): the graphs and the manifest section of the kind.
interface ToyManifest extends BundleManifestBase {
  kind: typeof KIND;
  toy: { dim: number };
  graphs: { encoder: { file: string }; decoder: { file: string } };
}
const TOY = {
  graphs: {
    encoder: { file: 'encoder.onnx', input: 'x', outputs: ['mu', 'logvar'] },
    decoder: { file: 'decoder.onnx', input: 'z', outputs: ['x_hat'] },
  },
} as const;

// 2. Training (trainer): a TrainingKind run by the one loop.
interface ToyConfig {
  kind: typeof KIND;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  latent: number;
  size: number;
}
interface ToyModels {
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
  optimizer: tf.Optimizer;
}

function buildToy(seed: number): Omit<ToyModels, 'optimizer'> {
  const x = tf.input({ shape: [DIM], name: 'x' });
  const h = tf.layers.dense({ units: 8, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(x) as tf.SymbolicTensor;
  const mu = tf.layers.dense({ units: LATENT, name: 'mu', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }).apply(h) as tf.SymbolicTensor;
  const logvar = tf.layers.dense({ units: LATENT, name: 'logvar', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }).apply(h) as tf.SymbolicTensor;
  const z = tf.input({ shape: [LATENT], name: 'z' });
  const out = tf.layers.dense({ units: DIM, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 3 }) }).apply(z) as tf.SymbolicTensor;
  return { encoder: tf.model({ inputs: x, outputs: [mu, logvar] }), decoder: tf.model({ inputs: z, outputs: out }) };
}

const rowsOf = (data: Float32Array, rows: number[]) =>
  tf.tensor2d(Float32Array.from(rows.flatMap((r) => Array.from(data.subarray(r * DIM, (r + 1) * DIM)))), [rows.length, DIM]);

/** Gaussian reconstruction (squared error) + KL(q(z|x) || N(0, I)), averaged over the batch. */
function toyLoss(m: Omit<ToyModels, 'optimizer'>, x: tf.Tensor2D, eps: tf.Tensor2D): tf.Scalar {
  const [mu, logvar] = m.encoder.apply(x) as tf.Tensor2D[];
  const z = mu!.add(logvar!.mul(0.5).exp().mul(eps));
  const recon = (m.decoder.apply(z) as tf.Tensor2D).sub(x).square().sum(1).mul(0.5);
  const kl = logvar!.exp().add(mu!.square()).sub(1).sub(logvar!).sum(1).mul(0.5);
  return recon.add(kl).mean() as tf.Scalar;
}

const toyKind: TrainingKind<ToyConfig, Float32Array, ToyModels, Record<string, never>, { sum: number; n: number }, number, { epoch: number; loss: number; heldOut: number }> = {
  kind: KIND,
  advice: 'Lower the learning rate',
  validate: (c) => assert.ok(c.size >= c.batchSize),
  loadData: async (c) => {
    const rng = createRng(c.seed);
    return Float32Array.from({ length: c.size * DIM }, () => rng.normal());
  },
  build: (c) => ({ ...buildToy(c.seed), optimizer: tf.train.adam(c.learningRate) }),
  initialState: () => ({}),
  restore: async (c, _d, checkpoint) => ({ encoder: checkpoint.encoder!, decoder: checkpoint.decoder, optimizer: await restoreAdam(c.learningRate, checkpoint.optimizerWeights!) }),
  trainCount: (d) => d.length / DIM,
  startInfo: () => ({}),
  beginEpoch: () => ({ sum: 0, n: 0 }),
  async step(run, acc, ctx) {
    const x = rowsOf(run.data, ctx.rows);
    const eps = tf.randomNormal([ctx.rows.length, LATENT], 0, 1, 'float32', noiseSeed(run.config.seed, ctx.step)) as tf.Tensor2D;
    const r = await guardedStep(run.models.optimizer, () => toyLoss(run.models, x, eps));
    tf.dispose([x, eps]);
    if (r.applied) {
      acc.sum += r.loss;
      acc.n++;
    }
    return r;
  },
  evaluate: async (run) => tf.tidy(() => toyLoss(run.models, rowsOf(run.data, [0, 1, 2, 3]), tf.zeros([4, LATENT])).dataSync()[0]!),
  heldOutLoss: (h) => h,
  metricsLine: (_run, acc, heldOut, info) => ({ epoch: info.epoch, loss: acc.sum / acc.n, heldOut }),
  stateMetrics: (h) => ({ heldOut: h }),
  checkpoint: (run) => ({ encoder: run.models.encoder, decoder: run.models.decoder, optimizer: run.models.optimizer }),
  dispose(m) {
    m.optimizer.dispose();
    m.encoder.dispose();
    m.decoder.dispose();
  },
};

// 3. Export (exporter): the kind's plan, run by the one pipeline.
interface ToySource extends BundleSourceBase {
  kind: typeof KIND;
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
}

// 4. Runtime: the kind's facade, built by the one loader.
interface ToyVae {
  readonly kind: typeof KIND;
  encode(x: Float32Array): Promise<{ mu: Float32Array; logvar: Float32Array }>;
  decode(z: Float32Array): Promise<Float32Array>;
  dispose(): Promise<void>;
}

before(async () => {
  await initBackend('cpu');
  registerBundleKind({
    kind: KIND,
    graphNames: ['encoder', 'decoder'],
    checkSection(m) {
      if ((m.toy as { dim?: unknown } | undefined)?.dim !== DIM) throw new BundleError(`manifest.json: toy.dim must be ${DIM}.`);
      return [];
    },
  });
  registerTrainingKind(toyKind);
  registerExportPlan<ToySource>(KIND, (s) => ({
    kind: KIND,
    latentSize: LATENT,
    description: 'toy Gaussian VAE',
    graphs: [
      { key: 'encoder', file: TOY.graphs.encoder.file, model: s.encoder, convert: { inputNames: [TOY.graphs.encoder.input], outputNames: [...TOY.graphs.encoder.outputs] } },
      { key: 'decoder', file: TOY.graphs.decoder.file, model: s.decoder, convert: { inputNames: [TOY.graphs.decoder.input], outputNames: [...TOY.graphs.decoder.outputs] } },
    ],
    section: { toy: { dim: DIM } },
  }));
  registerRuntimeKind<ToyVae, void, ToyManifest>({
    kind: KIND,
    create({ sessions }) {
      const run = async (s: GraphSession, input: string, data: Float32Array, width: number) => s.run({ [input]: { data, dims: [1, width] } });
      return {
        kind: KIND,
        async encode(x) {
          const out = await run(sessions.encoder!, TOY.graphs.encoder.input, x, DIM);
          return { mu: out.mu!.data as Float32Array, logvar: out.logvar!.data as Float32Array };
        },
        async decode(z) {
          return (await run(sessions.decoder!, TOY.graphs.decoder.input, z, LATENT)).x_hat!.data as Float32Array;
        },
        async dispose() {
          await Promise.all(Object.values(sessions).map((s) => s.release()));
        },
      };
    },
  });
});

test('a kind defined in a test trains one step, exports and runs through the shared loop, pipeline and loader', async () => {
  const dir = tempDir();
  const runDir = path.join(dir, 'run');
  const config: ToyConfig = { kind: KIND, epochs: 1, batchSize: 16, learningRate: 0.01, seed: 3, latent: LATENT, size: 16 };
  const result = await trainRun(toyKind, config, runDir);
  assert.equal(result.epochs.length, 1);
  assert.ok(Number.isFinite((result.epochs[0] as { loss: number }).loss), 'one finite step');

  const checkpoint = await loadCheckpoint(runDir, { optimizer: false });
  const bundleDir = path.join(dir, 'bundle');
  const exported = await exportBundle({ kind: KIND, encoder: checkpoint.encoder!, decoder: checkpoint.decoder } as ToySource, bundleDir);
  assert.equal(exported.manifest.kind, KIND);
  assert.ok(exported.parity.encoder!.maxAbsError.mu! <= 1e-4, 'the exporter checked parity');

  const vae = (await loadVae(bundleDir, { kind: KIND })) as unknown as ToyVae;
  try {
    assert.equal(vae.kind, KIND);
    const x = Float32Array.from({ length: DIM }, (_, i) => Math.sin(i + 1));
    const { mu, logvar } = await vae.encode(x);
    const [tfMu, tfLogvar] = tf.tidy(() => (checkpoint.encoder!.predict(tf.tensor2d(x, [1, DIM])) as tf.Tensor[]).map((t) => t.dataSync()));
    const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
    assert.ok(maxDiff(mu, tfMu!) < 1e-5 && maxDiff(logvar, tfLogvar!) < 1e-5, 'ONNX Runtime encodes as tfjs does');
    const xHat = await vae.decode(mu);
    const tfXHat = tf.tidy(() => (checkpoint.decoder.predict(tf.tensor2d(mu, [1, LATENT])) as tf.Tensor).dataSync());
    assert.ok(maxDiff(xHat, tfXHat) < 1e-5, 'and decodes as tfjs does');
  } finally {
    await vae.dispose();
    checkpoint.dispose();
  }
  await assert.rejects(loadVae(bundleDir, { kind: 'image' }), /This is a toy-gauss bundle; expected an image bundle/);
});
