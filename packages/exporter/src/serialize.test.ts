import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { convertLayersModel } from './converter.js';
import { OnnxFormatError } from './errors.js';
import { ConversionContext, DataType, type IrGraph } from './ir.js';
import { cancelTransposes, optimizeGraph } from './passes/optimize.js';
import { decodeModel, serializeModel } from './serialize.js';
import { chain, initTf } from './test-helpers.js';

before(initTf);

function sample(): Uint8Array {
  const model = chain(
    [6],
    tf.layers.dense({ units: 5, activation: 'relu' }),
    tf.layers.reshape({ targetShape: [5, 1] }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 3, name: 'out' }),
  );
  return convertLayersModel(model, { inputNames: ['x'], outputNames: ['y'], metadata: { k: 'v' } }).bytes;
}

test('decodeModel summarises what convertLayersModel wrote', () => {
  const s = decodeModel(sample());
  assert.equal(s.irVersion, 8);
  assert.deepEqual(s.opsetImport, [{ domain: '', version: 17 }]);
  assert.deepEqual(s.inputs, [{ name: 'x', elemType: 'float32', shape: ['batch', 6] }]);
  assert.deepEqual(s.outputs, [{ name: 'y', elemType: 'float32', shape: ['batch', 3] }]);
  // Dense on a rank-2 input is one Gemm (MatMul + Add fused).
  assert.deepEqual(s.opHistogram, { Gemm: 2, Relu: 1, Constant: 1, Reshape: 1, Flatten: 1 });
  assert.equal(s.parameterCount, 6 * 5 + 5 + 5 * 3 + 3);
  assert.equal(s.initializerBytes, 4 * s.parameterCount);
  assert.equal(s.metadata.k, 'v');
});

test('decodeModel rejects truncated bytes with OnnxFormatError', () => {
  const bytes = sample();
  const cuts = [1, 2, 10, Math.floor(bytes.length / 3), Math.floor(bytes.length / 2), bytes.length - 40, bytes.length - 1];
  for (const n of cuts) {
    assert.throws(
      () => decodeModel(bytes.subarray(0, n)),
      (err: unknown) => err instanceof OnnxFormatError && /Not (a valid ONNX model|an ONNX model)/.test(err.message),
      `truncated to ${n} of ${bytes.length} bytes`,
    );
  }
});

test('decodeModel rejects empty and random bytes', () => {
  assert.throws(() => decodeModel(new Uint8Array()), OnnxFormatError);
  const noise = Uint8Array.from({ length: 256 }, (_, i) => (i * 7919 + 13) % 251);
  assert.throws(() => decodeModel(noise), OnnxFormatError);
  assert.throws(() => decodeModel(new TextEncoder().encode('{"not": "onnx"}')), OnnxFormatError);
});

test('initializers are little-endian raw_data and int64 constants round-trip through the schema', () => {
  const ctx = new ConversionContext(17);
  ctx.reserve('x', 'y');
  const w = ctx.addInitializer('w', [2], Float32Array.from([1.5, -2]));
  const shape = ctx.constInt64([0, -1]);
  const r = ctx.op('Reshape', [ctx.op('Mul', ['x', w]), shape]);
  const graph: IrGraph = {
    name: 'g',
    nodes: ctx.nodes,
    initializers: ctx.initializers,
    inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', 2] }],
    outputs: [{ name: r, elemType: DataType.FLOAT, shape: ['batch', 2] }],
  };
  const bytes = serializeModel({ irVersion: 8, opset: 17, producerName: 'p', producerVersion: '1', metadata: {}, graph });
  // float32 1.5 little-endian is 00 00 c0 3f; -1 as int64 is eight ff bytes.
  const hex = Buffer.from(bytes).toString('hex');
  assert.ok(hex.includes('0000c03f000000c0'), 'raw_data of w');
  assert.ok(hex.includes('0000000000000000ffffffffffffffff'), 'raw_data of the shape constant');
  assert.equal(decodeModel(bytes).parameterCount, 2);
});

test('cancelTransposes removes inverse pairs only', () => {
  const ctx = new ConversionContext(17);
  ctx.reserve('x');
  const a = ctx.op('Transpose', ['x'], { perm: { kind: 'ints', value: [0, 3, 1, 2] } });
  const b = ctx.op('Transpose', [a], { perm: { kind: 'ints', value: [0, 2, 3, 1] } });
  const c = ctx.op('Relu', [b]);
  const d = ctx.op('Transpose', [c], { perm: { kind: 'ints', value: [0, 3, 1, 2] } });
  const e = ctx.op('Transpose', [d], { perm: { kind: 'ints', value: [0, 3, 1, 2] } });
  const graph: IrGraph = {
    name: 'g',
    nodes: ctx.nodes,
    initializers: [],
    inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: [1, 2, 3, 4] }],
    outputs: [{ name: e, elemType: DataType.FLOAT, shape: [1, 2, 3, 4] }],
  };
  assert.equal(cancelTransposes(graph), 1);
  optimizeGraph(graph);
  assert.deepEqual(graph.nodes.map((n) => n.opType), ['Relu', 'Transpose', 'Transpose']);
  assert.deepEqual(graph.nodes[0]!.inputs, ['x']);
});
