/**
 * Held-out losses computed by running a bundle's ONNX graphs (not tfjs), so the fp32 export and a
 * compressed variant can be compared on the same data. Both use z = mu (the posterior mean), which
 * makes the number deterministic: reconstruction at the mean plus the closed-form KL, per example.
 */
import { IMAGE_MODEL, TEXT_MODEL, stateOutputName } from '@vaekit/core';
import type { GraphRunner } from './ort.js';

const IG = IMAGE_MODEL.graphs;
const TG = TEXT_MODEL.graphs;

function klPerRow(mu: Float32Array, logvar: Float32Array, rows: number): number[] {
  const z = mu.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let kl = 0;
    for (let j = r * z; j < (r + 1) * z; j++) kl += -0.5 * (1 + logvar[j]! - mu[j]! * mu[j]! - Math.exp(logvar[j]!));
    return kl;
  });
}

/**
 * Mean per-image loss of an image bundle on `images` (rows of pixels in [0, 1]): Bernoulli
 * reconstruction (binary cross-entropy with logits, summed over pixels) at z = mu, plus KL.
 */
export function imageHeldOutLoss(images: Float32Array[], batch = 256): (run: GraphRunner) => Promise<number> {
  return async (run) => {
    let total = 0;
    for (let start = 0; start < images.length; start += batch) {
      const rows = images.slice(start, start + batch);
      const width = rows[0]!.length;
      const x = new Float32Array(rows.length * width);
      rows.forEach((r, i) => x.set(r, i * width));
      const enc = await run('encoder', { [IG.encoder.inputs.x]: { dtype: 'float32', data: x, shape: [rows.length, width] } });
      const mu = enc[IG.encoder.outputs.mu]!.data;
      const dec = await run('decoder', { [IG.decoder.inputs.z]: { dtype: 'float32', data: mu, shape: [rows.length, mu.length / rows.length] } });
      const logits = dec[IG.decoder.outputs.logits]!.data;
      const kl = klPerRow(mu, enc[IG.encoder.outputs.logvar]!.data, rows.length);
      for (let i = 0; i < x.length; i++) {
        const l = logits[i]!;
        // BCE with logits, stable form: max(l, 0) - l x + log(1 + exp(-|l|)).
        total += Math.max(l, 0) - l * x[i]! + Math.log1p(Math.exp(-Math.abs(l)));
      }
      total += kl.reduce((a, b) => a + b, 0);
    }
    return total / images.length;
  };
}

/** Special token ids a text evaluation needs. */
export interface TextIds {
  bos: number;
  eos: number;
  pad: number;
}

/**
 * Mean per-sentence loss of a text bundle on `sentences` (token ids without `<bos>`/`<eos>`):
 * cross-entropy of the sentence and `<eos>` under the step graph fed the true previous tokens, at
 * z = mu from the encoder, plus KL.
 */
export function textHeldOutLoss(sentences: number[][], ids: TextIds, stateNames: string[]): (run: GraphRunner) => Promise<number> {
  return async (run) => {
    let total = 0;
    for (const sentence of sentences) {
      const target = [...sentence, ids.eos];
      const T = target.length;
      const enc = await run('encoder', {
        [TG.encoder.inputs.tokens]: { dtype: 'int32', data: Int32Array.from(target), shape: [1, T] },
        [TG.encoder.inputs.lengths]: { dtype: 'int32', data: Int32Array.from([T]), shape: [1] },
      });
      const mu = enc[TG.encoder.outputs.mu]!.data;
      const z = { dtype: 'float32' as const, data: mu, shape: [1, mu.length] };
      const init = await run('decoder_init', { [TG.decoderInit.inputs.z]: z });
      let state = Object.fromEntries(stateNames.map((s) => [s, { dtype: 'float32' as const, data: init[s]!.data, shape: init[s]!.dims }]));
      let prev = ids.bos;
      for (const next of target) {
        const out = await run('decoder_step', {
          [TG.decoderStep.inputs.token]: { dtype: 'int32', data: Int32Array.from([prev]), shape: [1] },
          [TG.decoderStep.inputs.z]: z,
          ...state,
        });
        const logits = out[TG.decoderStep.outputs.logits]!.data;
        let max = -Infinity;
        for (const v of logits) max = Math.max(max, v);
        let sum = 0;
        for (const v of logits) sum += Math.exp(v - max);
        total += max + Math.log(sum) - logits[next]!;
        state = Object.fromEntries(stateNames.map((s) => [s, { dtype: 'float32' as const, data: out[stateOutputName(s)]!.data, shape: out[stateOutputName(s)]!.dims }]));
        prev = next;
      }
      total += klPerRow(mu, enc[TG.encoder.outputs.logvar]!.data, 1)[0]!;
    }
    return total / sentences.length;
  };
}
