/**
 * `Embedding`: a `Gather` from the table. With `maskZero` it also sets its output's mask as sequence
 * lengths (right padding: the count of non-zero ids, or the graph's `lengths` input when the converter
 * was given one), which the recurrent handlers read as `sequence_lens`.
 */
import { ExportError } from '../errors.js';
import { attr, DataType } from '../ir.js';
import { ALL_OPSETS, type LayerHandler } from './registry.js';

/** Handlers of the embedding family. */
export const embeddingHandlers: LayerHandler[] = [
  {
    className: 'Embedding',
    opsets: ALL_OPSETS,
    managesMask: true,
    convert: (ctx, layer, [x], call) => {
      const [table] = layer.getWeights();
      if (!table) throw new ExportError(`Embedding layer "${layer.name}" has no weights; build the model first.`);
      const w = ctx.addInitializer('embeddings', table.shape, table.dataSync() as Float32Array);
      // tfjs casts the ids to int32; float ids (tf.input's default dtype) are cast the same way.
      const known = ctx.elemTypeOf(x!);
      const ids = known === DataType.INT32 || known === DataType.INT64 ? x! : ctx.op('Cast', [x!], { to: attr.int(DataType.INT32) });
      const y = ctx.op('Gather', [w, ids], { axis: attr.int(0) });
      if (layer.getConfig().maskZero === true && (call.inputShapes[0]?.length ?? 0) === 2) {
        const lengths =
          ctx.lengthsInput ??
          ctx.op('ReduceSum', [ctx.op('Cast', [ctx.op('Not', [ctx.op('Equal', [ids, known === DataType.INT64 ? ctx.constInt64(0) : ctx.constInt32(0)])])], { to: attr.int(DataType.INT32) }), ctx.constInt64([1])], {
            keepdims: attr.int(0),
          });
        ctx.setMask(y, lengths);
      }
      return [y];
    },
  },
];
