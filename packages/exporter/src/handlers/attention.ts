/**
 * The seq2seq kind's custom layers (defined in the trainer, `models/attention.ts`; the exporter reads
 * only their class name, config and weights):
 *
 * - `VaekitAttention` `[query [B,T,H] | [B,H], keys [B,S,D], mask [B,S]] -> [context, weights]`:
 *   additive `v^T tanh(q Wq + k Wk)` or multiplicative `q W k^T` scores, `(1 - mask) * -1e9` added,
 *   Softmax over S, context = weights x keys. A rank-2 query is unsqueezed to one step and squeezed back.
 * - `VaekitSequenceMask` `tokens -> float(tokens != 0)`;
 * - `VaekitMaskedMean` `[x, mask] -> sum_s x * mask / max(sum_s mask, 1)`;
 * - `VaekitGaussianSample` `[mu, logvar, eps] -> mu + exp(logvar / 2) * eps`.
 *
 * The attention, mask and sample use only ops of WebGL's set (MatMul, Add, Mul, Sub, Tanh, Softmax, Exp,
 * Unsqueeze, Squeeze, Transpose, Div, Cast, Greater, Abs); the masked mean's ReduceSum and Max are not
 * in it, so the `webgl` profile writes its sums as products with the mask.
 */
import { ExportError } from '../errors.js';
import { DataType, attr, type ConversionContext } from '../ir.js';
import { ALL_OPSETS, configString, type LayerHandler } from './registry.js';

/** Added to the scores of padded keys (the same constant as the trainer's layer). */
const MASKED_SCORE = -1e9;

function unsqueeze(ctx: ConversionContext, x: string, axis: number): string {
  return ctx.op('Unsqueeze', [x, ctx.constInt64([axis])]);
}

function squeeze(ctx: ConversionContext, x: string, axis: number): string {
  return ctx.op('Squeeze', [x, ctx.constInt64([axis])]);
}

function weight(ctx: ConversionContext, layer: { name: string; getWeights(): Array<{ shape: number[]; dataSync(): unknown }> }, index: number, base: string): string {
  const w = layer.getWeights()[index];
  if (!w) throw new ExportError(`Attention layer "${layer.name}" has no weights; build the model first.`);
  return ctx.addInitializer(base, w.shape, w.dataSync() as Float32Array);
}

/** Handlers of the seq2seq kind's layers. */
export const attentionHandlers: LayerHandler[] = [
  {
    className: 'VaekitAttention',
    opsets: ALL_OPSETS,
    managesMask: true,
    check: (layer) => {
      const score = configString(layer.getConfig(), 'score', '');
      return score === 'additive' || score === 'multiplicative' ? undefined : `unknown attention score "${score}" (additive or multiplicative)`;
    },
    convert: (ctx, layer, [query, keys, mask], call) => {
      const rank2 = (call.inputShapes[0]?.length ?? 3) === 2;
      const q = rank2 ? unsqueeze(ctx, query!, 1) : query!;
      let scores: string;
      if (configString(layer.getConfig(), 'score', '') === 'additive') {
        const qa = ctx.op('MatMul', [q, weight(ctx, layer, 0, 'query_kernel')]); // [B,T,A]
        const ka = ctx.op('MatMul', [keys!, weight(ctx, layer, 1, 'key_kernel')]); // [B,S,A]
        const e = ctx.op('Tanh', [ctx.op('Add', [unsqueeze(ctx, qa, 2), unsqueeze(ctx, ka, 1)])]); // [B,T,S,A]
        scores = squeeze(ctx, ctx.op('MatMul', [e, weight(ctx, layer, 2, 'score_vector')]), 3); // [B,T,S]
      } else {
        const qw = ctx.op('MatMul', [q, weight(ctx, layer, 0, 'kernel')]); // [B,T,D]
        scores = ctx.op('MatMul', [qw, ctx.op('Transpose', [keys!], { perm: attr.ints([0, 2, 1]) })]);
      }
      const penalty = unsqueeze(ctx, ctx.op('Mul', [ctx.op('Sub', [ctx.constFloat(1), mask!]), ctx.constFloat(MASKED_SCORE)]), 1);
      const weights = ctx.op('Softmax', [ctx.op('Add', [scores, penalty])], { axis: attr.int(-1) });
      const context = ctx.op('MatMul', [weights, keys!]);
      return rank2 ? [squeeze(ctx, context, 1), squeeze(ctx, weights, 1)] : [context, weights];
    },
  },
  {
    className: 'VaekitSequenceMask',
    opsets: ALL_OPSETS,
    managesMask: true,
    convert: (ctx, _layer, [tokens]) => {
      const asFloat = ctx.op('Cast', [tokens!], { to: attr.int(DataType.FLOAT) });
      return [ctx.op('Cast', [ctx.op('Greater', [ctx.op('Abs', [asFloat]), ctx.constFloat(0)])], { to: attr.int(DataType.FLOAT) })];
    },
  },
  {
    className: 'VaekitMaskedMean',
    opsets: ALL_OPSETS,
    managesMask: true,
    convert: (ctx, _layer, [x, mask], call) => {
      if (ctx.profile === 'webgl') {
        // WebGL has neither ReduceSum nor Max: the sums as products with the mask (S is static in this
        // profile), max(count, 1) as relu(count - 1) + 1.
        const S = call.inputShapes[1]?.[1];
        if (typeof S !== 'number') throw new ExportError('The webgl profile needs a static source length for the masked mean.');
        const sum = squeeze(ctx, ctx.op('MatMul', [unsqueeze(ctx, mask!, 1), x!]), 1); // [B,D]
        const total = ctx.op('MatMul', [mask!, ctx.addInitializer('masked_mean_ones', [S, 1], new Float32Array(S).fill(1))]); // [B,1]
        const count = ctx.op('Add', [ctx.op('Relu', [ctx.op('Sub', [total, ctx.constFloat(1)])]), ctx.constFloat(1)]);
        return [ctx.op('Div', [sum, count])];
      }
      const sum = ctx.reduce('ReduceSum', ctx.op('Mul', [x!, unsqueeze(ctx, mask!, 2)]), [1], false);
      const count = ctx.op('Max', [ctx.reduce('ReduceSum', mask!, [1], true), ctx.constFloat(1)]);
      return [ctx.op('Div', [sum, count])];
    },
  },
  {
    className: 'VaekitGaussianSample',
    opsets: ALL_OPSETS,
    managesMask: true,
    convert: (ctx, _layer, [mu, logvar, eps]) => [
      ctx.op('Add', [mu!, ctx.op('Mul', [ctx.op('Exp', [ctx.op('Mul', [logvar!, ctx.constFloat(0.5)])]), eps!])]),
    ],
  },
];
