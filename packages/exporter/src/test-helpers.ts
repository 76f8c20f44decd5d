/**
 * Shared helpers of the exporter's tests (not part of the package build): tfjs setup, the
 * convert-and-compare loop over opsets, and the official ONNX checker.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { TEXT_MODEL, type ParityReport } from '@vaekit/core';
import { convertLayersModel, type ConvertOptions, type ConvertResult } from './converter.js';
import { PARITY_RUNTIMES, checkParity, type ParityOptions } from './parity.js';
import { decodeModel } from './serialize.js';

/** Opsets every handler is tested at: the lowest, the default, the highest. */
export const TEST_OPSETS = [13, 17, 21] as const;
/** Max abs error accepted between tfjs and ONNX Runtime (fp32). */
export const TOLERANCE = 1e-4;
/** Debian's onnx 1.12 checks opsets up to 17 only. */
const CHECKER_MAX_OPSET = 17;
const PYTHON = '/usr/bin/python3';

let ready: Promise<void> | undefined;
/** Selects tfjs' CPU backend (deterministic, no native code). */
export function initTf(): Promise<void> {
  ready ??= tf.setBackend('cpu').then(() => undefined);
  return ready;
}

/** A fresh temporary folder. */
export function tempDir(prefix = 'vaekit-exporter-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

const CHECK_SCRIPT = `
import sys
try:
    import onnx
except Exception as e:
    print("IMPORT_FAILED: %s" % e)
    sys.exit(3)
failed = 0
for f in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(f), full_check=True)
    except Exception as e:
        failed += 1
        print("%s: %s" % (f, e))
sys.exit(1 if failed else 0)
`;

/**
 * Runs `onnx.checker.check_model(full_check=True)` on the files as a subtest. When python's onnx is
 * missing the subtest is skipped, except under CI (`process.env.CI`), where it fails.
 */
export async function runOnnxChecker(t: TestContext, files: string[]): Promise<void> {
  await t.test('official ONNX checker (full_check)', (st) => {
    if (files.length === 0) return;
    const r = spawnSync(PYTHON, ['-c', CHECK_SCRIPT, ...files], { encoding: 'utf8' });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    if (r.error || r.status === 3) {
      const why = `${PYTHON} cannot import onnx (${r.error?.message ?? out}); install python3-onnx`;
      if (process.env.CI) assert.fail(why);
      st.skip(why);
      return;
    }
    assert.equal(r.status, 0, `onnx.checker rejected exported files:\n${out}`);
  });
}

/** Options of {@link assertExportParity}. */
export interface ExportParityOptions {
  /** File name stem for the files given to the checker. */
  name: string;
  tolerance?: number;
  opsets?: readonly number[];
  convert?: Omit<ConvertOptions, 'opset'>;
  /** Standard deviation of the random inputs. */
  scale?: number;
  /** Extra parity options (integer id inputs, extra ONNX inputs). */
  parity?: Pick<ParityOptions, 'ids' | 'extraInputs' | 'batch'>;
  /**
   * Expected float parameter count of the ONNX file, when it differs from tfjs' `countParams()`
   * (ONNX recurrent ops carry a recurrent bias that tfjs lacks: written as zeros).
   */
  params?: number;
}

/**
 * Converts `model` at each opset, checks parity with ONNX Runtime (onnxruntime-node and
 * onnxruntime-web's WASM backend) on a seeded batch, checks the
 * weights round-trip (parameter count), and runs the official checker on the opset <= 17 files.
 */
export async function assertExportParity(
  t: TestContext,
  model: tf.LayersModel,
  opts: ExportParityOptions,
): Promise<Array<{ opset: number; result: ConvertResult; parity: ParityReport }>> {
  await initTf();
  const tolerance = opts.tolerance ?? TOLERANCE;
  const dir = tempDir();
  const files: string[] = [];
  const out: Array<{ opset: number; result: ConvertResult; parity: ParityReport }> = [];
  for (const opset of opts.opsets ?? TEST_OPSETS) {
    const result = convertLayersModel(model, { ...opts.convert, opset });
    const parity = await checkParity(model, result.parityBytes, {
      batch: 8,
      tolerance,
      seed: opset,
      ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
      runtimes: PARITY_RUNTIMES,
      ...opts.parity,
    });
    assert.deepEqual(Object.keys(parity.runtimes ?? {}).sort(), ['node', 'wasm'], 'checked on onnxruntime-node and -web');
    for (const [name, err] of Object.entries(parity.maxAbsError)) {
      assert.ok(err <= tolerance, `${opts.name} opset ${opset}: ${name} max abs error ${err} > ${tolerance}`);
    }
    const summary = decodeModel(result.bytes);
    assert.equal(summary.opsetImport[0]?.version, opset);
    assert.equal(summary.parameterCount, opts.params ?? model.countParams(), 'every weight is exported exactly once');
    if (opset <= CHECKER_MAX_OPSET) {
      const file = path.join(dir, `${opts.name.replace(/[^A-Za-z0-9_.-]+/g, '_')}-opset${opset}.onnx`);
      writeFileSync(file, result.bytes);
      files.push(file);
    }
    out.push({ opset, result, parity });
  }
  await runOnnxChecker(t, files);
  return out;
}

/**
 * Seeded initializers for handler tests, drawing consecutive seeds from `start`; biases are non-zero so
 * misplaced weights or gates show in the numbers.
 */
export function seededInits(start: number) {
  let seed = start;
  return {
    /** The next seed, for initializers of other kinds. */
    next: () => seed++,
    /** Kernel and bias of a dense or convolution layer. */
    dense: () => ({ kernelInitializer: tf.initializers.glorotNormal({ seed: seed++ }), biasInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: seed++ }) }),
    /** Kernel, recurrent kernel and bias of a recurrent layer. */
    rnn: () => ({
      kernelInitializer: tf.initializers.glorotNormal({ seed: seed++ }),
      recurrentInitializer: tf.initializers.glorotNormal({ seed: seed++ }),
      biasInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: seed++ }),
    }),
    /** Positive-leaning values (e.g. normalization statistics). */
    rnd: () => tf.initializers.randomNormal({ mean: 0.5, stddev: 0.3, seed: seed++ }),
  };
}

/** ONNX recurrent ops carry a recurrent bias tfjs lacks (written as zeros): gates * units per direction. */
export const zeroBias = (gates: number, units: number, dirs = 1): number => gates * units * dirs;

/** Applies layers in sequence to a new input of the given shape and returns the functional model. */
export function chain(inputShape: number[], ...layers: tf.layers.Layer[]): tf.LayersModel {
  const x = tf.input({ shape: inputShape, name: 'x' });
  let h: tf.SymbolicTensor = x;
  for (const l of layers) h = l.apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: h });
}

/** Sizes of a test sentence VAE. */
export interface TestTextShape {
  cell: 'gru' | 'lstm';
  vocab: number;
  embedding: number;
  hidden: number;
  latent: number;
  /** Padded length T. */
  steps: number;
  seed: number;
}

/** Sizes of a test image VAE (28x28x1 digits). */
export interface TestImageShape {
  arch: 'dense' | 'conv';
  hidden: number[];
  latent: number;
  seed: number;
}

/**
 * An image VAE of the shape vaekit trains (encoder `x [B,784] -> mu, logvar`, decoder `z -> logits
 * [B,784]`; `conv` adds two strided convolutions and two transposed ones), built with plain tfjs
 * layers so the exporter's tests do not depend on the trainer.
 */
export function buildTestImageVae(s: TestImageShape): { encoder: tf.LayersModel; decoder: tf.LayersModel } {
  let n = s.seed * 1000;
  const init = () => tf.initializers.glorotUniform({ seed: n++ });
  const dense = (units: number, activation: 'relu' | 'linear', name?: string) =>
    tf.layers.dense({ units, activation, kernelInitializer: init(), ...(name ? { name } : {}) });
  const x = tf.input({ shape: [784], name: 'x' });
  let h: tf.SymbolicTensor = x;
  if (s.arch === 'conv') {
    h = tf.layers.reshape({ targetShape: [28, 28, 1] }).apply(h) as tf.SymbolicTensor;
    for (const filters of [32, 64]) {
      h = tf.layers.conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    }
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  }
  for (const units of s.hidden) h = dense(units, 'relu').apply(h) as tf.SymbolicTensor;
  const mu = dense(s.latent, 'linear', 'mu').apply(h) as tf.SymbolicTensor;
  const logvar = dense(s.latent, 'linear', 'logvar').apply(h) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: x, outputs: [mu, logvar], name: 'encoder' });
  const z = tf.input({ shape: [s.latent], name: 'z' });
  let g: tf.SymbolicTensor = z;
  for (const units of [...s.hidden].reverse()) g = dense(units, 'relu').apply(g) as tf.SymbolicTensor;
  let logits: tf.SymbolicTensor;
  if (s.arch === 'conv') {
    g = dense(7 * 7 * 64, 'relu').apply(g) as tf.SymbolicTensor;
    g = tf.layers.reshape({ targetShape: [7, 7, 64] }).apply(g) as tf.SymbolicTensor;
    g = tf.layers.conv2dTranspose({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }).apply(g) as tf.SymbolicTensor;
    g = tf.layers.conv2dTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init() }).apply(g) as tf.SymbolicTensor;
    logits = tf.layers.flatten({ name: 'logits' }).apply(g) as tf.SymbolicTensor;
  } else {
    logits = dense(784, 'linear', 'logits').apply(g) as tf.SymbolicTensor;
  }
  return { encoder, decoder: tf.model({ inputs: z, outputs: logits, name: 'decoder' }) };
}

/**
 * A sentence VAE built as docs/text-model.md specifies, with every layer and input named by core's
 * TEXT_MODEL, and seeded non-zero biases. The exporter's only copy of the text model (tests only): the
 * exporter does not depend on the trainer, whose `buildTextVae` follows the same contract.
 */
export function buildTestTextVae(s: TestTextShape): { encoder: tf.LayersModel; decoder: tf.LayersModel } {
  const L = TEXT_MODEL.layers;
  const I = TEXT_MODEL.trainingInputs;
  let n = s.seed * 100;
  const init = () => ({
    kernelInitializer: tf.initializers.glorotNormal({ seed: n++ }),
    biasInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: n++ }),
  });
  const rnnInit = () => ({ ...init(), recurrentInitializer: tf.initializers.glorotNormal({ seed: n++ }) });
  const embInit = () => ({ embeddingsInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: n++ }) });
  const rnn = (name: string, returnSequences: boolean) =>
    s.cell === 'lstm'
      ? tf.layers.lstm({ units: s.hidden, returnSequences, name, ...rnnInit() })
      : tf.layers.gru({ units: s.hidden, returnSequences, name, ...rnnInit() });

  const tokens = tf.input({ shape: [s.steps], dtype: 'int32', name: I.encoderTokens });
  const e = tf.layers.embedding({ inputDim: s.vocab, outputDim: s.embedding, maskZero: true, name: L.encoder.embedding, ...embInit() }).apply(tokens);
  const summary = rnn(L.encoder.rnn, false).apply(e) as tf.SymbolicTensor;
  const mu = tf.layers.dense({ units: s.latent, name: L.encoder.mu, ...init() }).apply(summary) as tf.SymbolicTensor;
  const logvar = tf.layers.dense({ units: s.latent, name: L.encoder.logvar, ...init() }).apply(summary) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: tokens, outputs: [mu, logvar], name: 'encoder' });

  const tokensIn = tf.input({ shape: [s.steps], dtype: 'int32', name: I.decoderTokens });
  const z = tf.input({ shape: [s.latent], name: I.z });
  const initState = (name: string) => tf.layers.dense({ units: s.hidden, activation: 'tanh', name, ...init() }).apply(z) as tf.SymbolicTensor;
  const states = s.cell === 'lstm' ? [initState(L.decoder.initH), initState(L.decoder.initC)] : [initState(L.decoder.initH)];
  const x = tf.layers.embedding({ inputDim: s.vocab, outputDim: s.embedding, name: L.decoder.embedding, ...embInit() }).apply(tokensIn) as tf.SymbolicTensor;
  const zs = tf.layers.repeatVector({ n: s.steps, name: L.decoder.repeatZ }).apply(z) as tf.SymbolicTensor;
  const xz = tf.layers.concatenate({ axis: -1, name: L.decoder.concat }).apply([x, zs]) as tf.SymbolicTensor;
  const warn = console.warn;
  console.warn = () => undefined; // tfjs' "non-serializable keyword arguments" notice for initialState
  const y = rnn(L.decoder.rnn, true).apply(xz, { initialState: states }) as tf.SymbolicTensor;
  console.warn = warn;
  const logits = tf.layers.dense({ units: s.vocab, name: L.decoder.logits, ...init() }).apply(y) as tf.SymbolicTensor;
  const decoder = tf.model({ inputs: [tokensIn, z], outputs: logits, name: 'decoder' });
  return { encoder, decoder };
}
