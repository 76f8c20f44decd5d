import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { describe, test } from 'node:test';
import { DataType, attr, type IrModel } from '../ir.js';
import { foldConstants, optimizeGraph } from './optimize.js';
import { serializeModel } from '../serialize.js';

describe('optimizer', () => {
  test('folds constant Transpose, Unsqueeze, Concat, Cast, Reshape chains into one initializer with the same values', async () => {
    const w = Float32Array.from({ length: 6 }, (_, i) => i + 1); // [2,3]
    const model: IrModel = {
      irVersion: 8,
      opset: 17,
      producerName: 't',
      producerVersion: '0',
      metadata: {},
      graph: {
        name: 'g',
        inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', 2] }],
        outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: ['batch', 6] }],
        initializers: [
          { name: 'w', dataType: DataType.FLOAT, dims: [2, 3], data: w },
          { name: 'axes', dataType: DataType.INT64, dims: [1], data: BigInt64Array.from([0n]) },
          { name: 'shape', dataType: DataType.INT64, dims: [2], data: BigInt64Array.from([3n, -1n]) },
          { name: 'ints', dataType: DataType.INT32, dims: [3, 1], data: Int32Array.from([1, 2, 3]) },
        ],
        nodes: [
          { name: 't', opType: 'Transpose', domain: '', inputs: ['w'], outputs: ['wt'], attributes: { perm: attr.ints([1, 0]) } }, // [3,2]
          { name: 'c', opType: 'Cast', domain: '', inputs: ['ints'], outputs: ['f'], attributes: { to: attr.int(DataType.FLOAT) } }, // [3,1]
          { name: 'cat', opType: 'Concat', domain: '', inputs: ['wt', 'f'], outputs: ['wc'], attributes: { axis: attr.int(1) } }, // [3,3]
          { name: 'u', opType: 'Unsqueeze', domain: '', inputs: ['wc', 'axes'], outputs: ['wu'], attributes: {} }, // [1,3,3]
          { name: 'r', opType: 'Reshape', domain: '', inputs: ['wu', 'shape'], outputs: ['wr'], attributes: {} }, // [3,3]
          { name: 'r2', opType: 'Reshape', domain: '', inputs: ['wr', 'shape'], outputs: ['w2'], attributes: {} },
          { name: 'm', opType: 'MatMul', domain: '', inputs: ['x', 'w'], outputs: ['xw'], attributes: {} }, // [B,3]
          { name: 'm2', opType: 'MatMul', domain: '', inputs: ['xw', 'w2'], outputs: ['y3'], attributes: {} }, // [B,3]
          { name: 'cc', opType: 'Concat', domain: '', inputs: ['y3', 'y3'], outputs: ['y'], attributes: { axis: attr.int(1) } },
        ],
      },
    };
    const before = serializeModel(structuredClone(model));
    assert.ok(foldConstants(structuredClone(model).graph) >= 5);
    optimizeGraph(model.graph);
    assert.deepEqual(model.graph.nodes.map((n) => n.opType), ['MatMul', 'MatMul', 'Concat']);
    const folded = model.graph.initializers.find((t) => t.name === 'w2')!;
    assert.deepEqual(folded.dims, [3, 3]);
    assert.deepEqual([...folded.data], [1, 4, 1, 2, 5, 2, 3, 6, 3]);
    const x = new ort.Tensor('float32', Float32Array.from([0.5, -1, 2, 0.25]), [2, 2]);
    const run = async (bytes: Uint8Array) => {
      const s = await ort.InferenceSession.create(bytes);
      const out = (await s.run({ x })).y!.data as Float32Array;
      await s.release();
      return [...out];
    };
    assert.deepEqual(await run(serializeModel(model)), await run(before));
  });
});
