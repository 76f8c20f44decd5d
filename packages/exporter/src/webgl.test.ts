import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { parseManifest, verifyFile } from '@vaekit/core';
import { WordTokenizer } from '@vaekit/core';
import { exportBundle } from './plans.js';
import { convertLayersModel } from './converter.js';
import { WEBGL_OPS } from './passes/profile.js';
import { decodeModel } from './serialize.js';
import { assertExportParity, buildTestTextVae, chain, initTf, runOnnxChecker, tempDir } from './test-helpers.js';

before(initTf);

let seed = 900;
const init = () => ({
  kernelInitializer: tf.initializers.glorotNormal({ seed: seed++ }),
  recurrentInitializer: tf.initializers.glorotNormal({ seed: seed++ }),
  biasInitializer: tf.initializers.randomNormal({ stddev: 0.5, seed: seed++ }),
});
const webgl = { profile: 'webgl' as const };

function assertWebglOps(opsets: Array<{ result: { model: { graph: { nodes: Array<{ opType: string }> } } } }>): void {
  for (const r of opsets) {
    const bad = r.result.model.graph.nodes.map((n) => n.opType).filter((op) => !WEBGL_OPS.has(op));
    assert.deepEqual([...new Set(bad)], [], 'only ops the WebGL backend implements');
  }
}

describe('webgl profile', () => {
  test('GRU / LSTM / SimpleRNN unrolled into primitives (sequences, states, initial state, goBackwards)', async (t) => {
    const x = tf.input({ shape: [4, 3], name: 'x' });
    const h0 = tf.input({ shape: [3], name: 'h0' });
    const g = tf.layers.gru({ units: 3, returnSequences: true, ...init() }).apply(x, { initialState: [h0] }) as tf.SymbolicTensor;
    const l = tf.layers.lstm({ units: 3, returnSequences: true, returnState: true, ...init() }).apply(g) as tf.SymbolicTensor[];
    const b = tf.layers.gru({ units: 2, goBackwards: true, returnSequences: true, activation: 'softsign', ...init() }).apply(l[0]!) as tf.SymbolicTensor;
    const s = tf.layers.simpleRNN({ units: 2, activation: 'relu', ...init() }).apply(b) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [x, h0], outputs: [l[1]!, l[2]!, b, s] });
    const out = await assertExportParity(t, model, { name: 'webgl-rnn', convert: webgl });
    assertWebglOps(out);
  });

  test('masked Bidirectional LSTM and masked sequences on right-padded ids, softplus and LayerNormalization', async (t) => {
    const model = chain(
      [6],
      tf.layers.embedding({ inputDim: 9, outputDim: 3, maskZero: true, embeddingsInitializer: tf.initializers.randomNormal({ seed: seed++ }) }),
      tf.layers.gru({ units: 3, returnSequences: true, ...init() }),
      tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 2, ...init() }) as never, mergeMode: 'concat' }),
      tf.layers.dense({ units: 4, activation: 'softplus', ...init() }),
      tf.layers.layerNormalization({}),
    );
    model.inputs[0]!.dtype = 'int32';
    const out = await assertExportParity(t, model, {
      name: 'webgl-masked',
      convert: { ...webgl, lengthsInput: 'lengths', inputNames: ['ids'] },
      parity: {
        ids: { vocab: 9, padRight: true },
        extraInputs: ([ids]) => {
          const [rows, steps] = ids!.shape as [number, number];
          const data = new Int32Array(rows);
          for (let r = 0; r < rows; r++) { let n = steps; while (n > 0 && ids!.data[r * steps + n - 1] === 0) n--; data[r] = n; }
          return { lengths: { dtype: 'int32', data, shape: [rows] } };
        },
      },
    });
    assertWebglOps(out);
  });

  test('ops WebGL lacks are lowered or refused with one clear error', () => {
    const dense = chain([3], tf.layers.dense({ units: 2, activation: 'hardSigmoid' }));
    const ops = convertLayersModel(dense, webgl).model.graph.nodes.map((n) => n.opType);
    assert.ok(!ops.includes('HardSigmoid') && ops.includes('Clip'), ops.join(' '));
    const gelu = chain([3], tf.layers.dense({ units: 2, activation: 'gelu' as never }));
    assert.throws(() => convertLayersModel(gelu, { ...webgl, opset: 17 }), /webgl profile cannot express this model: Erf \(node "[^"]+"\) is not supported by onnxruntime-web's WebGL backend/);
    const dyn = tf.sequential({ layers: [tf.layers.gru({ units: 2, inputShape: [null, 3] })] });
    assert.throws(() => convertLayersModel(dyn, webgl), /needs a static sequence length/);
  });

  for (const cell of ['gru', 'lstm'] as const) {
    test(`${cell} text bundle for WebGL: step graph without loops, primitives only, parity`, async (t) => {
      const { encoder, decoder } = buildTestTextVae({ cell, vocab: 15, embedding: 4, hidden: 5, latent: 3, steps: 6, seed: 7 });
      const tok = WordTokenizer.fromTokens(['<pad>', '<unk>', '<bos>', '<eos>', ...Array.from({ length: 11 }, (_, i) => `w${i}`)]);
      const dir = path.join(tempDir(), 'bundle');
      const r = await exportBundle({ kind: 'text', encoder, decoder, tokenizer: tok }, dir, { profile: 'webgl', parityRuntimes: ['node', 'wasm'] });
      assert.equal(r.manifest.profile, 'webgl');
      for (const [graph, report] of Object.entries(r.parity)) for (const [o, e] of Object.entries(report.maxAbsError)) assert.ok(e <= 1e-4, `${graph}.${o} ${e}`);
      for (const f of ['encoder.onnx', 'decoder_init.onnx', 'decoder_step.onnx']) {
        const s = decodeModel(new Uint8Array(await fs.readFile(path.join(dir, f))));
        const bad = Object.keys(s.opHistogram).filter((op) => !WEBGL_OPS.has(op));
        assert.deepEqual(bad, [], `${f}: ${bad.join(', ')}`);
        assert.ok(!s.inputs.some((i) => i.elemType === 'int64'));
        // WebGL reads symbolic dimensions as null and then refuses every input: 0 is its "any size".
        for (const v of [...s.inputs, ...s.outputs]) assert.ok(v.shape.every((d) => typeof d === 'number'), `${f} ${v.name}: ${JSON.stringify(v.shape)}`);
        assert.equal(s.inputs[0]!.shape[0], 0, `${f}: batch written as 0`);
      }
      assert.deepEqual(r.manifest.graphs.encoder.inputs[0]!.shape, ['batch', 6], 'unrolled encoder takes the training length; the manifest names the batch');
      await runOnnxChecker(t, ['encoder.onnx', 'decoder_init.onnx', 'decoder_step.onnx'].map((f) => path.join(dir, f)));
      encoder.dispose();
      decoder.dispose();
    });
  }

  test('webglVariant: one bundle with default graphs and fp32 webgl graphs under webgl/, all hashed', async () => {
    const { encoder, decoder } = buildTestTextVae({ cell: 'lstm', vocab: 15, embedding: 4, hidden: 5, latent: 3, steps: 6, seed: 8 });
    const tok = WordTokenizer.fromTokens(['<pad>', '<unk>', '<bos>', '<eos>', ...Array.from({ length: 11 }, (_, i) => `w${i}`)]);
    const dir = path.join(tempDir(), 'bundle');
    const r = await exportBundle({ kind: 'text', encoder, decoder, tokenizer: tok }, dir, { webglVariant: true, dtype: 'fp16' });
    const manifest = parseManifest(JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8')));
    assert.equal(manifest.profile, 'default');
    assert.equal(manifest.dtype, 'fp16');
    assert.equal(manifest.variants?.webgl?.profile, 'webgl');
    const graphs = manifest.variants!.webgl!.graphs as unknown as Record<string, { file: string }>;
    assert.deepEqual(Object.values(graphs).map((g) => g.file), ['webgl/encoder.onnx', 'webgl/decoder_init.onnx', 'webgl/decoder_step.onnx']);
    for (const file of Object.keys(manifest.files)) await verifyFile(manifest, file, new Uint8Array(await fs.readFile(path.join(dir, file))));
    assert.deepEqual(Object.keys(r.parity).sort(), ['decoder_init', 'decoder_step', 'encoder', 'webgl/decoder_init', 'webgl/decoder_step', 'webgl/encoder']);
    for (const [graph, report] of Object.entries(r.parity)) for (const [o, e] of Object.entries(report.maxAbsError)) assert.ok(e <= 1e-4, `${graph}.${o} ${e}`);
    for (const g of Object.values(graphs)) {
      const s = decodeModel(new Uint8Array(await fs.readFile(path.join(dir, g.file))));
      assert.deepEqual(Object.keys(s.opHistogram).filter((op) => !WEBGL_OPS.has(op)), [], g.file);
      assert.equal(s.inputs[0]!.shape[0], 0, `${g.file}: batch written as 0`);
      assert.ok(s.initializerBytes >= 4 * s.parameterCount, `${g.file}: fp32 weights (WebGL runs no fp16)`);
    }
    const main = decodeModel(new Uint8Array(await fs.readFile(path.join(dir, 'decoder_step.onnx'))));
    assert.ok(main.initializerBytes < 4 * main.parameterCount, 'default graphs are the fp16 ones');
    assert.equal(main.inputs[0]!.shape[0], 'batch', 'default graphs keep symbolic dimensions');
    assert.ok(main.opHistogram.TopK, 'default step graph has the decoding heads (the webgl one has none)');
    const encoderGraph = decodeModel(new Uint8Array(await fs.readFile(path.join(dir, 'encoder.onnx'))));
    assert.ok(encoderGraph.opHistogram.LSTM, 'default graphs keep the LSTM op');
    encoder.dispose();
    decoder.dispose();
  });

  test('webgl profile options that cannot give a working bundle are refused before anything is written', async () => {
    const { encoder, decoder } = buildTestTextVae({ cell: 'gru', vocab: 15, embedding: 4, hidden: 5, latent: 3, steps: 6, seed: 9 });
    const tok = WordTokenizer.fromTokens(['<pad>', '<unk>', '<bos>', '<eos>', ...Array.from({ length: 11 }, (_, i) => `w${i}`)]);
    const dir = path.join(tempDir(), 'never');
    await assert.rejects(exportBundle({ kind: 'text', encoder, decoder, tokenizer: tok }, dir, { profile: 'webgl', webglVariant: true }), /with the webgl profile the bundle's own graphs already are webgl graphs/);
    await assert.rejects(exportBundle({ kind: 'text', encoder, decoder, tokenizer: tok }, dir, { profile: 'webgl', dtype: 'int8' }), /dtype "int8" cannot be combined with the webgl profile/);
    await assert.rejects(fs.stat(dir), /ENOENT/);
    encoder.dispose();
    decoder.dispose();
  });
});
