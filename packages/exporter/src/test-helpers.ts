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
import type { ParityReport } from '@vaekit/core';
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

/**
 * A sentence VAE built exactly as docs/text-model.md specifies (layer names included), with seeded
 * non-zero biases, for exporter tests that must not depend on the trainer's text model.
 */
export function buildTestTextVae(s: TestTextShape): { encoder: tf.LayersModel; decoder: tf.LayersModel } {
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

  const tokens = tf.input({ shape: [s.steps], dtype: 'int32', name: 'tokens' });
  const e = tf.layers.embedding({ inputDim: s.vocab, outputDim: s.embedding, maskZero: true, name: 'enc_embedding', ...embInit() }).apply(tokens);
  const summary = rnn('enc_rnn', false).apply(e) as tf.SymbolicTensor;
  const mu = tf.layers.dense({ units: s.latent, name: 'mu', ...init() }).apply(summary) as tf.SymbolicTensor;
  const logvar = tf.layers.dense({ units: s.latent, name: 'logvar', ...init() }).apply(summary) as tf.SymbolicTensor;
  const encoder = tf.model({ inputs: tokens, outputs: [mu, logvar], name: 'encoder' });

  const tokensIn = tf.input({ shape: [s.steps], dtype: 'int32', name: 'tokens_in' });
  const z = tf.input({ shape: [s.latent], name: 'z' });
  const initState = (name: string) => tf.layers.dense({ units: s.hidden, activation: 'tanh', name, ...init() }).apply(z) as tf.SymbolicTensor;
  const states = s.cell === 'lstm' ? [initState('dec_init_h'), initState('dec_init_c')] : [initState('dec_init_h')];
  const x = tf.layers.embedding({ inputDim: s.vocab, outputDim: s.embedding, name: 'dec_embedding', ...embInit() }).apply(tokensIn) as tf.SymbolicTensor;
  const zs = tf.layers.repeatVector({ n: s.steps, name: 'dec_repeat_z' }).apply(z) as tf.SymbolicTensor;
  const xz = tf.layers.concatenate({ axis: -1, name: 'dec_concat' }).apply([x, zs]) as tf.SymbolicTensor;
  const warn = console.warn;
  console.warn = () => undefined; // tfjs' "non-serializable keyword arguments" notice for initialState
  const y = rnn('dec_rnn', true).apply(xz, { initialState: states }) as tf.SymbolicTensor;
  console.warn = warn;
  const logits = tf.layers.dense({ units: s.vocab, name: 'logits', ...init() }).apply(y) as tf.SymbolicTensor;
  const decoder = tf.model({ inputs: [tokensIn, z], outputs: logits, name: 'decoder' });
  return { encoder, decoder };
}
