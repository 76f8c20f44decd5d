import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { BundleError } from './errors.js';
import { pruneOutputs } from './onnx-prune.js';

// A tiny ONNX model written field by field (onnx.proto numbers), so that the test needs no ONNX library:
// x -> Relu -> a -> Neg -> b;  x -> Abs -> c;  x + w -> d  (w an initializer).
const enc = new TextEncoder();
function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const bytes = (field: number, payload: number[] | Uint8Array): number[] => [...varint(field * 8 + 2), ...varint(payload.length), ...payload];
const str = (field: number, s: string) => bytes(field, enc.encode(s));
const int = (field: number, v: number) => [...varint(field * 8), ...varint(v)];
const valueInfo = (name: string) => [...str(1, name), ...bytes(2, bytes(1, [...int(1, 1), ...bytes(2, bytes(1, int(1, 2)))]))];
const node = (op: string, inputs: string[], outputs: string[]) => [...inputs.flatMap((i) => str(1, i)), ...outputs.flatMap((o) => str(2, o)), ...str(3, `${op}_${outputs[0]}`), ...str(4, op)];
const floats = (values: number[]) => [...new Uint8Array(new Float32Array(values).buffer)];

function tinyModel(extraNodes: number[][] = []): Uint8Array {
  const graph = [
    ...bytes(1, node('Relu', ['x'], ['a'])),
    ...bytes(1, node('Neg', ['a'], ['b'])),
    ...bytes(1, node('Abs', ['x'], ['c'])),
    ...bytes(1, node('Add', ['x', 'w'], ['d'])),
    ...extraNodes.flatMap((n) => bytes(1, n)),
    ...str(2, 'tiny'),
    ...bytes(5, [...int(1, 2), ...int(2, 1), ...bytes(4, floats([10, 20])), ...str(8, 'w')]),
    ...bytes(11, valueInfo('x')),
    ...['b', 'c', 'd'].flatMap((o) => bytes(12, valueInfo(o))),
  ];
  return new Uint8Array([...int(1, 8), ...str(2, 'test'), ...bytes(7, graph), ...bytes(8, [...str(1, ''), ...int(2, 17)])]);
}

async function run(model: Uint8Array, fetch?: string[]) {
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([-1, 2]), [2]) }, fetch);
  const result = { outputNames: session.outputNames, values: Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v.data as Float32Array)])) };
  await session.release();
  return result;
}

describe('pruneOutputs', () => {
  it('keeps the wanted outputs and their nodes; the pruned graph computes the same values', async () => {
    const model = tinyModel();
    const full = await run(model);
    assert.deepEqual(full.outputNames, ['b', 'c', 'd']);
    const pruned = pruneOutputs(model, ['b']);
    assert.ok(pruned.length < model.length);
    const only = await run(pruned);
    assert.deepEqual(only.outputNames, ['b']);
    assert.deepEqual(only.values.b, full.values.b);
    const two = await run(pruneOutputs(model, ['d', 'c']));
    assert.deepEqual(two.outputNames, ['c', 'd'], 'outputs keep the graph order');
    assert.deepEqual(two.values.d, [9, 22]);
  });

  it('leaves out initializers no kept node reads', () => {
    const model = tinyModel();
    const withW = pruneOutputs(model, ['d']);
    const withoutW = pruneOutputs(model, ['c']);
    assert.ok(withW.length - withoutW.length > 8, 'the two floats of w and their tensor header are gone');
  });

  it('returns the model itself when every output is kept, or when the graph has control flow', () => {
    const model = tinyModel();
    assert.equal(pruneOutputs(model, ['b', 'c', 'd']), model);
    const withIf = tinyModel([node('If', ['cond'], ['e'])]);
    assert.equal(pruneOutputs(withIf, ['b']), withIf);
  });

  it('names an output the graph lacks, and refuses bytes that are not a protobuf message', () => {
    assert.throws(() => pruneOutputs(tinyModel(), ['logits']), (err: unknown) => err instanceof BundleError && /no output "logits" \(it has b, c, d\)/.test((err as Error).message));
    assert.throws(() => pruneOutputs(Uint8Array.from([0x3a, 0xff, 0xff, 0xff]), ['b']), BundleError);
  });
});
