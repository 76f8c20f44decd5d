/** Pure latent-space helpers shared by every platform. */
import { InputError } from './errors.js';
import { createRng } from '@vaekit/core';
import type { InterpolationMethod } from './types.js';

/** `n` vectors of N(0, temperature^2 I) from a seeded RNG. */
export function samplePrior(n: number, size: number, seed: number, temperature = 1): Float32Array[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: size }, () => rng.normal() * temperature));
}

/**
 * Points from `a` to `b` (both included). `slerp` interpolates along the great circle between the
 * two directions while interpolating the norm linearly; it falls back to linear for parallel vectors.
 */
export function interpolateLatent(a: Float32Array, b: Float32Array, steps: number, method: InterpolationMethod = 'linear'): Float32Array[] {
  if (a.length !== b.length) throw new InputError(`Cannot interpolate vectors of lengths ${a.length} and ${b.length}.`);
  if (!Number.isInteger(steps) || steps < 2 || steps > 10_000) {
    throw new InputError(`steps must be an integer from 2 to 10000, got ${steps}.`);
  }
  if (method !== 'linear' && method !== 'slerp') {
    throw new InputError(`Unsupported interpolation method "${String(method)}". Should be one of: linear, slerp.`);
  }
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const na = norm(a);
  const nb = norm(b);
  let omega = 0;
  if (method === 'slerp' && na > 0 && nb > 0) {
    let dot = 0;
    for (let i = 0; i < a.length; i++) dot += (a[i]! / na) * (b[i]! / nb);
    omega = Math.acos(Math.min(1, Math.max(-1, dot)));
  }
  return Array.from({ length: steps }, (_, s) => {
    const t = s / (steps - 1);
    const out = new Float32Array(a.length);
    if (omega > 1e-6) {
      const wa = Math.sin((1 - t) * omega) / Math.sin(omega);
      const wb = Math.sin(t * omega) / Math.sin(omega);
      const scale = ((1 - t) * na + t * nb);
      for (let i = 0; i < a.length; i++) out[i] = scale * (wa * (a[i]! / na) + wb * (b[i]! / nb));
    } else {
      for (let i = 0; i < a.length; i++) out[i] = (1 - t) * a[i]! + t * b[i]!;
    }
    return out;
  });
}
