import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { DEFAULT_OPSET, convertLayersModel, irVersionForOpset } from './converter.js';
import { ExportError, UnsupportedLayerError } from './errors.js';
import { decodeModel } from './serialize.js';
import { assertExportParity, buildTestImageVae, chain, initTf } from './test-helpers.js';

before(initTf);

describe('VAE graphs', () => {
  for (const arch of ['dense', 'conv'] as const) {
    test(`${arch} VAE encoder (two outputs) and decoder`, async (t) => {
      const { encoder, decoder } = buildTestImageVae({ arch, hidden: arch === 'dense' ? [32, 16] : [16], latent: 4, seed: 3 });
      const enc = await assertExportParity(t, encoder, {
        name: `${arch}-encoder`,
        convert: { inputNames: ['x'], outputNames: ['mu', 'logvar'] },
      });
      const dec = await assertExportParity(t, decoder, {
        name: `${arch}-decoder`,
        convert: { inputNames: ['z'], outputNames: ['logits'] },
      });
      const e = enc[0]!.result;
      assert.deepEqual(e.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 784] }]);
      assert.deepEqual(e.outputs, [
        { name: 'mu', dtype: 'float32', shape: ['batch', 4] },
        { name: 'logvar', dtype: 'float32', shape: ['batch', 4] },
      ]);
      assert.deepEqual(dec[0]!.result.outputs, [{ name: 'logits', dtype: 'float32', shape: ['batch', 784] }]);
      assert.deepEqual(Object.keys(enc[0]!.parity.maxAbsError), ['mu', 'logvar']);
      encoder.dispose();
      decoder.dispose();
    });
  }
});

describe('model graphs', () => {
  test('Sequential model', async (t) => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ units: 5, inputShape: [3], activation: 'tanh' }),
        tf.layers.dense({ units: 2, activation: 'softmax' }),
      ],
    });
    const [first] = await assertExportParity(t, model, { name: 'sequential' });
    assert.equal(first!.result.inputs.length, 1);
    assert.equal(first!.result.outputs.length, 1);
  });

  test('nested model, branches and an output that is also used inside the graph', async (t) => {
    const inner = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [6], activation: 'relu' })] });
    const x = tf.input({ shape: [6], name: 'inp' });
    const h = inner.apply(x) as tf.SymbolicTensor;
    const a = tf.layers.dense({ units: 3, name: 'a' }).apply(h) as tf.SymbolicTensor;
    const b = tf.layers.dense({ units: 2, name: 'b' }).apply(a) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: [a, b, h] });
    const [first] = await assertExportParity(t, model, { name: 'nested' });
    assert.deepEqual(
      first!.result.outputs.map((o) => o.name),
      model.outputNames,
      'graph outputs take the tfjs output layer names by default',
    );
  });

  test('two outputs that are the same ONNX tensor (Dropout is an identity)', async (t) => {
    const x = tf.input({ shape: [3], name: 'x' });
    const d = tf.layers.dense({ units: 2 }).apply(x) as tf.SymbolicTensor;
    const same = tf.layers.dropout({ rate: 0.2 }).apply(d) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: [d, same] });
    const [first] = await assertExportParity(t, model, {
      name: 'dup-outputs',
      convert: { outputNames: ['first', 'second'] },
    });
    assert.deepEqual(first!.result.outputs.map((o) => o.name), ['first', 'second']);
  });

  test('two inputs', async (t) => {
    const a = tf.input({ shape: [3], name: 'a' });
    const b = tf.input({ shape: [3], name: 'b' });
    const da = tf.layers.dense({ units: 2 }).apply(a) as tf.SymbolicTensor;
    const db = tf.layers.dense({ units: 2 }).apply(b) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: [da, db] });
    const [first] = await assertExportParity(t, model, { name: 'two-inputs' });
    assert.deepEqual(first!.result.inputs.map((i) => i.name), ['a', 'b']);
  });

  test('metadata, producer and doc string are written', () => {
    const r = convertLayersModel(chain([2], tf.layers.dense({ units: 1 })), {
      metadata: { 'vaekit.graph': 'test' },
      docString: 'hello',
    });
    const s = decodeModel(r.bytes);
    assert.equal(s.producerName, 'vaekit');
    assert.equal(s.docString, 'hello');
    assert.equal(s.metadata['vaekit.graph'], 'test');
    assert.match(s.metadata.producer ?? '', /^vaekit /);
    assert.equal(r.opset, DEFAULT_OPSET);
    assert.equal(r.irVersion, 8);
  });
});

describe('errors', () => {
  test('every unsupported layer is listed in one error, with the supported set', () => {
    // Layers the exporter has no handler for (yet): depthwise and separable convolutions, Conv3D.
    const x = tf.input({ shape: [4, 4, 3], name: 'x' });
    let h = tf.layers.depthwiseConv2d({ kernelSize: 3, name: 'my_dw' }).apply(x) as tf.SymbolicTensor;
    h = tf.layers.separableConv2d({ filters: 2, kernelSize: 1, name: 'my_sep' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.reshape({ targetShape: [2, 2, 1, 2] }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.conv3d({ filters: 1, kernelSize: 1, name: 'my_c3' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 2 }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: h });
    let caught: unknown;
    try {
      convertLayersModel(model);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof UnsupportedLayerError, String(caught));
    assert.ok(caught instanceof ExportError);
    assert.deepEqual(
      caught.layers.map((l) => [l.className, l.layerName]),
      [
        ['DepthwiseConv2D', 'my_dw'],
        ['SeparableConv2D', 'my_sep'],
        ['Conv3D', 'my_c3'],
      ],
    );
    assert.match(caught.message, /DepthwiseConv2D \(layer "my_dw"\)/);
    assert.match(caught.message, /SeparableConv2D \(layer "my_sep"\)/);
    assert.match(caught.message, /Conv3D \(layer "my_c3"\)/);
    assert.match(caught.message, /Supported layers: .*Conv2D.*Dense/);
    assert.ok(caught.supported.includes('Conv2DTranspose'));
  });

  test('opset out of range is rejected, naming the accepted range', () => {
    const model = chain([2], tf.layers.dense({ units: 1 }));
    for (const opset of [12, 22, 17.5, Number.NaN]) {
      assert.throws(
        () => convertLayersModel(model, { opset }),
        (err: unknown) => err instanceof ExportError && /from 13 to 21/.test(err.message) && err.userError,
      );
    }
  });

  test('opset -> IR version follows the ONNX versioning table', () => {
    const table = Object.fromEntries([13, 14, 15, 16, 17, 18, 19, 20, 21].map((o) => [o, irVersionForOpset(o)]));
    assert.deepEqual(table, { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 });
    for (const opset of [13, 16, 19, 21]) {
      assert.equal(decodeModel(convertLayersModel(chain([2], tf.layers.dense({ units: 1 })), { opset }).bytes).irVersion, irVersionForOpset(opset));
    }
  });

  test('input/output names must match the model and be distinct', () => {
    const model = chain([2], tf.layers.dense({ units: 1 }));
    assert.throws(() => convertLayersModel(model, { inputNames: ['a', 'b'] }), /inputNames has 2 names but the model has 1 inputs/);
    assert.throws(() => convertLayersModel(model, { inputNames: ['a'], outputNames: ['a'] }), /must be distinct/);
  });
});
