/**
 * Token negative log-likelihood through a sentence decoder's output layer, for evaluation: for the
 * decoder outputs `y [*, H]` (rows picked by index), the logits layer's kernel `[H, V]` and bias `[V]`,
 * `nll[i] = logsumexp(y_i W + b) - (y_i W + b)[label_i]`, as one native call that never stores the
 * `[N, V]` logits (native/src/nll.cc: the product blocked in cache, each block folded at once into a
 * running log-sum-exp, rows spread over the kernels' threads). No gradient: the importance-weighted
 * bound of `vaekit eval` decodes each test sentence K times and this product is nearly all of its work.
 * Checked against the matrix product + softmax cross-entropy kernels in native.test.ts on every
 * instruction set.
 */
import { loadNative } from './native.js';

let enabled = true;
let calls = 0;

/** Whether {@link logitsNll} can run (the native kernels are loaded and carry it, and it is not turned off). */
export function nativeLogitsNllAvailable(): boolean {
  if (!enabled) return false;
  const { addon } = loadNative();
  return typeof addon?.logitsNll === 'function';
}

/** Turns the native path off and on again (tests compare it with the tfjs path). */
export function setNativeLogitsNllEnabled(on: boolean): void {
  enabled = on;
}

/** How many times {@link logitsNll} ran (tests check that the fast path really ran). */
export function nativeLogitsNllCallCount(): number {
  return calls;
}

/**
 * `nll[i]` for the rows `rows[i]` of `y` (`[*, H]`, row-major) and targets `labels[i]` (a label outside
 * `[0, V)` selects nothing: the loss is the log-partition). `kernel` is `[H, V]` row-major. Call only
 * when {@link nativeLogitsNllAvailable}.
 */
export function logitsNll(y: Float32Array, rows: Int32Array, labels: Int32Array, kernel: Float32Array, bias: Float32Array, H: number, V: number): Float32Array {
  const { addon } = loadNative();
  if (!addon) throw new Error('logitsNll: the native kernels are not loaded');
  if (rows.length !== labels.length) throw new Error(`logitsNll: ${rows.length} rows but ${labels.length} labels`);
  calls++;
  const nll = new Float32Array(rows.length);
  addon.logitsNll(y, rows, labels, kernel, bias, nll, rows.length, H, V);
  return nll;
}
