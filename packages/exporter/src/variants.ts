/**
 * Measuring a weight-dtype variant (fp16 / int8 weights, made by passes/weight-dtype.ts) against the
 * fp32 export of the same graph: the worst error per output on the parity inputs, and the held-out
 * loss change when the caller gives an evaluator.
 */
import type * as tf from '@tensorflow/tfjs';
import type { VariantReport } from '@vaekit/core';
import type { ConvertResult } from './converter.js';
import { graphRunner, type GraphRunner } from './ort.js';
import { checkParity, type ParityOptions } from './parity.js';
import type { WeightDtype } from './passes/weight-dtype.js';

/**
 * Max abs error of each output of `variant` against the `fp32` conversion of the same model, run on
 * the same random inputs as the tfjs parity check (no tolerance: the numbers are reported, not judged).
 */
export async function variantErrorVsFp32(
  model: tf.LayersModel,
  fp32: ConvertResult,
  variant: ConvertResult,
  parity: Omit<ParityOptions, 'reference' | 'tolerance' | 'runtimes'>,
): Promise<Record<string, number>> {
  const report = await checkParity(model, variant.parityBytes, {
    ...parity,
    reference: fp32.parityBytes,
    tolerance: Number.POSITIVE_INFINITY,
    runtimes: ['node'],
  });
  return report.maxAbsError;
}

/** One graph of a bundle in fp32 and in the variant dtype, with its error against fp32. */
export interface MeasuredGraph {
  key: string;
  bytes: Uint8Array;
  fp32: Uint8Array;
  maxAbsErrorVsFp32?: Record<string, number>;
}

/**
 * The variant report of a bundle: sizes, the worst error per output against fp32, and the held-out
 * loss (computed by running the graphs, fp32 then variant) when `heldOutLoss` is given.
 */
export async function variantReport(
  graphs: readonly MeasuredGraph[],
  dtype: WeightDtype,
  profile: string,
  heldOutLoss?: (run: GraphRunner) => Promise<number>,
): Promise<VariantReport> {
  const errors: Record<string, number> = {};
  for (const g of graphs) for (const [out, e] of Object.entries(g.maxAbsErrorVsFp32 ?? {})) errors[`${g.key}.${out}`] = e;
  const report: VariantReport = {
    profile,
    dtype,
    bytes: graphs.reduce((n, g) => n + g.bytes.length, 0),
    fp32Bytes: graphs.reduce((n, g) => n + g.fp32.length, 0),
    maxAbsErrorVsFp32: errors,
  };
  if (heldOutLoss) {
    const evaluate = async (pick: 'bytes' | 'fp32') => {
      const runner = graphRunner(Object.fromEntries(graphs.map((g) => [g.key, g[pick]])));
      try {
        return await heldOutLoss(runner.run);
      } finally {
        await runner.release();
      }
    };
    const base = await evaluate('fp32');
    const variant = await evaluate('bytes');
    report.heldOutLoss = { fp32: base, variant };
    report.heldOutLossDelta = variant - base;
  }
  return report;
}
