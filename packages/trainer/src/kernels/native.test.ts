// Every kernel the native library replaces or fuses, checked against tfjs' reference kernels (the CPU
// backend) on random inputs with odd shapes, forward and gradient, once per instruction-set path of the
// addon (avx512, avx2, sse, generic) that this CPU runs; the paths it lacks are reported as skipped.
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../backend.js';
import { NATIVE_ADDON_PATH, NATIVE_ISAS, type NativeIsa, installNativeKernels, loadNative, nativeIsas, setNativeIsa } from './native.js';
import { nativeAdamUpdateCount, setNativeAdamEnabled } from './native-adam.js';
import { gruInference, nativeGruInferenceCallCount, nativeRnnCallCount, setNativeRnnEnabled } from './native-rnn.js';
import { sparseSoftmaxCrossEntropy } from './softmax-xent.js';
import { bernoulliNll } from '../losses.js';
import { defaultImageConfig } from '@vaekit/core';
import { imageTrainingLoss } from '../kinds/image.js';
import { buildImageVae, denseVaeParams } from '../models/image.js';
import { nativeDenseVaeCallCount, setNativeDenseVaeEnabled } from './dense-vae.js';
import { logitsCrossEntropyNative, nativeLogitsXentCallCount } from './logits-xent.js';
import { logitsNll, nativeLogitsNllCallCount } from './logits-nll.js';
import { tokenCrossEntropy } from '../losses.js';
import { checkWasmInternals } from './wasm-internals.js';
import { nativeAttentionCallCount, setNativeAttentionEnabled } from './attention-scores.js';
import { Attention } from '../models/attention.js';

const CI = Boolean(process.env.CI);

before(async () => {
  const info = await initBackend('wasm');
  assert.equal(info.name, 'wasm');
  // The addon is built by `npm ci` (packages/trainer install script); CI must exercise it.
  if (CI) assert.ok(info.native, `native kernels expected under CI: ${info.note}`);
});

const nativeBuilt = () => loadNative().addon !== undefined;

// The path the addon picked for this CPU (or VAEKIT_NATIVE_ISA), restored after each forced test.
const defaultIsa = loadNative().addon?.simd() as NativeIsa | undefined;
const runnable = new Set(nativeIsas());

/**
 * Registers `fn` once per instruction-set path, forcing that path for its duration; paths this CPU (or
 * an unbuilt addon) cannot run are skipped with the reason.
 */
function isaTest(name: string, fn: (t: import('node:test').TestContext) => Promise<void> | void): void {
  for (const isa of NATIVE_ISAS) {
    test(`[${isa}] ${name}`, async (t) => {
      if (!nativeBuilt()) return t.skip('native kernels not built');
      if (!runnable.has(isa)) return t.skip(`this CPU or build has no ${isa} path (it runs: ${[...runnable].join(', ')})`);
      setNativeIsa(isa);
      try {
        assert.equal(loadNative().addon!.simd(), isa);
        await fn(t);
      } finally {
        setNativeIsa(defaultIsa!);
      }
    });
  }
}

/** Runs `f` on the CPU (reference kernels) and on WASM (native kernels) and returns both results. */
async function onBoth(f: () => tf.Tensor[]): Promise<Array<[Float32Array, Float32Array]>> {
  await tf.setBackend('cpu');
  const ref = tf.tidy(f).map((t) => t.dataSync() as Float32Array);
  await tf.setBackend('wasm');
  const got = tf.tidy(f).map((t) => t.dataSync() as Float32Array);
  return ref.map((r, i) => [r, got[i]!]);
}

/** Relative max error: max |ref - got| / max(1, max |ref|). */
function relErr(ref: Float32Array, got: Float32Array): number {
  assert.equal(ref.length, got.length);
  let m = 0;
  let scale = 1;
  for (let i = 0; i < ref.length; i++) {
    m = Math.max(m, Math.abs(ref[i]! - got[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return m / scale;
}

function assertClose(results: Array<[Float32Array, Float32Array]>, tol = 1e-4): void {
  results.forEach(([ref, got], i) => {
    assert.ok(got.every(Number.isFinite), `result ${i} has non-finite values`);
    const e = relErr(ref, got);
    assert.ok(e < tol, `result ${i}: relative error ${e} >= ${tol}`);
  });
}

const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed).arraySync() as number[];

// Broadcast batches are checked forward only: tfjs' own BatchMatMul gradient does not reduce them.
const matmulCases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean; noGrad?: boolean }> = [
  { a: [1, 1], b: [1, 1], ta: false, tb: false },
  { a: [7, 13], b: [13, 33], ta: false, tb: false },
  { a: [13, 7], b: [13, 33], ta: true, tb: false },
  { a: [7, 13], b: [33, 13], ta: false, tb: true },
  { a: [13, 7], b: [33, 13], ta: true, tb: true },
  { a: [65, 300], b: [300, 17], ta: false, tb: false },
  { a: [3, 5, 9], b: [3, 9, 4], ta: false, tb: false },
  { a: [2, 3, 5, 9], b: [9, 4], ta: false, tb: false, noGrad: true },
  { a: [1, 9, 5], b: [4, 9, 6], ta: true, tb: false, noGrad: true },
];

for (const c of matmulCases) {
  isaTest(`native BatchMatMul matches the reference: a ${c.a} b ${c.b} ta=${c.ta} tb=${c.tb}${c.noGrad ? '' : ', with gradients'}`, async (t) => {
    if (!nativeBuilt()) return t.skip('native kernels not built');
    const a = rand(c.a, 1);
    const b = rand(c.b, 2);
    assertClose(
      await onBoth(() => {
        const at = tf.tensor(a, c.a);
        const bt = tf.tensor(b, c.b);
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, c.ta, c.tb).square().sum();
        return [tf.matMul(at, bt, c.ta, c.tb), ...(c.noGrad ? [] : tf.grads(f)([at, bt]))];
      }),
    );
  });
}

for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const) {
  isaTest(`native _FusedMatMul (bias, ${activation}) matches the reference, with gradients`, async (t) => {
    if (!nativeBuilt()) return t.skip('native kernels not built');
    const a = rand([11, 19], 3);
    const b = rand([19, 23], 4);
    const bias = rand([23], 5);
    assertClose(
      await onBoth(() => {
        const [at, bt, ct] = [tf.tensor(a, [11, 19]), tf.tensor(b, [19, 23]), tf.tensor(bias, [23])];
        const f = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
          tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, bias: z, activation, leakyreluAlpha: 0.3 }).mul(tf.range(0, 23).add(1)).sum();
        const grads = tf.grads(f)([at, bt, ct]);
        return [tf.fused.matMul({ a: at, b: bt, bias: ct, activation, leakyreluAlpha: 0.3 }), ...grads];
      }),
    );
  });
}

test('WASM UnsortedSegmentSum (the Embedding gradient) matches the reference', async () => {
  const x = rand([9, 2, 3], 6);
  const ids = [0, 4, 4, 1, 0, 6, 3, 4, -1];
  assertClose(
    await onBoth(() => {
      const table = tf.tensor(rand([7, 5], 7), [7, 5]);
      const idx = tf.tensor2d([[1, 6, 6], [0, 2, 1]], [2, 3], 'int32');
      const [g] = tf.grads((w: tf.Tensor) => tf.gather(w, idx).mul(tf.range(0, 5).add(1)).sum())([table]);
      return [tf.unsortedSegmentSum(tf.tensor(x, [9, 2, 3]), tf.tensor1d(ids, 'int32'), 7), g!];
    }),
  );
});

for (const [n, v] of [[1, 2], [5, 3], [7, 37], [33, 1001]] as const) {
  isaTest(`fused softmax cross-entropy [${n}, ${v}] matches tfjs ops (logSumExp - picked logit), with gradient`, async (t) => {
    if (!nativeBuilt()) return t.skip('native kernels not built');
    const logits = Array.from(tf.randomNormal([n, v], 0, 4, 'float32', 15).dataSync());
    // Includes a label outside [0, V), which picks no logit (as tf.oneHot).
    const labels = Array.from({ length: n }, (_, i) => (i === 2 ? v : (i * 7919) % v));
    const weights = Array.from(tf.randomNormal([n], 0, 1, 'float32', 16).dataSync());
    const reference = async () => {
      await tf.setBackend('cpu');
      return tf.tidy(() => {
        const f = (lg: tf.Tensor) => tf.logSumExp(lg, 1).sub(tf.sum(lg.mul(tf.oneHot(tf.tensor1d(labels, 'int32'), v)), 1));
        const lg = tf.tensor2d(logits, [n, v]);
        const w = tf.tensor1d(weights);
        return [f(lg), tf.grad((x: tf.Tensor) => f(x).mul(w).sum())(lg)].map((r) => r.dataSync() as Float32Array);
      });
    };
    const ref = await reference();
    await tf.setBackend('wasm');
    const got = tf.tidy(() => {
      const f = (lg: tf.Tensor) => sparseSoftmaxCrossEntropy(lg as tf.Tensor2D, tf.tensor1d(labels, 'int32'));
      const lg = tf.tensor2d(logits, [n, v]);
      const w = tf.tensor1d(weights);
      return [f(lg), tf.grad((x: tf.Tensor) => f(x).mul(w).sum())(lg)].map((r) => r.dataSync() as Float32Array);
    });
    assertClose(ref.map((r, i) => [r, got[i]!]), 1e-5);
    // The tfjs-op path (other backends) agrees as well.
    await tf.setBackend('cpu');
    const cpu = tf.tidy(() => {
      const lg = tf.tensor2d(logits, [n, v]);
      const f = (x: tf.Tensor) => sparseSoftmaxCrossEntropy(x as tf.Tensor2D, tf.tensor1d(labels, 'int32'));
      return [f(lg), tf.grad((x: tf.Tensor) => f(x).mul(tf.tensor1d(weights)).sum())(lg)].map((r) => r.dataSync() as Float32Array);
    });
    await tf.setBackend('wasm');
    assertClose(ref.map((r, i) => [r, cpu[i]!]), 1e-5);
  });
}

for (const [shape, axis, keepDims] of [[[7, 5], 0, false], [[3, 4, 5], [0, 1], true], [[3, 4, 5], [1, 0], false], [[6, 9], [1], false], [[2, 3, 4], [0, 2], false]] as const) {
  test(`native Sum over leading axes matches tfjs: shape ${shape} axis ${axis} keepDims ${keepDims}`, async (t) => {
    if (!nativeBuilt()) return t.skip('native kernels not built');
    const x = Array.from(tf.randomNormal([...shape], 0, 1, 'float32', 20).dataSync());
    await tf.setBackend('cpu');
    const ref = tf.tidy(() => tf.sum(tf.tensor(x, [...shape]), axis as number | number[], keepDims));
    const refShape = ref.shape;
    const refValues = ref.dataSync() as Float32Array;
    ref.dispose();
    await tf.setBackend('wasm');
    const got = tf.tidy(() => tf.sum(tf.tensor(x, [...shape]), axis as number | number[], keepDims));
    assert.deepEqual(got.shape, refShape);
    assertClose([[refValues, got.dataSync() as Float32Array]], 1e-5);
    got.dispose();
  });
}

for (const [n, d] of [[1, 1], [3, 17], [128, 784]] as const) {
  isaTest(`fused Bernoulli NLL [${n}, ${d}] matches the tfjs ops, with gradients for logits and targets`, async (t) => {
    if (!nativeBuilt()) return t.skip('native kernels not built');
    const logits = Array.from(tf.randomNormal([n, d], 0, 5, 'float32', 25).dataSync());
    const x = Array.from(tf.randomUniform([n, d], 0, 1, 'float32', 26).dataSync());
    const w = Array.from(tf.randomNormal([n], 0, 1, 'float32', 27).dataSync());
    assertClose(
      await onBoth(() => {
        const [lt, xt] = [tf.tensor2d(logits, [n, d]), tf.tensor2d(x, [n, d])];
        const f = (l: tf.Tensor, y: tf.Tensor) => bernoulliNll(l as tf.Tensor2D, y as tf.Tensor2D).mul(tf.tensor1d(w)).sum();
        return [bernoulliNll(lt, xt), ...tf.grads(f)([lt, xt])];
      }),
      1e-5,
    );
  });
}

// The dense image VAE's fused loss op against elboTerms + vaeLoss as tfjs ops (CPU reference kernels, and
// WASM with the fused op off): the loss, the summed terms and the gradient of every weight. Large logits
// (weights scaled up) exercise both branches of the stable BCE and of the ReLUs.
for (const hidden of [[17], [13, 7], []] as number[][]) {
  isaTest(`fused dense VAE loss (hidden [${hidden}]) matches elboTerms + vaeLoss: loss, terms and every weight gradient`, async (t) => {
    if (!nativeBuilt()) return t.skip('native kernels not built');
    const [B, beta] = [9, 0.7];
    const config = defaultImageConfig({ arch: 'dense', hidden, latent: 3, image: { height: 5, width: 6, channels: 1 }, seed: 3 });
    const { encoder, decoder } = buildImageVae(config);
    assert.ok(denseVaeParams(encoder, decoder), 'the dense VAE was not recognised');
    const weights = [...encoder.getWeights(), ...decoder.getWeights()].map((w) => Array.from(w.mul(3).dataSync()));
    const shapes = [...encoder.getWeights(), ...decoder.getWeights()].map((w) => w.shape);
    const x = Array.from(tf.randomUniform([B, 30], 0, 1, 'float32', 30).dataSync());
    const eps = rand([B, 3], 31);
    const run = () => {
      const ws = weights.map((w, i) => tf.tensor(w, shapes[i]));
      encoder.setWeights(ws.slice(0, encoder.getWeights().length));
      decoder.setWeights(ws.slice(encoder.getWeights().length));
      const xt = tf.tensor2d(x, [B, 30]);
      const et = tf.tensor2d(eps, [B, 3]);
      let sums: tf.Tensor | undefined;
      const vars = [...encoder.trainableWeights, ...decoder.trainableWeights].map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => {
        const out = imageTrainingLoss(encoder, decoder, xt, et, beta);
        sums = out.sums;
        return out.loss;
      }, vars);
      const kept = sums!.clone();
      sums!.dispose();
      return [value, kept, ...vars.map((v) => grads[v.name]!)];
    };
    assertClose(await onBoth(run));
    await tf.setBackend('wasm');
    const data = (ts: tf.Tensor[]) => {
      const arrays = ts.map((r) => r.dataSync() as Float32Array);
      tf.dispose(ts);
      return arrays;
    };
    const before = tf.memory().numTensors;
    const calls = nativeDenseVaeCallCount();
    const fused = data(tf.tidy(run));
    assert.equal(nativeDenseVaeCallCount(), calls + 1, 'the fused op did not run');
    assert.equal(tf.memory().numTensors, before, 'the fused op leaked tensors');
    setNativeDenseVaeEnabled(false);
    try {
      const plain = data(tf.tidy(run));
      assertClose(plain.map((p, i) => [p, fused[i]!]));
    } finally {
      setNativeDenseVaeEnabled(true);
    }
  });
}

for (const units of [7, 16]) {
  isaTest(`fused additive attention scores match the tfjs layer (units ${units}): context, weights and every gradient`, async (t) => {
    if (!nativeBuilt()) return t.skip('native kernels not built');
    const [B, T, S, H, D] = [3, 4, 5, 6, 8];
    const layer = new Attention({ score: 'additive', units, seed: 21 });
    layer.build([[B, T, H], [B, S, D], [B, S]]);
    const weights = layer.getWeights().map((w) => w.arraySync());
    const q = rand([B, T, H], 22);
    const k = rand([B, S, D], 23);
    // Padded keys at the end of rows and one hole: their weights must be exactly 0 on both paths.
    const mask = [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 1, 1, 0]];
    const dc = rand([B, T, D], 24);
    const dw = rand([B, T, S], 25);
    const run = () => {
      layer.setWeights(weights.map((w) => tf.tensor(w as number[])));
      const [qt, kt, mt] = [tf.tensor(q, [B, T, H]), tf.tensor(k, [B, S, D]), tf.tensor2d(mask, [B, S])];
      const f = (qi: tf.Tensor, ki: tf.Tensor) => {
        const [context, w] = layer.call([qi, ki, mt], {}) as tf.Tensor[];
        return context!.mul(tf.tensor(dc, [B, T, D])).sum().add(w!.mul(tf.tensor(dw, [B, T, S])).sum()) as tf.Scalar;
      };
      const vars = layer.trainableWeights.map((w) => (w as unknown as { read(): tf.Variable }).read());
      const { value, grads } = tf.variableGrads(() => f(qt, kt), vars);
      const [dq, dk] = tf.grads(f)([qt, kt]);
      const [context, w] = layer.call([qt, kt, mt], {}) as tf.Tensor[];
      return [context!, w!, value, ...vars.map((v) => grads[v.name]!), dq!, dk!];
    };
    const before = nativeAttentionCallCount();
    const results = await onBoth(run);
    assertClose(results, 1e-4);
    assert.ok(nativeAttentionCallCount() > before, 'the fused kernel did not run');
    const weightsGot = results[1]![1];
    mask.forEach((row, b) => row.forEach((m, s) => {
      for (let i = 0; i < T; i++) if (m === 0) assert.equal(weightsGot[(b * T + i) * S + s], 0);
    }));
    // The same on WASM with the fused path off (tfjs' ops) agrees too.
    await tf.setBackend('wasm');
    const fused = tf.tidy(run).map((r) => r.dataSync() as Float32Array);
    setNativeAttentionEnabled(false);
    try {
      const plain = tf.tidy(run).map((r) => r.dataSync() as Float32Array);
      assertClose(plain.map((p, i) => [p, fused[i]!]), 1e-4);
    } finally {
      setNativeAttentionEnabled(true);
    }
  });
}

test('WASM Reverse (one axis) and GatherV2 (rows) row copies match the reference, int32 and float32', async (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  const x = rand([3, 5, 4], 31);
  const ids = [[4, 0, 2], [1, 1, 3]];
  for (const dtype of ['float32', 'int32'] as const) {
    const results = await onBoth(() => {
      const xt = dtype === 'int32' ? tf.tensor(x, [3, 5, 4]).mul(100).cast('int32') : tf.tensor(x, [3, 5, 4]);
      const table = xt.reshape([15, 4]);
      return [0, 1, 2, -1].map((axis) => tf.reverse(xt, axis)).concat([tf.gather(table, tf.tensor2d(ids, [2, 3], 'int32')), tf.gather(xt, tf.tensor1d([2, 0], 'int32'))]).map((r) => r.cast('float32'));
    });
    assertClose(results, 1e-7);
  }
  // The gradient of an Embedding-style gather still trains (UnsortedSegmentSum) and of a reverse is a reverse.
  const grads = await onBoth(() => tf.grads((a: tf.Tensor) => tf.reverse(tf.gather(a, tf.tensor1d([3, 3, 0], 'int32')), 0).mul(tf.range(0, 12).reshape([3, 4])).sum())([tf.tensor(x, [3, 5, 4]).reshape([15, 4])]));
  assertClose(grads, 1e-6);
});

test('the fused loss op recognises only dense VAEs (conv VAEs run tfjs ops)', () => {
  const conv = buildImageVae(defaultImageConfig({ arch: 'conv', hidden: [8], latent: 2, image: { height: 8, width: 8, channels: 1 } }));
  assert.equal(denseVaeParams(conv.encoder, conv.decoder), undefined);
  const dense = buildImageVae(defaultImageConfig({ arch: 'dense', hidden: [8], latent: 2, image: { height: 8, width: 8, channels: 1 } }));
  assert.equal(denseVaeParams(dense.encoder, dense.decoder)?.params.length, 10);
  tf.dispose([conv, dense].flatMap((m) => [...m.encoder.getWeights(), ...m.decoder.getWeights()]));
});

// The sentence decoder's fused logits layer + masked cross-entropy against tokenCrossEntropy of the
// tfjs logits (CPU reference kernels): per-sentence loss and the gradients of the recurrent outputs, the
// kernel and the bias. Rows end at different lengths, one sentence is entirely padding, one label is
// outside the vocabulary, and the mask has a non-binary weight.
isaTest('fused logits + masked token cross-entropy matches tokenCrossEntropy(dense(y)), with gradients', async (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  const [B, T, H, V] = [4, 6, 9, 23];
  const y = rand([B, T, H], 40);
  const w = rand([H, V], 41);
  const bias = rand([V], 42);
  const target = Array.from({ length: B * T }, (_, i) => (i * 7) % V);
  target[5] = V + 3;
  const mask = [1, 1, 1, 1, 1, 0.5, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
  const dyScale = rand([B], 43);
  const run = (fused: boolean) => () => {
    const [yt, wt, bt] = [tf.tensor3d(y, [B, T, H]), tf.tensor2d(w, [H, V]), tf.tensor1d(bias)];
    const tt = tf.tensor2d(target, [B, T], 'int32');
    const mt = tf.tensor2d(mask, [B, T]);
    const loss = (a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) =>
      fused
        ? logitsCrossEntropyNative(a as tf.Tensor3D, k as tf.Tensor2D, c as tf.Tensor1D, tt, mt)
        : tokenCrossEntropy(tf.add(tf.matMul(a.reshape([B * T, H]), k), c).reshape([B, T, V]) as tf.Tensor3D, tt, mt);
    const f = (a: tf.Tensor, k: tf.Tensor, c: tf.Tensor) => loss(a, k, c).mul(tf.tensor1d(dyScale)).sum();
    return [loss(yt, wt, bt), ...tf.grads(f)([yt, wt, bt])];
  };
  await tf.setBackend('cpu');
  const ref = tf.tidy(run(false)).map((r) => r.dataSync() as Float32Array);
  await tf.setBackend('wasm');
  const calls = nativeLogitsXentCallCount();
  const before = tf.memory().numTensors;
  const outs = tf.tidy(run(true));
  const got = outs.map((r) => r.dataSync() as Float32Array);
  tf.dispose(outs);
  assert.ok(nativeLogitsXentCallCount() > calls, 'the fused op did not run');
  assert.equal(tf.memory().numTensors, before, 'the fused op leaked tensors');
  assert.equal(got[0]![2], 0, 'an all-padding sentence has no loss');
  assertClose(ref.map((r, i) => [r, got[i]!]));
});

// The evaluation-only output layer + token NLL (kernels/logits-nll.ts) against tfjs' logSoftmax of the
// product on the CPU backend: rows gathered out of order and repeated, a vocabulary that is no multiple
// of any panel width and spans several column blocks (the running log-sum-exp is rescaled when a later
// block holds the row maximum), labels outside the vocabulary, more rows than one chunk; and the same
// bits for 1 and 3 threads.
isaTest('native output layer + token NLL (evaluation) matches logSoftmax(y W + b), any thread count', async (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  const [Y, H, V, N] = [150, 37, 613, 230];
  const flat = (shape: number[], seed: number) => tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);
  const y = flat([Y, H], 50);
  const w = flat([H, V], 51);
  const bias = flat([V], 52).map((b, j) => b + (j > 500 ? 6 : 0));
  const rows = Int32Array.from({ length: N }, (_, i) => (i * 37 + 11) % Y);
  const labels = Int32Array.from({ length: N }, (_, i) => (i * 7) % V);
  labels[3] = V + 2;
  labels[4] = -1;
  labels[5] = V - 1;
  await tf.setBackend('cpu');
  const ref = tf.tidy(() => {
    const logp = tf.logSoftmax(tf.add(tf.matMul(tf.gather(tf.tensor2d(y, [Y, H]), tf.tensor1d(rows, 'int32')), tf.tensor2d(w, [H, V])), tf.tensor1d(bias)));
    const lse = tf.logSumExp(tf.add(tf.matMul(tf.gather(tf.tensor2d(y, [Y, H]), tf.tensor1d(rows, 'int32')), tf.tensor2d(w, [H, V])), tf.tensor1d(bias)), 1);
    const inside = Array.from(labels, (l) => (l >= 0 && l < V ? l : 0));
    const picked = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(inside, 'int32'), V)), 1));
    return tf.where(tf.tensor1d(Array.from(labels, (l) => l >= 0 && l < V)), picked, lse).dataSync() as Float32Array;
  });
  await tf.setBackend('wasm');
  const { addon } = loadNative();
  const before = addon!.threads();
  const calls = nativeLogitsNllCallCount();
  try {
    addon!.setThreads(1);
    const one = logitsNll(y, rows, labels, w, bias, H, V);
    addon!.setThreads(3);
    const three = logitsNll(y, rows, labels, w, bias, H, V);
    assert.deepEqual(three, one, 'the result depends on the thread count');
    assertClose([[ref, one]], 1e-5);
  } finally {
    addon!.setThreads(before);
  }
  assert.ok(nativeLogitsNllCallCount() >= calls + 2);
  assert.throws(() => logitsNll(y, Int32Array.of(Y), Int32Array.of(0), w, bias, H, V), /row index is outside y/);
});

// The forward-only GRU of evaluation (kernels/native-rnn.ts gruInference) against the GRU layer run by
// tfjs on the CPU backend with an initial state: both recurrent activations, a state size that is no
// multiple of the vector width, more rows than one block; and the same bits for 1 and 3 threads.
isaTest('forward-only GRU (evaluation) matches the tfjs GRU layer, any thread count', async (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  const [B, T, I, H] = [150, 5, 7, 19];
  const flat = (shape: number[], seed: number) => tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);
  const x = flat([B, T, I], 60);
  const h0 = flat([B, H], 61);
  for (const recurrentActivation of ['hardSigmoid', 'sigmoid'] as const) {
    const layer = tf.layers.gru({ units: H, returnSequences: true, recurrentActivation, biasInitializer: 'randomNormal' });
    await tf.setBackend('cpu');
    const ref = tf.tidy(() => (layer.apply(tf.tensor3d(x, [B, T, I]), { initialState: [tf.tensor2d(h0, [B, H])] }) as tf.Tensor).dataSync() as Float32Array);
    await tf.setBackend('wasm');
    const { addon } = loadNative();
    const before = addon!.threads();
    const calls = nativeGruInferenceCallCount();
    try {
      addon!.setThreads(1);
      const one = gruInference(layer, x, h0, B, T);
      addon!.setThreads(3);
      const three = gruInference(layer, x, h0, B, T);
      assert.ok(one && three, 'the native GRU did not run');
      assert.deepEqual(three, one, 'the result depends on the thread count');
      assertClose([[ref, one]], 1e-5);
    } finally {
      addon!.setThreads(before);
    }
    assert.equal(nativeGruInferenceCallCount(), calls + 2);
    layer.dispose();
  }
  assert.equal(gruInference(tf.layers.lstm({ units: H, returnSequences: true }), x, h0, B, T), undefined, 'an LSTM is not run as a GRU');
});

interface RnnCase {
  name: string;
  cell: 'gru' | 'lstm';
  returnSequences: boolean;
  mask: boolean;
  initialState: boolean;
  recurrentActivation: 'hardSigmoid' | 'sigmoid';
  useBias: boolean;
  goBackwards?: boolean;
}
const rnnCases: RnnCase[] = [];
for (const cell of ['gru', 'lstm'] as const) {
  rnnCases.push(
    { name: 'sequences, mask, initial state', cell, returnSequences: true, mask: true, initialState: true, recurrentActivation: 'hardSigmoid', useBias: true },
    { name: 'last output, mask', cell, returnSequences: false, mask: true, initialState: false, recurrentActivation: 'hardSigmoid', useBias: true },
    { name: 'sequences, no mask, sigmoid, no bias', cell, returnSequences: true, mask: false, initialState: false, recurrentActivation: 'sigmoid', useBias: false },
    { name: 'go backwards, sequences, mask (a Bidirectional layer\'s backward half)', cell, returnSequences: true, mask: true, initialState: true, recurrentActivation: 'hardSigmoid', useBias: true, goBackwards: true },
  );
}

for (const c of rnnCases) {
  isaTest(`fused ${c.cell.toUpperCase()} matches tfjs-layers (${c.name}): outputs and every gradient`, async (t) => {
    if (!nativeBuilt()) return t.skip('native kernels not built');
    const [B, T, I, H] = [3, 5, 7, 9];
    const nStates = c.cell === 'lstm' ? 2 : 1;
    const layer = (c.cell === 'gru' ? tf.layers.gru : tf.layers.lstm)({
      units: H,
      returnSequences: c.returnSequences,
      recurrentActivation: c.recurrentActivation,
      useBias: c.useBias,
      goBackwards: c.goBackwards ?? false,
      kernelInitializer: tf.initializers.randomNormal({ seed: 8, stddev: 0.5 }),
      recurrentInitializer: tf.initializers.randomNormal({ seed: 9, stddev: 0.5 }),
      biasInitializer: tf.initializers.randomNormal({ seed: 10, stddev: 0.5 }),
    });
    layer.build([B, T, I]);
    const weights = layer.getWeights().map((w) => w.arraySync());
    const x = rand([B, T, I], 11);
    const states = Array.from({ length: nStates }, (_, i) => rand([B, H], 12 + i));
    // Rows end early at different steps; one row has a hole, which the mask must also honour.
    const mask = [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 1, 1, 0]];
    const dyScale = rand(c.returnSequences ? [B, T, H] : [B, H], 14);
    const run = () => {
      const xt = tf.tensor(x, [B, T, I]);
      const st = states.map((s) => tf.tensor(s, [B, H]));
      const weightTensors = weights.map((w) => tf.tensor(w as number[]));
      layer.setWeights(weightTensors);
      const f = (xi: tf.Tensor, ...si: tf.Tensor[]) => {
        const kwargs: Record<string, unknown> = {};
        if (c.mask) kwargs.mask = tf.tensor2d(mask, [B, T], 'bool');
        if (c.initialState) kwargs.initialState = si;
        return (layer.call(xi, kwargs) as tf.Tensor).mul(tf.tensor(dyScale, c.returnSequences ? [B, T, H] : [B, H])).sum();
      };
      const vars = layer.trainableWeights.map((w) => (w as unknown as { read(): tf.Variable }).read());
      const { value, grads } = tf.variableGrads(() => f(xt, ...st) as tf.Scalar, vars);
      const inputGrads = tf.grads(f)(c.initialState ? [xt, ...st] : [xt]);
      const out = layer.call(xt, { ...(c.mask ? { mask: tf.tensor2d(mask, [B, T], 'bool') } : {}), ...(c.initialState ? { initialState: st } : {}) }) as tf.Tensor;
      return [out, value, ...vars.map((v) => grads[v.name]!), ...inputGrads];
    };
    const before = nativeRnnCallCount();
    assertClose(await onBoth(run), 1e-4);
    assert.ok(nativeRnnCallCount() > before, 'the fused kernel did not run');
    // The same on WASM with the fused path turned off (tfjs' per-step ops) agrees too.
    await tf.setBackend('wasm');
    const fused = tf.tidy(run).map((r) => r.dataSync() as Float32Array);
    setNativeRnnEnabled(false);
    try {
      const plain = tf.tidy(run).map((r) => r.dataSync() as Float32Array);
      assertClose(plain.map((p, i) => [p, fused[i]!]), 1e-4);
    } finally {
      setNativeRnnEnabled(true);
    }
  });
}

test('without the addon, the WASM backend falls back to tfjs kernels with a one-line note', () => {
  const script = `
    import { initBackend } from '${path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'backend.ts')}';
    const info = await initBackend('wasm');
    console.log(JSON.stringify({ native: info.native ?? null, note: info.note }));`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vaekit-native-'));
  const file = path.join(dir, 'probe.mts');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { env: { ...process.env, VAEKIT_NATIVE: '0' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout.trim().split('\n').pop()!) as { native: string | null; note: string };
  assert.equal(info.native, null);
  assert.match(info.note, /native kernels turned off by VAEKIT_NATIVE=0; using tfjs' WASM kernels/);
});

test('loadNative reports an addon that is missing or cannot load instead of throwing', () => {
  assert.match(loadNative(path.join(os.tmpdir(), 'no-such-dir', 'vaekit_native.node')).failure ?? '', /not built/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vaekit-native-'));
  const bogus = path.join(dir, 'vaekit_native.node');
  writeFileSync(bogus, 'not a shared object');
  assert.match(loadNative(bogus).failure ?? '', /failed to load/);
  assert.ok(NATIVE_ADDON_PATH.endsWith(path.join('native', 'build', 'Release', 'vaekit_native.node')));
});

isaTest('fused Adam gives the same variables and moments as tfjs AdamOptimizer, bit for bit, over several steps', async (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  // alias: another tensor shares the variable's memory, so the update cannot run in place.
  const run = async (fused: boolean, alias = false) => {
    setNativeAdamEnabled(fused);
    const w = tf.variable(tf.randomNormal([37, 5], 0, 1, 'float32', 17), true, `adam_w_${fused}_${alias}`);
    const b = tf.variable(tf.randomNormal([5], 0, 1, 'float32', 18), true, `adam_b_${fused}_${alias}`);
    const held = alias ? tf.reshape(w, [-1]) : undefined;
    const x = tf.randomNormal([11, 37], 0, 1, 'float32', 19);
    const opt = tf.train.adam(0.01, 0.85, 0.99, 1e-7);
    const step = () => opt.minimize(() => tf.matMul(x, w).add(b).square().mean() as tf.Scalar);
    for (let i = 0; i < 3; i++) step();
    const before = nativeAdamUpdateCount();
    step();
    assert.equal(nativeAdamUpdateCount() > before, fused, `fused=${fused} but the native update count went ${before} -> ${nativeAdamUpdateCount()}`);
    const state = opt.getWeights();
    return Promise.all([w, b].map((v) => v.data())).then(async (vals) => {
      const moments = await Promise.all((await state).map((s) => s.tensor.data()));
      const names = (await state).map((s) => s.name);
      tf.dispose([w, b, x, ...(held ? [held] : [])]);
      opt.dispose();
      return { values: [...vals, ...moments] as Float32Array[], names };
    });
  };
  await tf.setBackend('wasm');
  try {
    const plain = await run(false);
    for (const alias of [false, true]) {
      const fused = await run(true, alias);
      assert.equal(fused.names.length, plain.names.length);
      plain.values.forEach((p, i) => assert.deepEqual(fused.values[i], p, `alias=${alias}: tensor ${i} (${plain.names[i - 2] ?? 'variable'}) differs`));
    }
  } finally {
    setNativeAdamEnabled(true);
  }
});

test('a conv net trained with the fused Adam ends bit for bit where tfjs Adam ends (filters are never updated in place)', async (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  await tf.setBackend('wasm');
  // Two stride-2 convolutions, as the conv VAE and the MNIST classifier have: written in place, their
  // filters went on convolving with stale values in the WASM backend's forward pass.
  const train = (fused: boolean) => {
    setNativeAdamEnabled(fused);
    let n = 0;
    const init = () => tf.initializers.glorotUniform({ seed: 5 + n++ });
    const input = tf.input({ shape: [64] });
    let h = tf.layers.reshape({ targetShape: [8, 8, 1] }).apply(input) as tf.SymbolicTensor;
    for (const filters of [4, 8]) h = tf.layers.conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3, kernelInitializer: init() }).apply(h) as tf.SymbolicTensor });
    const x = tf.randomNormal([5, 64], 0, 1, 'float32', 31);
    const opt = tf.train.adam(0.05);
    for (let i = 0; i < 6; i++) opt.minimize(() => (model.apply(x, { training: true }) as tf.Tensor).square().mean() as tf.Scalar);
    const out = Array.from((model.apply(x) as tf.Tensor).dataSync());
    const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
    tf.dispose(x);
    opt.dispose();
    model.dispose();
    return { out, weights };
  };
  try {
    const plain = train(false);
    const fused = train(true);
    assert.deepEqual(fused.weights, plain.weights);
    assert.deepEqual(fused.out, plain.out);
  } finally {
    setNativeAdamEnabled(true);
  }
});

isaTest('native results do not depend on the thread count (bit for bit)', async (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  await tf.setBackend('wasm');
  const run = () =>
    tf.tidy(() => {
      const a = tf.randomNormal([300, 517], 0, 1, 'float32', 21);
      const b = tf.randomNormal([517, 129], 0, 1, 'float32', 22);
      const logits = tf.randomNormal([257, 301], 0, 3, 'float32', 23);
      const labels = tf.tensor1d(Array.from({ length: 257 }, (_, i) => (i * 31) % 301), 'int32');
      const [ga] = tf.grads((x: tf.Tensor) => tf.matMul(x, b).square().sum())([a]);
      return [tf.matMul(a, b), tf.matMul(a.transpose(), b, true, false), ga!, sparseSoftmaxCrossEntropy(logits as tf.Tensor2D, labels)].map(
        (r) => r.dataSync() as Float32Array,
      );
    });
  const { addon } = loadNative();
  const before = addon!.threads();
  try {
    addon!.setThreads(1);
    const one = run();
    addon!.setThreads(3);
    const three = run();
    one.forEach((o, i) => assert.deepEqual(three[i], o, `result ${i} differs between 1 and 3 threads`));
  } finally {
    addon!.setThreads(before);
  }
});

test('recurrent layers with features the fused kernel lacks run tfjs-layers own code', async (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  await tf.setBackend('wasm');
  const x = tf.randomNormal([2, 4, 3], 0, 1, 'float32', 24);
  const variants = [
    tf.layers.gru({ units: 5, recurrentDropout: 0.3 }),
    tf.layers.lstm({ units: 5, activation: 'relu' }),
    tf.layers.gru({ units: 5, returnState: true }),
  ];
  for (const layer of variants) {
    const before = nativeRnnCallCount();
    const out = layer.apply(x, { training: true }) as tf.Tensor | tf.Tensor[];
    assert.equal(nativeRnnCallCount(), before, `${layer.getClassName()} ${JSON.stringify(layer.getConfig()).slice(0, 60)} ran fused`);
    tf.dispose(out);
  }
  // The plain configuration does run fused.
  const before = nativeRnnCallCount();
  tf.dispose(tf.layers.gru({ units: 5 }).apply(x) as tf.Tensor);
  assert.equal(nativeRnnCallCount(), before + 1);
  x.dispose();
});

/** Runs initBackend('wasm') in a fresh process (after `prelude`, with `env`) and returns its info plus what `after` logs. */
function probe(env: Record<string, string>, prelude = '', after = ''): { native: string | null; note: string; after?: unknown } {
  const backendTs = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'backend.ts');
  const script = `
    ${prelude}
    const { initBackend } = await import('${backendTs}');
    const info = await initBackend('wasm');
    let afterResult;
    ${after}
    console.log(JSON.stringify({ native: info.native ?? null, note: info.note, after: afterResult }));`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vaekit-native-'));
  const file = path.join(dir, 'probe.mts');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { native: string | null; note: string; after?: unknown };
}

test('VAEKIT_NATIVE_ISA forces a path the CPU runs and the backend info reports it', (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  // The narrowest path, which every build and CPU has.
  const info = probe({ VAEKIT_NATIVE_ISA: 'generic' });
  assert.match(info.native ?? '', /^generic \(VAEKIT_NATIVE_ISA\), \d+ threads: BatchMatMul/);
  assert.match(info.note, /native kernels \(generic \(VAEKIT_NATIVE_ISA\), \d+ threads/);
  // Without the variable, the widest path this CPU runs.
  assert.match(probe({ VAEKIT_NATIVE_ISA: '' }).native ?? '', new RegExp(`^${[...runnable][0]}, \\d+ threads`));
});

test('VAEKIT_NATIVE_ISA naming a path the CPU or the build lacks is refused with one line and the kernels stay off', (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  const lacking = NATIVE_ISAS.find((isa) => !runnable.has(isa));
  for (const [isa, why] of [
    ...(lacking ? [[lacking, 'not supported by this CPU']] : []),
    ['neon', 'not an instruction set of this build'],
  ] as const) {
    const info = probe({ VAEKIT_NATIVE_ISA: isa });
    assert.equal(info.native, null);
    assert.ok(!info.note.includes('\n'), 'one line');
    assert.match(
      info.note,
      new RegExp(`native kernels refused VAEKIT_NATIVE_ISA=${isa}: ${why} \\(this CPU runs: ${[...runnable].join(', ')}\\); using tfjs' WASM kernels`),
    );
  }
});

test('the start-up self-check of the tfjs WASM internals passes on this tfjs and catches broken ones', async (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  await tf.setBackend('wasm');
  const addon = loadNative().addon!;
  assert.equal(checkWasmInternals(addon), undefined);
  const be = tf.backend() as unknown as Record<string, unknown>;
  const stub = (name: string, value: unknown, check: (reason: string | undefined) => void) => {
    const own = Object.prototype.hasOwnProperty.call(be, name);
    const saved = be[name];
    be[name] = value;
    try {
      check(checkWasmInternals(addon));
      // installNativeKernels runs the same check and registers nothing.
      check(installNativeKernels().failure?.replace(/^off: /, ''));
    } finally {
      if (own) be[name] = saved;
      else delete be[name];
    }
  };
  const proto = Object.getPrototypeOf(be) as Record<string, (...a: unknown[]) => unknown>;
  const version = /^tfjs-backend-wasm \d+\.\d+\.\d+\S* internals changed/;
  // Renamed away.
  stub('makeOutput', undefined, (r) => assert.match(r ?? '', /internals changed \(makeOutput is not a function\)$/));
  // Same name, new signature: the output lands somewhere else than the tensor info says.
  stub(
    'makeOutput',
    function (this: unknown, shape: number[], dtype: tf.DataType) {
      const out = proto.makeOutput!.call(this, [...shape, 2], dtype) as tf.TensorInfo;
      return { ...out, shape };
    },
    (r) => {
      assert.match(r ?? '', version);
      assert.match(r ?? '', /\(a 2x3 by 3x2 product through them gave \[58, 64, 139, 154, [^\]]*\], expected \[58, 64, 139, 154\]\)$/);
    },
  );
  // Heap views shifted by one element (a changed memory layout): the numbers are wrong.
  stub(
    'typedArrayFromHeap',
    function (this: unknown, info: tf.TensorInfo) {
      const view = proto.typedArrayFromHeap!.call(this, info) as Float32Array;
      return new (view.constructor as Float32ArrayConstructor)(view.buffer, view.byteOffset + 4, view.length);
    },
    (r) => assert.match(r ?? '', /\(a 2x3 by 3x2 product through them gave \[.*\], expected \[58, 64, 139, 154\]\)$/),
  );
  // Throws.
  stub('typedArrayFromHeap', () => {
    throw new Error('dataIdMap\nmoved');
  }, (r) => assert.match(r ?? '', /internals changed \(dataIdMap\)$/));
  assert.equal(checkWasmInternals(addon), undefined, 'restored');
});

test('with broken tfjs WASM internals at start-up, the native kernels stay off with one line and training runs on tfjs kernels', (t) => {
  if (!nativeBuilt()) return t.skip('native kernels not built');
  // makeOutput hands out a buffer the tensor info does not describe while the backend starts; restored
  // afterwards so that tfjs' own kernels (which use it too) work for the training step.
  const prelude = `
    const { BackendWasm } = await import('${import.meta.resolve('@tensorflow/tfjs-backend-wasm')}');
    const original = BackendWasm.prototype.makeOutput;
    BackendWasm.prototype.makeOutput = function (shape, dtype) { return { ...original.call(this, [...shape, 2], dtype), shape }; };`;
  const after = `
    BackendWasm.prototype.makeOutput = original;
    const tf = await import('${import.meta.resolve('@tensorflow/tfjs')}');
    const matmul = tf.getKernel('BatchMatMul', 'wasm');
    const w = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
    const x = tf.tensor2d([[1, 0], [0, 1], [1, 1]]);
    const opt = tf.train.sgd(0.1);
    const losses = [];
    for (let i = 0; i < 3; i++) losses.push(opt.minimize(() => tf.matMul(x, w).square().mean(), true).dataSync()[0]);
    afterResult = { nativeMatMul: Boolean(matmul.kernelFunc.vaekitNative), backend: tf.getBackend(), losses };`;
  const info = probe({ VAEKIT_NATIVE_ISA: '' }, prelude, after);
  assert.equal(info.native, null);
  assert.ok(!info.note.includes('\n'), 'one line');
  assert.match(
    info.note,
    /native kernels off: tfjs-backend-wasm \S+ internals changed \(a 2x3 by 3x2 product through them gave \[[^\]]*\], expected \[58, 64, 139, 154\]\); using tfjs' WASM kernels/,
  );
  const a = info.after as { nativeMatMul: boolean; backend: string; losses: number[] };
  assert.equal(a.backend, 'wasm');
  assert.equal(a.nativeMatMul, false);
  assert.ok(a.losses.every(Number.isFinite) && a.losses[2]! < a.losses[0]!, `losses ${a.losses}`);
});

test('no instruction-set copy of the kernels defines a weak symbol the linker could share across paths', (t) => {
  const release = path.dirname(NATIVE_ADDON_PATH);
  const archives = NATIVE_ISAS.map((isa) => path.join(release, `vk_${isa}.a`)).filter((f) => existsSync(f));
  if (archives.length === 0) return t.skip('native kernels not built');
  const nm = spawnSync('nm', ['-C', '--defined-only', ...archives], { encoding: 'utf8' });
  if (nm.error) return t.skip('nm not installed');
  // A weak function (an inline or template body) emitted by an AVX-512 copy could be the one the linker
  // keeps for the SSE copy too, and crash an older CPU. Only the personality-routine reference is shared.
  const weak = nm.stdout
    .split('\n')
    .filter((l) => / [WVu] /.test(l) && !l.includes('DW.ref.__gxx_personality_v0'));
  assert.deepEqual(weak, []);
});
