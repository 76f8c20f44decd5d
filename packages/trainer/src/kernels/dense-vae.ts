/**
 * The dense image VAE's whole training loss as one op with one gradient op, on the native kernel library:
 * encoder (dense ReLU layers, linear `mu` and `logvar` heads), reparameterisation, decoder (dense ReLU
 * layers, linear logits), Bernoulli NLL with logits and the closed-form KL, averaged over the batch as
 * `mean(reconstruction + beta * kl)`. Forward and backward each run the layers' products through the
 * native sgemm (bias and ReLU fused) and the small fused pieces of native/src/vae.cc, inside one tfjs
 * kernel each: a training step then records two tape nodes instead of ~160 small ops, copies and casts
 * (tfjs' per-op bookkeeping was most of the dense step's time).
 *
 * The op is differentiable with respect to the layers' weights only: the images and the noise are data
 * (no gradient is ever asked for them). It computes what `elboTerms` + `vaeLoss` compute with tfjs ops
 * (same formulas, float32; checked against them in native.test.ts on every instruction set).
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from './native.js';
import { heapF32, makeOutput, releaseOutput } from './wasm-internals.js';

/** Kernel names registered on WASM by {@link installNativeDenseVae}. */
export const DENSE_VAE = 'VaekitDenseVae';
export const DENSE_VAE_GRAD = 'VaekitDenseVaeGrad';

/**
 * The weights of a dense VAE, in the order the fused op takes them: for each encoder hidden layer its
 * kernel and bias, then `mu`'s and `logvar`'s, then each decoder hidden layer's, then the logits layer's.
 * Every hidden layer has a ReLU, the heads and the logits layer none.
 */
export interface DenseVaeParams {
  /** Kernels `[in, out]` and biases `[out]`, interleaved as above. */
  params: tf.Tensor[];
  /** Hidden layers of the encoder (the decoder's count is what remains). */
  encoderHidden: number;
}

interface Attrs {
  encoderHidden: number;
  beta: number;
}

/** Widths and workspace offsets shared by the forward and backward kernels. */
interface Layout {
  B: number;
  D: number;
  Z: number;
  /** Output widths of the encoder's hidden layers, then of the decoder's. */
  enc: number[];
  dec: number[];
  /** Offsets (floats) in the workspace. */
  encAct: number[];
  mu: number;
  lv: number;
  z: number;
  decAct: number[];
  logits: number;
  recon: number;
  kl: number;
  size: number;
  /** The widest layer (scratch rows of the backward pass). */
  widest: number;
}

function layout(B: number, D: number, Z: number, shapes: number[][], encoderHidden: number): Layout {
  const kernels = shapes.filter((_, i) => i % 2 === 0);
  const enc = kernels.slice(0, encoderHidden).map((s) => s[1]!);
  const dec = kernels.slice(encoderHidden + 2, -1).map((s) => s[1]!);
  let at = 0;
  const take = (n: number) => ((at += n), at - n);
  const encAct = enc.map((h) => take(B * h));
  const mu = take(B * Z);
  const lv = take(B * Z);
  const z = take(B * Z);
  const decAct = dec.map((h) => take(B * h));
  const logits = take(B * D);
  const recon = take(B);
  const kl = take(B);
  return { B, D, Z, enc, dec, encAct, mu, lv, z, decAct, logits, recon, kl, size: at, widest: Math.max(D, Z, ...enc, ...dec) };
}

const paramInputs = (params: tf.TensorInfo[] | tf.Tensor[]) => Object.fromEntries(params.map((p, i) => [`p${i}`, p]));

function registerKernels(addon: NativeAddon): void {
  if (tf.getKernel(DENSE_VAE, 'wasm')) return;
  // c[m,n] = a[m,k] b[k,n] (+ bias, ReLU), or with a or b read transposed.
  const mm = (a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, ta: 0 | 1, tb: 0 | 1,
    bias: Float32Array | null = null, relu = false) => addon.matmul(a, b, c, 1, m, n, k, ta, tb, 0, 0, bias, relu ? 1 : 0, 0);

  tf.registerKernel({
    kernelName: DENSE_VAE,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { encoderHidden, beta } = attrs as unknown as Attrs;
      const { x, eps } = inputs as Record<string, tf.TensorInfo>;
      const params = Object.keys(inputs).filter((k) => k.startsWith('p')).map((_, i) => inputs[`p${i}`]!);
      const [B, D] = x!.shape as [number, number];
      const Z = eps!.shape[1]!;
      const L = layout(B, D, Z, params.map((p) => p.shape), encoderHidden);
      // Allocate every output before taking heap views (growing the heap detaches earlier views).
      const loss = makeOutput(backend, [], 'float32');
      const sums = makeOutput(backend, [2], 'float32');
      const wsInfo = makeOutput(backend, [L.size], 'float32');
      const ws = heapF32(backend, wsInfo);
      const at = (off: number, n: number) => ws.subarray(off, off + n);
      const p = params.map((t) => heapF32(backend, t));
      const xv = heapF32(backend, x!);

      let inp = xv;
      let width = D;
      L.enc.forEach((h, i) => {
        const out = at(L.encAct[i]!, B * h);
        mm(inp, p[2 * i]!, out, B, h, width, 0, 0, p[2 * i + 1]!, true);
        inp = out;
        width = h;
      });
      const head = 2 * encoderHidden;
      const mu = at(L.mu, B * Z);
      const lv = at(L.lv, B * Z);
      const z = at(L.z, B * Z);
      mm(inp, p[head]!, mu, B, Z, width, 0, 0, p[head + 1]!);
      mm(inp, p[head + 2]!, lv, B, Z, width, 0, 0, p[head + 3]!);
      const kl = at(L.kl, B);
      addon.vaeLatent(mu, lv, heapF32(backend, eps!), z, kl, B, Z);
      inp = z;
      width = Z;
      const dec0 = head + 4;
      L.dec.forEach((h, i) => {
        const out = at(L.decAct[i]!, B * h);
        mm(inp, p[dec0 + 2 * i]!, out, B, h, width, 0, 0, p[dec0 + 2 * i + 1]!, true);
        inp = out;
        width = h;
      });
      const last = dec0 + 2 * L.dec.length;
      const logits = at(L.logits, B * D);
      mm(inp, p[last]!, logits, B, D, width, 0, 0, p[last + 1]!);
      const recon = at(L.recon, B);
      addon.bceLogits(logits, xv, recon, B, D);
      // mean(recon + beta * kl) in float32, as tfjs' mul / add / mean would round it.
      const f = Math.fround;
      const b32 = f(beta);
      let total = 0;
      let r = 0;
      let k = 0;
      for (let i = 0; i < B; i++) {
        total = f(total + f(recon[i]! + f(kl[i]! * b32)));
        r = f(r + recon[i]!);
        k = f(k + kl[i]!);
      }
      heapF32(backend, loss)[0] = f(total / B);
      heapF32(backend, sums).set([r, k]);
      return [loss, sums, wsInfo];
    },
  });

  tf.registerKernel({
    kernelName: DENSE_VAE_GRAD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { encoderHidden, beta } = attrs as unknown as Attrs;
      const { dy, x, eps, ws: wsIn } = inputs as Record<string, tf.TensorInfo>;
      const params = Object.keys(inputs).filter((k) => k.startsWith('p')).map((_, i) => inputs[`p${i}`]!);
      const [B, D] = x!.shape as [number, number];
      const Z = eps!.shape[1]!;
      const L = layout(B, D, Z, params.map((p) => p.shape), encoderHidden);
      const grads = params.map((t) => makeOutput(backend, t.shape, 'float32'));
      const scratchInfo = makeOutput(backend, [B * D + 2 * B * L.widest + 3 * B * Z], 'float32');
      try {
        const scratch = heapF32(backend, scratchInfo);
        let s = 0;
        const take = (n: number) => scratch.subarray(s, (s += n));
        const dlogits = take(B * D);
        let bufA = take(B * L.widest);
        let bufB = take(B * L.widest);
        const dz = take(B * Z);
        const dmu = take(B * Z);
        const dlv = take(B * Z);
        const ws = heapF32(backend, wsIn!);
        const at = (off: number, n: number) => ws.subarray(off, off + n);
        const p = params.map((t) => heapF32(backend, t));
        const g = grads.map((t) => heapF32(backend, t));
        const xv = heapF32(backend, x!);
        const f = Math.fround;
        const upstream = heapF32(backend, dy!)[0]!;
        // d loss / d recon[b] = upstream / B; d loss / d kl[b] = upstream * beta / B.
        const perRow = new Float32Array(B).fill(f(upstream / B));
        const klCoef = f(f(upstream * f(beta)) / B);

        // One dense layer backwards: d is the gradient at its pre-activation output [B, out]; writes the
        // kernel's and bias's gradients and, when asked, the gradient at its input [B, in].
        const dense = (layer: number, input: Float32Array, inWidth: number, d: Float32Array, outWidth: number, dInput?: Float32Array) => {
          mm(input, d, g[2 * layer]!, inWidth, outWidth, B, 1, 0);
          addon.sumLeading(d, g[2 * layer + 1]!, B, outWidth);
          if (dInput) mm(d, p[2 * layer]!, dInput, B, inWidth, outWidth, 0, 1);
        };

        addon.bceLogitsGrad(at(L.logits, B * D), xv, perRow, dlogits, null, B, D);
        // Decoder, from the logits layer down to z.
        const dec0 = 2 * encoderHidden + 4;
        const decLayers = L.dec.length;
        let d = dlogits;
        let outWidth = D;
        for (let j = decLayers; j >= 0; j--) {
          const layer = dec0 / 2 + j;
          const inWidth = j === 0 ? Z : L.dec[j - 1]!;
          const input = j === 0 ? at(L.z, B * Z) : at(L.decAct[j - 1]!, B * inWidth);
          if (j === 0) {
            dense(layer, input, inWidth, d, outWidth, dz);
          } else {
            const next = bufA.subarray(0, B * inWidth);
            dense(layer, input, inWidth, d, outWidth, next);
            addon.reluGrad(input, next, null, next, B * inWidth);
            d = next;
            [bufA, bufB] = [bufB, bufA];
          }
          outWidth = inWidth;
        }
        // Latent sample and KL, then the two heads.
        const mu = at(L.mu, B * Z);
        const lv = at(L.lv, B * Z);
        addon.vaeLatentGrad(mu, lv, heapF32(backend, eps!), dz, klCoef, dmu, dlv, B, Z);
        const head = encoderHidden;
        const hk = encoderHidden === 0 ? D : L.enc[encoderHidden - 1]!;
        const headInput = encoderHidden === 0 ? xv : at(L.encAct[encoderHidden - 1]!, B * hk);
        if (encoderHidden === 0) {
          dense(head, headInput, hk, dmu, Z);
          dense(head + 1, headInput, hk, dlv, Z);
          return grads;
        }
        const fromMu = bufA.subarray(0, B * hk);
        const fromLv = bufB.subarray(0, B * hk);
        dense(head, headInput, hk, dmu, Z, fromMu);
        dense(head + 1, headInput, hk, dlv, Z, fromLv);
        addon.reluGrad(headInput, fromMu, fromLv, fromMu, B * hk);
        d = fromMu;
        [bufA, bufB] = [bufB, bufA];
        // Encoder hidden layers, down to the first (no gradient for the images).
        outWidth = hk;
        for (let i = encoderHidden - 1; i >= 0; i--) {
          const inWidth = i === 0 ? D : L.enc[i - 1]!;
          const input = i === 0 ? xv : at(L.encAct[i - 1]!, B * inWidth);
          if (i === 0) {
            dense(i, input, inWidth, d, outWidth);
          } else {
            const next = bufA.subarray(0, B * inWidth);
            dense(i, input, inWidth, d, outWidth, next);
            addon.reluGrad(input, next, null, next, B * inWidth);
            d = next;
            [bufA, bufB] = [bufB, bufA];
          }
          outWidth = inWidth;
        }
        return grads;
      } finally {
        releaseOutput(backend, scratchInfo);
      }
    },
  });
}

let enabled = false;
let calls = 0;

/** How many times the fused loss op ran (tests check that the fast path really ran). */
export function nativeDenseVaeCallCount(): number {
  return calls;
}

/** Registers the fused dense VAE kernels on WASM. Idempotent. */
export function installNativeDenseVae(addon: NativeAddon): void {
  registerKernels(addon);
  enabled = true;
}

/** Turns the fused op off and on again after {@link installNativeDenseVae} (tests compare both paths). */
export function setNativeDenseVaeEnabled(on: boolean): void {
  enabled = on && tf.getKernel(DENSE_VAE, 'wasm') !== undefined;
}

/** Whether {@link denseVaeLossNative} can run now (WASM backend active, the native kernels registered). */
export function nativeDenseVaeAvailable(): boolean {
  return enabled && tf.getBackend() === 'wasm' && tf.getKernel(DENSE_VAE, 'wasm') !== undefined;
}

/**
 * The dense VAE's training loss `mean(reconstruction + beta * kl)` for images `x [B, D]` (values in
 * [0, 1]) and noise `eps [B, Z]`, with gradients for `weights.params`; also the batch's summed
 * reconstruction and KL as `sums [2]` (kept: the caller disposes it). Call only when
 * {@link nativeDenseVaeAvailable}; every tensor float32.
 */
export function denseVaeLossNative(weights: DenseVaeParams, x: tf.Tensor2D, eps: tf.Tensor2D, beta: number): { loss: tf.Scalar; sums: tf.Tensor1D } {
  const attrs = { encoderHidden: weights.encoderHidden, beta } as unknown as tf.NamedAttrMap;
  calls++;
  let sums: tf.Tensor1D | undefined;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const params = args as tf.Tensor[];
    const [loss, s, ws] = tf.engine().runKernel(DENSE_VAE, { x, eps, ...paramInputs(params) }, attrs) as tf.Tensor[];
    sums = tf.keep(s as tf.Tensor1D);
    save([ws!, x, eps]);
    return {
      value: loss!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sws, sx, seps] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.engine().runKernel(DENSE_VAE_GRAD, { dy: dy as tf.Tensor, x: sx, eps: seps, ws: sws, ...paramInputs(params) }, attrs) as tf.Tensor[];
      },
    };
  });
  const loss = op(...weights.params) as tf.Scalar;
  return { loss, sums: sums! };
}
