import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { convertLayersModel } from '../converter.js';
import { rowLengths } from '../parity.js';
import { assertExportParity, chain, initTf, seededInits, zeroBias } from '../test-helpers.js';

before(initTf);

const { rnn: init, next: nextSeed } = seededInits(100);

describe('embedding and masks', () => {
  const vocab = 11;
  const ids = { vocab, padRight: true };

  test('Embedding on int32 and float ids', async (t) => {
    for (const dtype of ['int32', 'float32'] as const) {
      const x = tf.input({ shape: [6], dtype, name: 'ids' });
      const y = tf.layers.embedding({ inputDim: vocab, outputDim: 4, embeddingsInitializer: tf.initializers.randomNormal({ seed: nextSeed() }) }).apply(x) as tf.SymbolicTensor;
      const model = tf.model({ inputs: x, outputs: y });
      if (dtype === 'int32') {
        await assertExportParity(t, model, { name: 'embedding-int', parity: { ids: { vocab } } });
      } else {
        // Float ids: parity feeds normal noise, so check the graph casts before gathering.
        const { model: ir } = convertLayersModel(model);
        assert.deepEqual(ir.graph.nodes.map((n) => n.opType), ['Cast', 'Gather']);
      }
    }
  });

  for (const cell of ['gru', 'lstm'] as const) {
    test(`masked ${cell} on right-padded ids: last state and sequences match tfjs`, async (t) => {
      const x = tf.input({ shape: [7], dtype: 'int32', name: 'tokens' });
      const e = tf.layers.embedding({ inputDim: vocab, outputDim: 3, maskZero: true, embeddingsInitializer: tf.initializers.randomNormal({ seed: nextSeed() }) }).apply(x);
      const rnn = (returnSequences: boolean) =>
        cell === 'gru' ? tf.layers.gru({ units: 4, returnSequences, ...init() }) : tf.layers.lstm({ units: 4, returnSequences, ...init() });
      const seqOut = rnn(true).apply(e) as tf.SymbolicTensor;
      const last = rnn(false).apply(seqOut) as tf.SymbolicTensor;
      const model = tf.model({ inputs: x, outputs: [seqOut, last] });
      const gates = cell === 'gru' ? 3 : 4;
      await assertExportParity(t, model, { name: `masked-${cell}`, parity: { ids }, params: model.countParams() + 2 * zeroBias(gates, 4) });
    });
  }

  test('masked Bidirectional GRU (concat) on right-padded ids', async (t) => {
    const model = chain(
      [6],
      tf.layers.embedding({ inputDim: vocab, outputDim: 3, maskZero: true, embeddingsInitializer: tf.initializers.randomNormal({ seed: nextSeed() }) }),
      tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3, ...init() }) as never }),
    );
    model.inputs[0]!.dtype = 'int32';
    await assertExportParity(t, model, { name: 'masked-bidir', parity: { ids }, params: model.countParams() + zeroBias(3, 3, 2) });
  });

  test('lengthsInput replaces counted lengths (text encoder interface)', async (t) => {
    const x = tf.input({ shape: [6], dtype: 'int32', name: 'tokens' });
    const e = tf.layers.embedding({ inputDim: vocab, outputDim: 3, maskZero: true }).apply(x);
    const h = tf.layers.gru({ units: 3, ...init() }).apply(e) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: h });
    const [first] = await assertExportParity(t, model, {
      name: 'lengths-input',
      convert: { inputNames: ['tokens'], lengthsInput: 'lengths' },
      parity: { ids, extraInputs: ([tokens]) => ({ lengths: rowLengths(tokens!) }) },
      params: model.countParams() + zeroBias(3, 3),
    });
    const r = first!.result;
    assert.deepEqual(r.inputs, [
      { name: 'tokens', dtype: 'int32', shape: ['batch', 6] },
      { name: 'lengths', dtype: 'int32', shape: ['batch'] },
    ]);
    assert.ok(!r.model.graph.nodes.some((n) => n.opType === 'ReduceSum'), 'lengths are not recounted');
  });
});
