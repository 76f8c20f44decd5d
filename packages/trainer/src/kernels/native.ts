/**
 * vaekit's native kernel library (packages/trainer/native, an N-API addon compiled at install time with
 * node-gyp) and the tfjs WASM kernels that use it. The addon is one portable build that carries the
 * kernels once per instruction set (AVX-512, AVX2 + FMA, SSE on x86-64; plain C++ everywhere) and runs
 * the widest one the CPU supports, or the one `VAEKIT_NATIVE_ISA` names. The kernels work zero-copy on
 * the WASM heap: inputs and outputs are typed-array views of the backend's memory handed to C++, through
 * the tfjs internals wrapped (and checked at start-up) in wasm-internals.ts.
 *
 * Replaced on WASM: `BatchMatMul` and `_FusedMatMul` (blocked SIMD sgemm, all transposed variants, both
 * cores), `Sum` over leading axes; added: fused softmax cross-entropy, and (other files) fused GRU/LSTM,
 * a sentence decoder's logits layer with its cross-entropy, the dense image VAE's whole loss and Adam. Anything a native kernel does not cover (other dtypes,
 * PReLU, unusual broadcasts) goes to the kernel tfjs registered.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BCE_LOGITS, BCE_LOGITS_GRAD } from './bce.js';
import { installNativeAttention } from './attention-scores.js';
import { installNativeDenseVae } from './dense-vae.js';
import { installNativeLogitsXent } from './logits-xent.js';
import { installNativeAdam } from './native-adam.js';
import { installNativeRnn } from './native-rnn.js';
import { SOFTMAX_XENT, SOFTMAX_XENT_GRAD } from './softmax-xent.js';
import { checkWasmInternals, heapF32, heapI32, makeOutput } from './wasm-internals.js';

/** The recurrent entry points of the addon (see native/src/rnn.cc). */
export interface NativeRnnAddon {
  rnnForward(kind: number, act: number, seq: number, B: number, T: number, I: number, H: number, x: Float32Array, w: Float32Array,
    u: Float32Array, bias: Float32Array | null, h0: Float32Array, c0: Float32Array | null, mask: Float32Array | null, y: Float32Array,
    hLast: Float32Array, cLast: Float32Array | null, ws: Float32Array, hp: Float32Array, aux: Float32Array): void;
  rnnBackward(kind: number, act: number, seq: number, B: number, T: number, I: number, H: number, x: Float32Array, w: Float32Array,
    u: Float32Array, mask: Float32Array | null, ws: Float32Array, hp: Float32Array, aux: Float32Array, dy: Float32Array,
    dx: Float32Array, dW: Float32Array, dU: Float32Array, db: Float32Array | null, dh0: Float32Array, dc0: Float32Array | null): void;
}

/** The addon's functions (see native/src/addon.cc). */
export interface NativeAddon extends NativeRnnAddon {
  matmul(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transposeA: number,
    transposeB: number,
    batchStrideA: number,
    batchStrideB: number,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
  ): void;
  softmaxXent(logits: Float32Array, labels: Int32Array, loss: Float32Array, lse: Float32Array, n: number, v: number): void;
  softmaxXentGrad(logits: Float32Array, labels: Int32Array, lse: Float32Array, dy: Float32Array, dlogits: Float32Array, n: number, v: number): void;
  adam(x: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, xOut: Float32Array, mOut: Float32Array, vOut: Float32Array,
    n: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, oneMinusAccBeta1: number,
    oneMinusAccBeta2: number, epsilon: number, negLr: number): void;
  bceLogits(logits: Float32Array, x: Float32Array, loss: Float32Array, n: number, d: number): void;
  bceLogitsGrad(logits: Float32Array, x: Float32Array, dy: Float32Array, dl: Float32Array, dx: Float32Array | null, n: number, d: number): void;
  vaeLatent(mu: Float32Array, logvar: Float32Array, eps: Float32Array, z: Float32Array, kl: Float32Array, n: number, zd: number): void;
  vaeLatentGrad(mu: Float32Array, logvar: Float32Array, eps: Float32Array, dz: Float32Array, klCoef: number, dmu: Float32Array,
    dlogvar: Float32Array, n: number, zd: number): void;
  reluGrad(y: Float32Array, a: Float32Array, b: Float32Array | null, out: Float32Array, n: number): void;
  additiveScores(qa: Float32Array, ka: Float32Array, v: Float32Array, mask: Float32Array | null, scores: Float32Array, e: Float32Array,
    B: number, T: number, S: number, A: number): void;
  additiveScoresGrad(dy: Float32Array, e: Float32Array, v: Float32Array, mask: Float32Array | null, dqa: Float32Array, dka: Float32Array,
    dv: Float32Array, B: number, T: number, S: number, A: number): void;
  sumLeading(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /**
   * `nll[i] = logsumexp(y[rows[i]] W + bias) - (y[rows[i]] W + bias)[labels[i]]` for `i < n` (`y [*, h]`,
   * `W [h, v]`), the `[n, v]` logits never stored (native/src/nll.cc).
   */
  /** GRU forward for evaluation: `Y [B,T,H]` from `X [B,T,I]` and `h0 [B,H]`; act 0 hardSigmoid, 1 sigmoid (native/src/gru_infer.cc). */
  gruInfer(act: number, B: number, T: number, I: number, H: number, x: Float32Array, w: Float32Array, u: Float32Array,
    bias: Float32Array | null, h0: Float32Array, y: Float32Array): void;
  logitsNll(y: Float32Array, rows: Int32Array, labels: Int32Array, w: Float32Array, bias: Float32Array, nll: Float32Array, n: number, h: number, v: number): void;
  setThreads(n: number): void;
  threads(): number;
  /** The instruction set the kernels run with: `avx512`, `avx2`, `sse` or `generic`. */
  simd(): string;
  /** The instruction sets of this build the CPU runs, widest first. */
  isas(): string[];
  /** Switches every kernel to that instruction set; throws a one-line reason when the CPU or build lacks it. */
  setIsa(isa: string): void;
}

/** The kernels' instruction sets, widest first (x86-64: all four; other architectures: `generic`). */
export const NATIVE_ISAS = ['avx512', 'avx2', 'sse', 'generic'] as const;
/** One of {@link NATIVE_ISAS}. */
export type NativeIsa = (typeof NATIVE_ISAS)[number];

/** Where the build puts the addon, relative to this package (same from `src/` under tsx and `dist/`). */
export const NATIVE_ADDON_PATH = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'native',
  'build',
  'Release',
  'vaekit_native.node',
);

let loaded: { addon?: NativeAddon; failure?: string } | undefined;

/**
 * Loads the addon (once for the default path). Returns the reason as `failure`, never throws, when it is
 * not built (the install could not compile it) or cannot load; `VAEKIT_NATIVE=0` turns it off.
 * `VAEKIT_NATIVE_ISA=avx512|avx2|sse|generic` forces an instruction set; one the CPU (or this build)
 * lacks is refused with a one-line `failure`, so the kernels stay off rather than crash.
 */
export function loadNative(file: string = NATIVE_ADDON_PATH): { addon?: NativeAddon; failure?: string } {
  if (file === NATIVE_ADDON_PATH && loaded) return loaded;
  let result: { addon?: NativeAddon; failure?: string };
  if (process.env.VAEKIT_NATIVE === '0') result = { failure: 'turned off by VAEKIT_NATIVE=0' };
  else if (!existsSync(file)) result = { failure: 'not built (run `npm rebuild @vaekit/trainer` with a C++ compiler installed)' };
  else {
    try {
      const addon = createRequire(import.meta.url)(file) as NativeAddon;
      if (process.env.VAEKIT_THREADS) addon.setThreads(Number(process.env.VAEKIT_THREADS));
      const isa = process.env.VAEKIT_NATIVE_ISA;
      result = { addon };
      if (isa) {
        try {
          addon.setIsa(isa);
        } catch (err) {
          result = { failure: `refused VAEKIT_NATIVE_ISA=${isa}: ${(err as Error).message.split('\n')[0]}` };
        }
      }
    } catch (err) {
      result = { failure: `failed to load (${(err as Error).message.split('\n')[0]})` };
    }
  }
  if (file === NATIVE_ADDON_PATH) loaded = result;
  return result;
}

/**
 * Sets how many threads the native kernels use (1 .. cores; the default is every core, or
 * `VAEKIT_THREADS`). Results do not depend on it: every output element is summed in the same order.
 * Returns false when the native kernels are not loaded.
 */
export function setNativeThreads(n: number): boolean {
  const { addon } = loadNative();
  if (!addon) return false;
  addon.setThreads(Math.max(1, Math.floor(n)));
  return true;
}

/**
 * The instruction sets of the loaded addon that this CPU runs, widest first (empty when the native
 * kernels are not loaded).
 */
export function nativeIsas(): NativeIsa[] {
  const { addon } = loadNative();
  return addon ? (addon.isas() as NativeIsa[]) : [];
}

/**
 * Switches the native kernels to an instruction set (tests force each path; `VAEKIT_NATIVE_ISA` does
 * the same at load). Throws a one-line error when the CPU or the build lacks it or the kernels are not
 * loaded.
 */
export function setNativeIsa(isa: NativeIsa): void {
  const { addon, failure } = loadNative();
  if (!addon) throw new Error(`native kernels ${failure ?? 'not loaded'}`);
  addon.setIsa(isa);
}

/**
 * Loads the addon, runs the start-up self-check of the tfjs WASM internals the kernels depend on
 * ({@link checkWasmInternals}) and, when both succeed, registers every native kernel on the active WASM
 * backend. Returns the description for the backend info (`avx2, 2 threads: BatchMatMul, ...`) or the
 * one-line reason the kernels stay off. Never throws.
 */
export function installNativeKernels(file: string = NATIVE_ADDON_PATH): { native?: string; failure?: string } {
  const { addon, failure } = loadNative(file);
  if (!addon) return { failure: failure ?? 'not loaded' };
  const broken = checkWasmInternals(addon);
  if (broken) return { failure: `off: ${broken}` };
  registerNativeWasmKernels(addon);
  installNativeRnn(addon);
  installNativeAdam(addon);
  installNativeDenseVae(addon);
  installNativeLogitsXent(addon);
  installNativeAttention(addon);
  const forced = process.env.VAEKIT_NATIVE_ISA ? ' (VAEKIT_NATIVE_ISA)' : '';
  return { native: `${addon.simd()}${forced}, ${addon.threads()} threads: ${NATIVE_WASM_KERNELS.join(', ')}` };
}

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, sigmoid: 4, leakyrelu: 5 };

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

interface MatMulPlan {
  batch: number;
  m: number;
  n: number;
  k: number;
  strideA: number;
  strideB: number;
  outShape: number[];
}

/** Shapes of a (batched) product, or undefined when the batch dimensions need a general broadcast. */
function planMatMul(a: number[], b: number[], transposeA: boolean, transposeB: boolean): MatMulPlan | undefined {
  if (a.length < 2 || b.length < 2) return undefined;
  const m = transposeA ? a[a.length - 1]! : a[a.length - 2]!;
  const k = transposeA ? a[a.length - 2]! : a[a.length - 1]!;
  const kb = transposeB ? b[b.length - 1]! : b[b.length - 2]!;
  const n = transposeB ? b[b.length - 2]! : b[b.length - 1]!;
  if (k !== kb) return undefined;
  const outerA = a.slice(0, -2);
  const outerB = b.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  let outer: number[];
  if (batchA === batchB && outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i])) outer = outerA;
  else if (batchB === 1 && outerB.length <= outerA.length) outer = outerA;
  else if (batchA === 1 && outerA.length <= outerB.length) outer = outerB;
  else return undefined;
  return {
    batch: Math.max(batchA, batchB),
    m,
    n,
    k,
    strideA: batchA === 1 ? 0 : m * k,
    strideB: batchB === 1 ? 0 : k * n,
    outShape: [...outer, m, n],
  };
}

function replaceKernel(name: string, make: (fallback: tf.KernelFunc) => tf.KernelFunc): void {
  const original = tf.getKernel(name, 'wasm');
  if (!original) throw new Error(`tfjs WASM has no ${name} kernel to replace`);
  if ((original.kernelFunc as { vaekitNative?: boolean }).vaekitNative) return;
  const kernelFunc = make(original.kernelFunc);
  (kernelFunc as { vaekitNative?: boolean }).vaekitNative = true;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
}

function runMatMul(
  addon: NativeAddon,
  backend: object,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  plan: MatMulPlan,
  transposeA: boolean,
  transposeB: boolean,
  bias: tf.TensorInfo | undefined,
  activation: number,
  alpha: number,
): tf.TensorInfo {
  // Allocate first: growing the heap detaches earlier views of it.
  const out = makeOutput(backend, plan.outShape, 'float32');
  addon.matmul(
    heapF32(backend, a),
    heapF32(backend, b),
    heapF32(backend, out),
    plan.batch,
    plan.m,
    plan.n,
    plan.k,
    transposeA ? 1 : 0,
    transposeB ? 1 : 0,
    plan.strideA,
    plan.strideB,
    bias ? heapF32(backend, bias) : null,
    activation,
    alpha,
  );
  return out;
}

/** Kernel names {@link registerNativeWasmKernels} replaced or added. */
export const NATIVE_WASM_KERNELS = ['BatchMatMul', '_FusedMatMul', 'Sum', 'Reverse', 'GatherV2', 'GRU', 'LSTM', 'softmax cross-entropy', 'logits + cross-entropy', 'Bernoulli NLL', 'dense VAE loss', 'Adam', 'additive attention'] as const;

/**
 * Registers the native kernels on the WASM backend (call after the backend initialised). Idempotent.
 */
export function registerNativeWasmKernels(addon: NativeAddon): void {
  replaceKernel('BatchMatMul', (fallback) => (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const plan = a.dtype === 'float32' && b.dtype === 'float32' ? planMatMul(a.shape, b.shape, transposeA, transposeB) : undefined;
    if (!plan) return fallback(args);
    return runMatMul(addon, args.backend, a, b, plan, transposeA, transposeB, undefined, 0, 0);
  });
  replaceKernel('_FusedMatMul', (fallback) => (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation: string; leakyreluAlpha?: number };
    const activation = ACTIVATIONS[attrs.activation];
    const plan =
      a!.dtype === 'float32' && b!.dtype === 'float32' ? planMatMul(a!.shape, b!.shape, attrs.transposeA, attrs.transposeB) : undefined;
    const biasOk = !bias || (bias.dtype === 'float32' && (size(bias.shape) === 1 || (bias.shape.length === 1 && bias.shape[0] === plan?.n)));
    if (!plan || activation === undefined || preluActivationWeights || !biasOk) return fallback(args);
    const backend = args.backend;
    return runMatMul(addon, backend, a!, b!, plan, attrs.transposeA, attrs.transposeB, bias, activation, attrs.leakyreluAlpha ?? 0.2);
  });
  // Sums over the leading axes (bias gradients: [N, V] -> [V]) without tfjs' transpose to innermost.
  replaceKernel('Sum', (fallback) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (x.dtype !== 'float32' || !leading) return fallback(args);
    const rows = size(x.shape.slice(0, axes.length));
    const rest = x.shape.slice(axes.length);
    const backend = args.backend;
    const out = makeOutput(backend, keepDims ? [...axes.map(() => 1), ...rest] : rest, 'float32');
    addon.sumLeading(heapF32(backend, x), heapF32(backend, out), rows, size(rest));
    return out;
  });
  // Row copies for Reverse along one axis and Gather of rows (the Embedding layers, the backward GRU's
  // time reversal): tfjs' WASM versions index element by element (~14 ms to reverse [64, 13, 128]).
  const heapOf = (backend: object, t: tf.TensorInfo) => (t.dtype === 'int32' ? heapI32(backend, t) : heapF32(backend, t));
  const copyable = (t: tf.TensorInfo) => t.dtype === 'float32' || t.dtype === 'int32';
  replaceKernel('Reverse', (fallback) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { dims } = args.attrs as unknown as { dims: number | number[] };
    const rank = x.shape.length;
    const axes = [...new Set((Array.isArray(dims) ? dims : [dims]).map((a) => (a < 0 ? a + rank : a)))];
    if (!copyable(x) || axes.length !== 1) return fallback(args);
    const axis = axes[0]!;
    const outer = size(x.shape.slice(0, axis));
    const n = x.shape[axis]!;
    const inner = size(x.shape.slice(axis + 1));
    const backend = args.backend;
    const out = makeOutput(backend, x.shape, x.dtype);
    const src = heapOf(backend, x);
    const dst = heapOf(backend, out);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < n; i++) {
        const from = (o * n + i) * inner;
        dst.set(src.subarray(from, from + inner), (o * n + n - 1 - i) * inner);
      }
    }
    return out;
  });
  replaceKernel('GatherV2', (fallback) => (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims?: number };
    const rank = x.shape.length;
    if (!copyable(x) || indices.dtype !== 'int32' || (axis < 0 ? axis + rank : axis) !== 0 || (batchDims ?? 0) !== 0) return fallback(args);
    const backend = args.backend;
    const rows = x.shape[0]!;
    const ids = heapI32(backend, indices);
    for (let i = 0; i < ids.length; i++) if (!(ids[i]! >= 0 && ids[i]! < rows)) return fallback(args);
    const inner = size(x.shape.slice(1));
    const out = makeOutput(backend, [...indices.shape, ...x.shape.slice(1)], x.dtype);
    // Views after the allocation (it may grow the heap).
    const idv = heapI32(backend, indices);
    const src = heapOf(backend, x);
    const dst = heapOf(backend, out);
    for (let i = 0; i < idv.length; i++) dst.set(src.subarray(idv[i]! * inner, (idv[i]! + 1) * inner), i * inner);
    return out;
  });
  if (!tf.getKernel(BCE_LOGITS, 'wasm')) {
    const rows = (t: tf.TensorInfo) => [size(t.shape.slice(0, -1)), t.shape[t.shape.length - 1] ?? 1] as const;
    tf.registerKernel({
      kernelName: BCE_LOGITS,
      backendName: 'wasm',
      kernelFunc: (args) => {
        const { logits, x } = args.inputs as Record<string, tf.TensorInfo>;
        const backend = args.backend;
        const [n, d] = rows(logits!);
        const loss = makeOutput(backend, logits!.shape.slice(0, -1), 'float32');
        const f32 = (t: tf.TensorInfo) => heapF32(backend, t);
        addon.bceLogits(f32(logits!), f32(x!), f32(loss), n, d);
        return loss;
      },
    });
    tf.registerKernel({
      kernelName: BCE_LOGITS_GRAD,
      backendName: 'wasm',
      kernelFunc: (args) => {
        const { logits, x, dy } = args.inputs as Record<string, tf.TensorInfo>;
        const backend = args.backend;
        const [n, d] = rows(logits!);
        const dl = makeOutput(backend, logits!.shape, 'float32');
        const dx = makeOutput(backend, x!.shape, 'float32');
        const f32 = (t: tf.TensorInfo) => heapF32(backend, t);
        addon.bceLogitsGrad(f32(logits!), f32(x!), f32(dy!), f32(dl), f32(dx), n, d);
        return [dl, dx];
      },
    });
  }
  if (!tf.getKernel(SOFTMAX_XENT, 'wasm')) {
    tf.registerKernel({
      kernelName: SOFTMAX_XENT,
      backendName: 'wasm',
      kernelFunc: (args) => {
        const { logits, labels } = args.inputs as { logits: tf.TensorInfo; labels: tf.TensorInfo };
        const backend = args.backend;
        const [n, v] = logits.shape as [number, number];
        const loss = makeOutput(backend, [n], 'float32');
        const lse = makeOutput(backend, [n], 'float32');
        const f32 = (t: tf.TensorInfo) => heapF32(backend, t);
        addon.softmaxXent(f32(logits), heapI32(backend, labels), f32(loss), f32(lse), n, v);
        return [loss, lse];
      },
    });
    tf.registerKernel({
      kernelName: SOFTMAX_XENT_GRAD,
      backendName: 'wasm',
      kernelFunc: (args) => {
        const { logits, labels, lse, dy } = args.inputs as Record<string, tf.TensorInfo>;
        const backend = args.backend;
        const [n, v] = logits!.shape as [number, number];
        const out = makeOutput(backend, [n, v], 'float32');
        const f32 = (t: tf.TensorInfo) => heapF32(backend, t);
        addon.softmaxXentGrad(f32(logits!), heapI32(backend, labels!), f32(lse!), f32(dy!), f32(out), n, v);
        return out;
      },
    });
  }
}
