/**
 * Fused recurrent layers on the native kernel library: a whole GRU or LSTM sequence, forward and
 * backward, as one kernel call each (with a custom gradient), instead of dozens of small tfjs ops per time
 * step. It is swapped in under tfjs-layers' own `GRU` and `LSTM` classes (their `call` method), so models
 * keep their class names, configs and weights: checkpoints stay standard `model.json` and the exporter
 * sees nothing new (`goBackwards` runs fused too, on time-reversed inputs). Whenever a layer uses a
 * feature the fused kernel does not implement (dropout, stateful, returnState, activations other than
 * tanh with hardSigmoid/sigmoid gates, another backend), the layer runs tfjs' own code path.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from './native.js';
import { heapF32, makeOutput } from './wasm-internals.js';

/** Kernel names registered on the WASM backend by {@link installNativeRnn}. */
export const RNN_FORWARD = 'VaekitRnnForward';
export const RNN_BACKWARD = 'VaekitRnnBackward';

const KIND = { GRU: 0, LSTM: 1 } as const;
const RECURRENT_ACTIVATION: Record<string, number> = { hardSigmoid: 0, sigmoid: 1 };

interface RnnAttrs {
  kind: number;
  act: number;
  seq: boolean;
  hasBias: boolean;
}

/** The tfjs-layers internals the fused path reads (not in the public typings). */
interface CellLike {
  units: number;
  useBias: boolean;
  dropout: number;
  recurrentDropout: number;
  activation: object;
  recurrentActivation: object;
  kernel: { read(): tf.Tensor };
  recurrentKernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
}
interface RnnLayerLike {
  cell: CellLike;
  returnSequences: boolean;
  returnState: boolean;
  goBackwards: boolean;
  stateful: boolean;
}
type CallKwargs = { mask?: tf.Tensor | tf.Tensor[] | null; initialState?: tf.Tensor[] | null; training?: boolean } | undefined;

const className = (o: object) => (o.constructor as { className?: string }).className;

// True once the kernels are registered; tests turn it off to compare with tfjs' own path.
let enabled = false;
/** The addon {@link installNativeRnn} was given (for {@link gruInference}). */
let installed: NativeAddon | undefined;

function registerKernels(addon: NativeAddon): void {
  if (tf.getKernel(RNN_FORWARD, 'wasm')) return;
  tf.registerKernel({
    kernelName: RNN_FORWARD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const be = backend;
      const a = attrs as unknown as RnnAttrs;
      const { x, kernel, recurrentKernel, bias, h0, c0, mask } = inputs as Record<string, tf.TensorInfo | undefined>;
      const [B, T, I] = x!.shape as [number, number, number];
      const H = h0!.shape[1]!;
      const G = a.kind === KIND.LSTM ? 4 : 3;
      // Allocate every output before taking heap views: allocation may grow (and detach) the heap.
      const y = makeOutput(be, a.seq ? [B, T, H] : [B, H], 'float32');
      const hLast = makeOutput(be, [B, H], 'float32');
      const ws = makeOutput(be, [B, T, G * H], 'float32');
      const hp = makeOutput(be, [B, T, H], 'float32');
      const aux = makeOutput(be, [B, T, H], 'float32');
      const cLast = a.kind === KIND.LSTM ? makeOutput(be, [B, H], 'float32') : undefined;
      const view = (t: tf.TensorInfo | undefined) => (t ? heapF32(be, t) : null);
      addon.rnnForward(a.kind, a.act, a.seq ? 1 : 0, B, T, I, H, view(x)!, view(kernel)!, view(recurrentKernel)!, view(bias),
        view(h0)!, view(c0), view(mask), view(y)!, view(hLast)!, view(cLast), view(ws)!, view(hp)!, view(aux)!);
      return cLast ? [y, hLast, ws, hp, aux, cLast] : [y, hLast, ws, hp, aux];
    },
  });
  tf.registerKernel({
    kernelName: RNN_BACKWARD,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const be = backend;
      const a = attrs as unknown as RnnAttrs;
      const { x, kernel, recurrentKernel, mask, ws, hp, aux, dy } = inputs as Record<string, tf.TensorInfo | undefined>;
      const [B, T, I] = x!.shape as [number, number, number];
      const H = hp!.shape[2]!;
      const G = a.kind === KIND.LSTM ? 4 : 3;
      const dx = makeOutput(be, [B, T, I], 'float32');
      const dW = makeOutput(be, [I, G * H], 'float32');
      const dU = makeOutput(be, [H, G * H], 'float32');
      const db = a.hasBias ? makeOutput(be, [G * H], 'float32') : undefined;
      const dh0 = makeOutput(be, [B, H], 'float32');
      const dc0 = a.kind === KIND.LSTM ? makeOutput(be, [B, H], 'float32') : undefined;
      const view = (t: tf.TensorInfo | undefined) => (t ? heapF32(be, t) : null);
      addon.rnnBackward(a.kind, a.act, a.seq ? 1 : 0, B, T, I, H, view(x)!, view(kernel)!, view(recurrentKernel)!, view(mask),
        view(ws)!, view(hp)!, view(aux)!, view(dy)!, view(dx)!, view(dW)!, view(dU)!, view(db), view(dh0)!, view(dc0));
      return [dx, dW, dU, ...(db ? [db] : []), dh0, ...(dc0 ? [dc0] : [])];
    },
  });
}

interface Plan {
  kind: number;
  act: number;
  x: tf.Tensor3D;
  initial: tf.Tensor2D[] | undefined;
  mask: tf.Tensor | undefined;
}

/** Decides whether the fused kernel implements this call exactly; undefined sends it to tfjs' code. */
function planCall(layer: RnnLayerLike, kind: number, inputs: tf.Tensor | tf.Tensor[], kwargs: CallKwargs): Plan | undefined {
  if (!enabled || tf.getBackend() !== 'wasm') return undefined;
  if (layer.stateful || layer.returnState) return undefined;
  const cell = layer.cell;
  const act = RECURRENT_ACTIVATION[className(cell.recurrentActivation) ?? ''];
  if (act === undefined || className(cell.activation) !== 'tanh') return undefined;
  if ((cell.dropout > 0 && cell.dropout < 1) || (cell.recurrentDropout > 0 && cell.recurrentDropout < 1)) return undefined;
  const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
  if (!x || x.rank !== 3 || x.dtype !== 'float32') return undefined;
  const [B, T] = x.shape as [number, number, number];
  const H = cell.units;
  const initial = kwargs?.initialState ?? undefined;
  if (initial) {
    if (initial.length !== (kind === KIND.LSTM ? 2 : 1)) return undefined;
    if (!initial.every((s) => s.dtype === 'float32' && s.rank === 2 && s.shape[0] === B && s.shape[1] === H)) return undefined;
  }
  let mask = kwargs?.mask ?? undefined;
  if (Array.isArray(mask)) mask = mask.length === 1 ? mask[0] : undefined;
  if (mask && !(mask.size === B * T && mask.shape[0] === B && mask.shape[1] === T)) return undefined;
  return { kind, act, x: x as tf.Tensor3D, initial: initial as tf.Tensor2D[] | undefined, mask: mask ?? undefined };
}

function fusedCall(layer: RnnLayerLike, plan: Plan): tf.Tensor {
  const { kind, act } = plan;
  // tfjs' goBackwards reverses the inputs and the mask in time and returns the outputs in that reversed
  // order (Bidirectional turns them back); the same reversal around the fused kernel is exact.
  const x = layer.goBackwards ? (tf.reverse(plan.x, 1) as tf.Tensor3D) : plan.x;
  const cell = layer.cell;
  const [B, T] = x.shape;
  const H = cell.units;
  const seq = layer.returnSequences;
  const kernel = cell.kernel.read();
  const recurrentKernel = cell.recurrentKernel.read();
  const bias = cell.useBias && cell.bias ? cell.bias.read() : undefined;
  const h0 = plan.initial?.[0] ?? tf.zeros([B, H]);
  const c0 = kind === KIND.LSTM ? (plan.initial?.[1] ?? tf.zeros([B, H])) : undefined;
  // tfjs-layers casts the mask to bool, then float (any non-zero keeps the step).
  const forwardMask = plan.mask ? tf.cast(tf.cast(plan.mask, 'bool'), 'float32').reshape([B, T]) : undefined;
  const mask = forwardMask && layer.goBackwards ? tf.reverse(forwardMask, 1) : forwardMask;
  const attrs = { kind, act, seq, hasBias: bias !== undefined };
  const args: tf.Tensor[] = [x, kernel, recurrentKernel, ...(bias ? [bias] : []), h0, ...(c0 ? [c0] : []), ...(mask ? [mask] : [])];
  const run = tf.customGrad((...all: unknown[]) => {
    const save = all.pop() as tf.GradSaveFunc;
    const inputs: tf.NamedTensorMap = { x, kernel, recurrentKernel, h0 };
    if (bias) inputs.bias = bias;
    if (c0) inputs.c0 = c0;
    if (mask) inputs.mask = mask;
    const outs = tf.engine().runKernel(RNN_FORWARD, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    const [y, hLast, ws, hp, aux, cLast] = outs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor?];
    // Everything the backward kernel reads must be saved: the closure's tensors (the float mask, x) may
    // be disposed by the time gradients run.
    save([ws, hp, aux, x, kernel, recurrentKernel, ...(mask ? [mask] : [])]);
    tf.dispose([hLast, ...(cLast ? [cLast] : [])]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sws, shp, saux, sx, sk, srk, smask] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor?];
        const back: tf.NamedTensorMap = { x: sx, kernel: sk, recurrentKernel: srk, ws: sws, hp: shp, aux: saux, dy: dy as tf.Tensor };
        if (smask) back.mask = smask;
        const g = tf.engine().runKernel(RNN_BACKWARD, back, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        let i = 0;
        const dx = g[i++]!, dW = g[i++]!, dU = g[i++]!;
        const db = bias ? g[i++]! : undefined;
        const dh0 = g[i++]!;
        const dc0 = c0 ? g[i++]! : undefined;
        return [dx, dW, dU, ...(db ? [db] : []), dh0, ...(dc0 ? [dc0] : []), ...(smask ? [tf.zerosLike(smask)] : [])];
      },
    };
  });
  return run(...args);
}

/** Recurrent layer classes of tfjs-layers, from its serialization registry. */
function layerClass(name: 'GRU' | 'LSTM'): { prototype: { call(inputs: unknown, kwargs: unknown): unknown } } {
  const map = tf.serialization.SerializationMap.getMap().classNameMap as Record<string, [unknown, unknown]>;
  const entry = map[name];
  if (!entry) throw new Error(`tfjs-layers has no registered ${name} class`);
  return entry[0] as { prototype: { call(inputs: unknown, kwargs: unknown): unknown } };
}

let patched = false;
let fusedCalls = 0;

/** How many recurrent layer calls ran fused so far (tests check that the fast path really ran). */
export function nativeRnnCallCount(): number {
  return fusedCalls;
}

/**
 * Registers the fused recurrent kernels on the WASM backend and routes tfjs-layers' `GRU` and `LSTM`
 * layers through them while that backend is active. Idempotent.
 */
export function installNativeRnn(addon: NativeAddon): void {
  registerKernels(addon);
  installed = addon;
  enabled = true;
  if (patched) return;
  patched = true;
  for (const [name, kind] of [['GRU', KIND.GRU], ['LSTM', KIND.LSTM]] as const) {
    const proto = layerClass(name).prototype;
    const original = proto.call;
    proto.call = function (this: RnnLayerLike, inputs: unknown, kwargs: unknown) {
      const plan = planCall(this, kind, inputs as tf.Tensor | tf.Tensor[], kwargs as CallKwargs);
      if (!plan) return original.call(this, inputs, kwargs);
      fusedCalls++;
      return tf.tidy(() => fusedCall(this, plan));
    };
  }
}

/**
 * Turns the routing of recurrent layers to the native kernels off and on again after
 * {@link installNativeRnn} (tests compare both paths in one process).
 */
export function setNativeRnnEnabled(on: boolean): void {
  enabled = on && tf.getKernel(RNN_FORWARD, 'wasm') !== undefined;
}

let inferCalls = 0;

/** How many times {@link gruInference} ran natively (tests check that the fast path really ran). */
export function nativeGruInferenceCallCount(): number {
  return inferCalls;
}

/**
 * A GRU layer's outputs at every step, `[B, T, H]` row-major, for inputs `x [B, T, I]` and initial state
 * `h0 [B, H]` (plain arrays), computed by the addon's forward-only GRU (native/src/gru_infer.cc: threads
 * over rows, vectorised gates, nothing kept for a gradient): evaluation only. Undefined, so the caller
 * runs the layer itself, when the native kernels are off or the layer is not a plain GRU (returning
 * sequences, forwards, not stateful, tanh with hardSigmoid or sigmoid gates).
 */
export function gruInference(layer: tf.layers.Layer, x: Float32Array, h0: Float32Array, B: number, T: number): Float32Array | undefined {
  if (!enabled) return undefined;
  const addon = installed;
  if (typeof addon?.gruInfer !== 'function' || layer.getClassName() !== 'GRU') return undefined;
  const l = layer as unknown as RnnLayerLike;
  if (!l.returnSequences || l.goBackwards || l.stateful || l.returnState) return undefined;
  const cell = l.cell;
  const act = RECURRENT_ACTIVATION[className(cell.recurrentActivation) ?? ''];
  if (act === undefined || className(cell.activation) !== 'tanh') return undefined;
  const H = cell.units;
  const I = x.length / (B * T);
  if (!Number.isInteger(I) || h0.length !== B * H) return undefined;
  const w = cell.kernel.read().dataSync() as Float32Array;
  const u = cell.recurrentKernel.read().dataSync() as Float32Array;
  const bias = cell.useBias && cell.bias ? (cell.bias.read().dataSync() as Float32Array) : null;
  const y = new Float32Array(B * T * H);
  addon.gruInfer(act, B, T, I, H, x, w, u, bias, h0, y);
  inferCalls++;
  return y;
}
